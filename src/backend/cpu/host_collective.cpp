#include "backend/cpu/host_collective.h"

namespace rf {

class HostCollectiveMember final : public Collective {
public:
    HostCollectiveMember(HostCollectiveGroup& group, int rank) : group_(group), rank_(rank) {}
    Status all_reduce_sum(const Act& x) override { return group_.all_reduce_sum(rank_, x); }
    void abort() override { group_.abort(); }

private:
    HostCollectiveGroup& group_;
    int rank_;
};

HostCollectiveGroup::HostCollectiveGroup(int world) : world_(world), arrived_(static_cast<size_t>(world)) {}

std::unique_ptr<Collective> HostCollectiveGroup::member(int rank) {
    return std::make_unique<HostCollectiveMember>(*this, rank);
}

void HostCollectiveGroup::abort() {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    done_.notify_all();
}

Status HostCollectiveGroup::all_reduce_sum(int rank, const Act& x) {
    if (x.stride != x.cols) return make_error("all-reduce: rows of {} values {} apart are not contiguous", x.cols, x.stride);
    std::unique_lock lock(mutex_);
    if (aborted_) return group_aborted();
    if (n_arrived_ == 0) shape_ = {x.rows, x.cols};
    else if (shape_ != std::pair{x.rows, x.cols}) mismatch_ = true;
    arrived_[static_cast<size_t>(rank)] = x;
    const uint64_t round = round_;
    bool mismatch = false;
    if (++n_arrived_ == world_) {
        // Every other rank waits below, so their buffers are free to write.
        mismatch = mismatch_;
        if (!mismatch) {
            const auto n = static_cast<size_t>(x.rows * x.cols);
            for (size_t i = 0; i < n; ++i) {
                float sum = arrived_[0].data[i];
                for (int r = 1; r < world_; ++r) sum += arrived_[static_cast<size_t>(r)].data[i];
                for (int r = 0; r < world_; ++r) arrived_[static_cast<size_t>(r)].data[i] = sum;
            }
        }
        for (Act& a : arrived_) a = {};
        n_arrived_ = 0;
        last_mismatch_ = mismatch;
        mismatch_ = false;
        ++round_;
        done_.notify_all();
    } else {
        done_.wait(lock, [&] { return round_ != round || aborted_; });
        if (round_ == round) return group_aborted();
        mismatch = last_mismatch_;
    }
    if (mismatch) return make_error("all-reduce: the ranks' activations differ in shape");
    return ok_status();
}

}  // namespace rf
