#include "backend/cuda/device_info.h"
#include "backend/cuda/gpu_runtime.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

Error runtime_error(const char* what, gpuError_t err) {
    return make_error("GPU runtime: {} failed: {}", what, gpuGetErrorString(err));
}

}  // namespace

Result<RuntimeInfo> query_devices() {
    RuntimeInfo info;
    gpuDriverGetVersion(&info.driver_version);
    gpuRuntimeGetVersion(&info.runtime_version);
    int count = 0;
    if (gpuError_t err = gpuGetDeviceCount(&count); err != gpuSuccess) return runtime_error("device count", err);
    for (int i = 0; i < count; ++i) {
        gpuDeviceProp prop{};
        if (gpuError_t err = gpuGetDeviceProperties(&prop, i); err != gpuSuccess) return runtime_error("properties", err);
        DeviceInfo d;
        d.index = i;
        d.name = prop.name;
        d.compute_major = prop.major;
        d.compute_minor = prop.minor;
        d.multiprocessors = prop.multiProcessorCount;
        d.total_memory = prop.totalGlobalMem;
        d.l2_cache_bytes = static_cast<uint64_t>(prop.l2CacheSize);
        d.shared_memory_per_block_optin = prop.sharedMemPerBlockOptin;
        d.memory_bus_width_bits = prop.memoryBusWidth;
        d.warp_size = prop.warpSize;
        if (gpuSetDevice(i) == gpuSuccess) {
            size_t free_bytes = 0, total_bytes = 0;
            if (gpuMemGetInfo(&free_bytes, &total_bytes) == gpuSuccess) d.free_memory = free_bytes;
        }
        info.devices.push_back(std::move(d));
    }
    return info;
}

Status self_test(int device) {
    constexpr int n = 1000;
    if (gpuError_t err = gpuSetDevice(device); err != gpuSuccess) return runtime_error("set device", err);
    int* buffer = nullptr;
    if (gpuError_t err = gpuMalloc(&buffer, n * sizeof(int)); err != gpuSuccess) return runtime_error("malloc", err);
    gpuError_t err = launch_self_test(buffer, n);
    int host[n] = {};
    if (err == gpuSuccess) err = gpuMemcpy(host, buffer, sizeof(host), gpuMemcpyDeviceToHost);
    gpuFree(buffer);
    if (err != gpuSuccess) return runtime_error("self-test kernel", err);
    for (int i = 0; i < n; ++i) {
        if (host[i] != i * 3 + 1) return make_error("GPU self-test: element {} is {}, expected {}", i, host[i], i * 3 + 1);
    }
    return ok_status();
}

}  // namespace rf::gpu
