#include "backend/backend_factory.h"

#include <algorithm>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/host_collective.h"
#include "backend/instrumented_backend.h"
#if defined(ROCMFORGE_HAVE_CUDA)
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/nccl_collective.h"
#endif

namespace rf {

Result<DeviceKind> parse_device_kind(std::string_view text) {
    if (text == "cpu") return DeviceKind::Cpu;
    if (text == "cuda" || text == "gpu") return DeviceKind::Cuda;
    if (text == "auto") return DeviceKind::Auto;
    return make_error("unknown device '{}' (expected cpu, cuda or auto)", text);
}

std::string_view device_kind_name(DeviceKind kind) {
    switch (kind) {
        case DeviceKind::Cpu: return "cpu";
        case DeviceKind::Cuda: return "cuda";
        case DeviceKind::Auto: return "auto";
    }
    return "?";
}

bool cuda_compiled() {
#if defined(ROCMFORGE_HAVE_CUDA)
    return true;
#else
    return false;
#endif
}

namespace {

Result<std::unique_ptr<Backend>> create_gpu(const BackendOptions& o) {
#if defined(ROCMFORGE_HAVE_CUDA)
    return gpu::create_cuda_backend(o.gpu_index, o.batch_invariant);
#else
    (void)o;
    return make_error("no GPU support in this build (it was compiled without CUDA)");
#endif
}

std::unique_ptr<Backend> create_cpu(const BackendOptions& o) {
    return std::make_unique<cpu::CpuBackend>(cpu::CpuBackendOptions{.threads = o.threads, .repack = o.repack});
}

}  // namespace

Result<CreatedBackend> create_backend(const BackendOptions& o) {
    if (o.device == DeviceKind::Cpu) return CreatedBackend{create_cpu(o), {}};
    auto gpu = create_gpu(o);
    if (gpu) return CreatedBackend{std::move(*gpu), {}};
    if (o.device == DeviceKind::Cuda) return gpu.error();
    return CreatedBackend{create_cpu(o), "no usable GPU (" + gpu.error().message + "): running on the CPU"};
}

Result<std::unique_ptr<CollectiveGroup>> create_collective_group(std::span<Backend* const> wrapped) {
    if (wrapped.empty()) return make_error("tensor parallel: a group of no ranks");
    // The sums go to the computing backends themselves (the CLI wraps each in an InstrumentedBackend).
    std::vector<Backend*> ranks;
    for (Backend* b : wrapped) {
        auto* instrumented = dynamic_cast<InstrumentedBackend*>(b);
        ranks.push_back(instrumented ? &instrumented->inner() : b);
    }
    const auto on_cpu = [](const Backend* b) { return b->name() == "cpu"; };
    if (std::all_of(ranks.begin(), ranks.end(), on_cpu))
        return std::unique_ptr<CollectiveGroup>(std::make_unique<HostCollectiveGroup>(static_cast<int>(ranks.size())));
#if defined(ROCMFORGE_HAVE_CUDA)
    if (std::none_of(ranks.begin(), ranks.end(), on_cpu)) return gpu::create_nccl_group(ranks);
#endif
    return make_error("tensor parallel: the ranks must be all CPUs or all CUDA GPUs{}",
                      cuda_compiled() ? "" : " (this build has no CUDA)");
}

}  // namespace rf
