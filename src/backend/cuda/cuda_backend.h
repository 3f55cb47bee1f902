// The CUDA backend's entry point, in plain C++ so that callers need no GPU headers.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace rf::gpu {

// A backend computing on GPU `device`; an Error when there is no such usable device. A
// batch-invariant backend gives every sequence the same results whatever else is in its step
// (slower prompts: no BLAS products; slower long-context decoding: one attention split).
Result<std::unique_ptr<Backend>> create_cuda_backend(int device, bool batch_invariant = false);

}  // namespace rf::gpu
