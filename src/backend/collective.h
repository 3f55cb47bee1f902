// The one collective a tensor-parallel group needs: every rank's activation summed, in place, on
// every rank. Each rank of a group holds its own Collective (bound to its backend) and all ranks
// call all_reduce_sum in the same order with the same shapes. The CPU's is host_collective.h (ranks
// as threads of one process); a GPU's sums through NCCL.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace rf {

class Collective {
public:
    virtual ~Collective() = default;
    virtual int rank() const = 0;
    virtual int world() const = 0;
    // x = the sum over the ranks of their x, on every rank (x.stride == x.cols: one contiguous run).
    virtual Status all_reduce_sum(const Act& x) = 0;
    // Releases every rank waiting in all_reduce_sum with an error (a rank failed mid-step and will
    // not arrive); the group is unusable afterwards.
    virtual void abort() = 0;
};

// The ranks of one group: made together, each rank then takes its member.
class CollectiveGroup {
public:
    virtual ~CollectiveGroup() = default;
    virtual int world() const = 0;
    // Rank `rank`'s Collective (the group must outlive it).
    virtual std::unique_ptr<Collective> member(int rank) = 0;
};

}  // namespace rf
