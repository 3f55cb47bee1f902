// Mixture-of-experts kernels: routing (softmax and top-k per token) and the weighted sum of the
// experts' outputs (their products are cuda_matmul.cu's, each row picking its matrix of the
// stack). Ids and weights stay in device memory; the host never reads them.
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

// Thread t routes token t, the way the CPU does: f32 exponentials summed in double; ties keep the lower expert id first.
__global__ void route_kernel(const float* logits, int64_t stride, int64_t n_tokens, int64_t n_experts, int64_t k,
                             bool normalize, int32_t* ids, float* weights) {
    gpu_kernel_prologue();
    const int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
    if (t >= n_tokens) return;
    const float* row = logits + t * stride;
    float max = row[0];
    for (int64_t e = 1; e < n_experts; ++e) max = fmaxf(max, row[e]);
    double sum = 0.0;
    for (int64_t e = 0; e < n_experts; ++e) sum += static_cast<double>(expf(row[e] - max));
    int32_t* chosen = ids + t * k;
    float* w = weights + t * k;
    float total = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
        int32_t best = -1;
        for (int32_t e = 0; e < n_experts; ++e) {
            bool taken = false;
            for (int64_t i = 0; i < j; ++i) taken |= chosen[i] == e;
            if (!taken && (best < 0 || row[e] > row[best])) best = e;
        }
        chosen[j] = best;
        w[j] = static_cast<float>(static_cast<double>(expf(row[best] - max)) / sum);
        total += w[j];
    }
    if (normalize)
        for (int64_t j = 0; j < k; ++j) w[j] /= total;
}

__global__ void combine_kernel(const float* x, int64_t x_stride, const float* weights, int64_t k, int64_t cols,
                               float* out, int64_t out_stride) {
    gpu_kernel_prologue();
    const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x, t = blockIdx.y;
    if (c >= cols) return;
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) sum += weights[t * k + j] * x[(t * k + j) * x_stride + c];
    out[t * out_stride + c] = sum;
}

}  // namespace

gpuError_t launch_route(gpuStream_t stream, Mat logits, int64_t k, bool normalize, int32_t* ids, float* weights) {
    if (logits.rows == 0) return gpuSuccess;
    gpu_launch(route_kernel, static_cast<unsigned>((logits.rows + 63) / 64), 64, 0, stream, logits.data, logits.stride,
               logits.rows, logits.cols, k, normalize, ids, weights);
    return gpuGetLastError();
}

gpuError_t launch_combine(gpuStream_t stream, Mat x, const float* weights, int64_t k, Mat out) {
    if (out.rows == 0) return gpuSuccess;
    const dim3 grid(static_cast<unsigned>((out.cols + 255) / 256), static_cast<unsigned>(out.rows));
    gpu_launch(combine_kernel, grid, 256, 0, stream, x.data, x.stride, weights, k, out.cols, out.data, out.stride);
    return gpuGetLastError();
}

}  // namespace rf::gpu
