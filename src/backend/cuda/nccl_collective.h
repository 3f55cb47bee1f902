// The collective of a tensor-parallel group of CUDA backends, one GPU each: NCCL communicators
// made together in this process (ncclCommInitAll), each rank's sum enqueued on its backend's
// stream. Plain C++, like cuda_backend.h.
#pragma once

#include <memory>
#include <span>

#include "backend/collective.h"

namespace rf::gpu {

// An Error when NCCL cannot be opened, a backend is not a CUDA backend, two ranks share a GPU, or
// the communicators cannot be made. Sets NCCL_NVLS_ENABLE=0 (NVLink multicast off) unless the
// environment says otherwise.
Result<std::unique_ptr<CollectiveGroup>> create_nccl_group(std::span<Backend* const> ranks);

}  // namespace rf::gpu
