#include "backend/cuda/nccl_collective.h"

#include <cstdlib>
#include <set>
#include <shared_mutex>
#include <vector>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/nccl_library.h"

namespace rf::gpu {

namespace {

class NcclGroup;

class NcclMember final : public Collective {
public:
    NcclMember(NcclGroup& group, int rank) : group_(group), rank_(rank) {}
    Status all_reduce_sum(const Act& x) override;
    void abort() override;

private:
    NcclGroup& group_;
    int rank_;
};

class NcclGroup final : public CollectiveGroup {
public:
    NcclGroup(const NcclLibrary& nccl, std::vector<CudaBackend*> backends, std::vector<ncclComm_t> comms)
        : nccl_(nccl), backends_(std::move(backends)), comms_(std::move(comms)) {}
    ~NcclGroup() override {
        if (!aborted_)
            for (ncclComm_t comm : comms_) nccl_.comm_destroy(comm);
    }
    int world() const override { return static_cast<int>(comms_.size()); }
    std::unique_ptr<Collective> member(int rank) override { return std::make_unique<NcclMember>(*this, rank); }

    // Ranks enqueue their sums at once (each on its own communicator); an abort waits until none
    // is inside NCCL, so that no rank enqueues on a communicator being freed.
    Status all_reduce_sum(int rank, const Act& x) {
        std::shared_lock lock(mutex_);
        if (aborted_) return group_aborted();
        const auto r = static_cast<size_t>(rank);
        return backends_[r]->all_reduce_sum(nccl_, comms_[r], x);
    }
    // NCCL's abort stops the sums already enqueued, which wait on the GPU for a rank that will not
    // come (their ranks' next wait then ends, with whatever the sums hold: the step fails through
    // the rank that aborted), and frees the communicators.
    void abort() {
        std::unique_lock lock(mutex_);
        if (aborted_) return;
        aborted_ = true;
        for (ncclComm_t comm : comms_) nccl_.comm_abort(comm);
    }

private:
    const NcclLibrary& nccl_;
    std::vector<CudaBackend*> backends_;
    std::vector<ncclComm_t> comms_;
    std::shared_mutex mutex_;
    bool aborted_ = false;
};

Status NcclMember::all_reduce_sum(const Act& x) { return group_.all_reduce_sum(rank_, x); }
void NcclMember::abort() { group_.abort(); }

}  // namespace

Result<std::unique_ptr<CollectiveGroup>> create_nccl_group(std::span<Backend* const> ranks) {
    if (ranks.empty()) return make_error("tensor parallel: a group of no GPUs");
    std::vector<CudaBackend*> backends;
    std::vector<int> devices;
    for (Backend* b : ranks) {
        auto* cuda = dynamic_cast<CudaBackend*>(b);
        if (!cuda) return make_error("tensor parallel: rank {} computes on {}, not a CUDA GPU", backends.size(), b->name());
        backends.push_back(cuda);
        devices.push_back(cuda->device());
    }
    if (std::set<int>(devices.begin(), devices.end()).size() != devices.size())
        return make_error("tensor parallel: two ranks on one GPU");
    RF_ASSIGN_OR_RETURN(const NcclLibrary* nccl, NcclLibrary::open());
    // NVLink multicast off, as the tensor-parallel issue asks (the machines it runs on require it);
    // a setting of the user's own wins. (Loading is single-threaded: setenv is safe here.)
    setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
    std::vector<ncclComm_t> comms(ranks.size(), nullptr);
    RF_TRY(nccl->check(nccl->comm_init_all(comms.data(), static_cast<int>(comms.size()), devices.data()),
                       "making the NCCL communicators"));
    return std::unique_ptr<CollectiveGroup>(std::make_unique<NcclGroup>(*nccl, std::move(backends), std::move(comms)));
}

}  // namespace rf::gpu
