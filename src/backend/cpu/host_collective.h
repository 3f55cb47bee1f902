// A Collective for ranks that are threads of this process computing in host memory (CPU
// backends): the tensor-parallel code path run, and tested, without GPUs. The last rank to arrive
// adds every rank's x in rank order and writes the sum to all of them, so every rank holds the
// same bits whatever the threads' timing.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "backend/collective.h"

namespace rf {

class HostCollectiveGroup final : public CollectiveGroup {
public:
    explicit HostCollectiveGroup(int world);
    int world() const override { return world_; }
    std::unique_ptr<Collective> member(int rank) override;

private:
    friend class HostCollectiveMember;
    Status all_reduce_sum(int rank, const Act& x);
    void abort();

    const int world_;
    std::mutex mutex_;
    std::condition_variable done_;
    std::vector<Act> arrived_;  // this round's x of each rank (data null: not arrived yet)
    int n_arrived_ = 0;
    uint64_t round_ = 0;
    std::pair<int64_t, int64_t> shape_;  // rows and columns of this round's first arrival
    bool mismatch_ = false;              // this round's shapes differ between ranks
    bool last_mismatch_ = false;         // the finished round's did
    bool aborted_ = false;
};

}  // namespace rf
