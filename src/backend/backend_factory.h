// Creates the backend a command asked for: `--device cpu|cuda|auto`. Auto takes the first GPU
// when this build has CUDA and a usable device, else the CPU (and says why in `note`).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "backend/backend.h"
#include "backend/collective.h"

namespace rf {

enum class DeviceKind { Cpu, Cuda, Auto };

Result<DeviceKind> parse_device_kind(std::string_view text);  // "cpu", "cuda" (or "gpu"), "auto"
std::string_view device_kind_name(DeviceKind kind);

struct BackendOptions {
    DeviceKind device = DeviceKind::Cpu;
    int gpu_index = 0;
    int threads = 0;     // CPU: 0 is one per core
    bool repack = true;  // CPU: interleave writable weights for the kernels
    // GPU: a sequence's results never depend on the rest of its batch (the CPU's always are);
    // costs prompt speed. Tests that compare batched runs with lone runs ask for it.
    bool batch_invariant = false;
};

struct CreatedBackend {
    std::unique_ptr<Backend> backend;
    std::string note;  // why auto fell back to the CPU; empty otherwise
};

Result<CreatedBackend> create_backend(const BackendOptions& options);

// The collective a tensor-parallel group of `ranks` (one backend each, rank r at ranks[r]) sums
// with: NCCL over CUDA backends, one GPU each; host memory over CPU backends (ranks as threads).
Result<std::unique_ptr<CollectiveGroup>> create_collective_group(std::span<Backend* const> ranks);

// Whether this binary was built with the CUDA backend.
bool cuda_compiled();

}  // namespace rf
