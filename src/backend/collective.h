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
    // x = the sum over the ranks of their x, on every rank (x.stride == x.cols: one contiguous run).
    virtual Status all_reduce_sum(const Act& x) = 0;
    // A rank failed mid-step and will not arrive: releases the others from the sums they wait in
    // (the host's return an error; NCCL's, enqueued already, end on the GPU with whatever they
    // hold, and their ranks' next wait goes on). The step fails through the rank that aborted;
    // the group is unusable afterwards.
    virtual void abort() = 0;
};

// What a sum of an aborted group returns: the group is unusable, as a lost device is.
inline Error group_aborted() {
    Error e = make_error("all-reduce: the tensor-parallel group was aborted");
    e.device_lost = true;
    return e;
}

// The ranks of one group: made together, each rank then takes its member.
class CollectiveGroup {
public:
    virtual ~CollectiveGroup() = default;
    virtual int world() const = 0;
    // Rank `rank`'s Collective (the group must outlive it).
    virtual std::unique_ptr<Collective> member(int rank) = 0;
};

}  // namespace rf
