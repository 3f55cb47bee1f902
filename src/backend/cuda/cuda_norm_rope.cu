// RMSNorm (whole rows, or each head of a row) and rotary position embedding.
#include "backend/cuda/act_quantize.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/rope_rotate.h"

namespace rf::gpu {
namespace {

constexpr int kMaxNormThreads = 512;

// One block normalizes one group of n values: group blockIdx.x of row blockIdx.y. The sum of
// squares is taken in double, the mean rounded to f32 and the scale from sqrtf, as the CPU does.
// A thread's values are loaded eight at a time before they are summed, so that a row of a few
// thousand values costs a few memory latencies, not one per value.
// With R a Q8 rounding, the block then also packs its row of `out` as a product's input
// (act_quantize.h), a group of 32 lanes per input block, reading back what its threads wrote.
template <ActRounding R>
__global__ void __launch_bounds__(kMaxNormThreads) rms_norm_kernel(Mat x, int64_t n, const float* weight, float eps, Mat out,
                                                                   PackedInput packed) {
    __shared__ double partial[kMaxNormThreads / 32];
    const float* in = x.data + blockIdx.y * x.stride + blockIdx.x * n;
    float* dst = out.data + blockIdx.y * out.stride + blockIdx.x * n;
    const int threads = static_cast<int>(blockDim.x);
    double sum = 0.0;
    for (int64_t i0 = threadIdx.x; i0 < n; i0 += 8 * int64_t{threads}) {
        float v[8];
#pragma unroll
        for (int k = 0; k < 8; ++k) v[k] = i0 + k * threads < n ? in[i0 + k * threads] : 0.0f;
#pragma unroll
        for (int k = 0; k < 8; ++k) sum += static_cast<double>(v[k]) * v[k];
    }
    for (int offset = 16; offset > 0; offset >>= 1) sum += gpu_shfl_xor(sum, offset);
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = sum;
    __syncthreads();
    double total = 0.0;
    for (int w = 0; w < threads / 32; ++w) total += partial[w];
    const float mean = static_cast<float>(total / static_cast<double>(n));
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = threadIdx.x; i < n; i += threads) dst[i] = in[i] * scale * (weight ? weight[i] : 1.0f);
    if constexpr (R != ActRounding::None) {
        constexpr int kBlock = kPackBlock<R>;
        __syncthreads();  // the row's values, written by every thread, are visible to the block
        const int lane = threadIdx.x % 32;
        for (int64_t b = threadIdx.x / 32; b < n / kBlock; b += threads / 32) {
            float v[8];
            RF_UNROLL for (int j = 0; j < kBlock / 32; ++j) v[j] = dst[b * kBlock + lane + 32 * j];
            pack_block<R>(v, lane, packed, blockIdx.y, n, b);
        }
    }
}

// Thread (pair i, head blockIdx.y, token row blockIdx.z): one pair of one head.
__global__ void rope_kernel(Mat x, const int32_t* positions, RopeParams p) {
    const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x, h = blockIdx.y, t = blockIdx.z;
    if (i >= p.half) return;
    rope_rotate_pair(x.data + t * x.stride + h * p.head_dim, i, positions[t], p);
}

}  // namespace

gpuError_t launch_rms_norm(gpuStream_t stream, Mat x, int64_t groups, int64_t n, const float* weight, float eps, Mat out) {
    if (x.rows == 0) return gpuSuccess;
    const int threads = n >= 2048 ? kMaxNormThreads : 128;
    rms_norm_kernel<ActRounding::None><<<dim3(static_cast<unsigned>(groups), static_cast<unsigned>(x.rows)), threads, 0, stream>>>(
        x, n, weight, eps, out, PackedInput{});
    return gpuGetLastError();
}

gpuError_t launch_rms_norm_packed(gpuStream_t stream, Mat x, const float* weight, float eps, Mat out, int format, void* scratch) {
    if (x.rows == 0) return gpuSuccess;
    if (!packable_format(format, x.cols)) return gpuErrorInvalidValue;
    const int threads = x.cols >= 2048 ? kMaxNormThreads : 128;
    const dim3 grid(1, static_cast<unsigned>(x.rows));
    const PackedInput packed = packed_input(scratch, x.rows, x.cols);
    if (static_cast<ActRounding>(format) == ActRounding::Q8_K)
        rms_norm_kernel<ActRounding::Q8_K><<<grid, threads, 0, stream>>>(x, x.cols, weight, eps, out, packed);
    else
        rms_norm_kernel<ActRounding::Q8_0><<<grid, threads, 0, stream>>>(x, x.cols, weight, eps, out, packed);
    return gpuGetLastError();
}

gpuError_t launch_rope(gpuStream_t stream, Mat x, const int32_t* positions, const RopeParams& p) {
    if (x.rows == 0) return gpuSuccess;
    const dim3 grid(static_cast<unsigned>((p.half + 63) / 64), static_cast<unsigned>(p.n_heads), static_cast<unsigned>(x.rows));
    rope_kernel<<<grid, 64, 0, stream>>>(x, positions, p);
    return gpuGetLastError();
}

}  // namespace rf::gpu
