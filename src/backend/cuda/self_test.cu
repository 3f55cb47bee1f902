// The self-test kernel of `rocmforge devices --self-test`: proves the build's code runs on the card.
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

__global__ void fill_iota(int* out, int n) {
    gpu_kernel_prologue();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = i * 3 + 1;
}

}  // namespace

gpuError_t launch_self_test(int* out, int n) {
    gpu_launch(fill_iota, static_cast<unsigned>((n + 255) / 256), 256, 0, gpuStream_t{}, out, n);
    return gpuGetLastError();
}

}  // namespace rf::gpu
