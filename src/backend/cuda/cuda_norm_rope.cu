// RMSNorm (whole rows, or each head of a row) and rotary position embedding.
#include "backend/cuda/act_quantize.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/rope_rotate.h"

namespace rf::gpu {
namespace {

constexpr int kMaxNormThreads = 512;

// Block (group g, chunk c) of row blockIdx.y, blockIdx.x = g * chunks + c: the sum of squares of
// the whole group of n values, then the chunk's n / chunks values normalized. The sum is taken in
// double, the mean rounded to f32 and the scale from sqrtf, as the CPU does, in the same order
// whatever the chunking, so that every block of a row gets the same scale. A thread's values are
// loaded eight at a time before they are summed, so that a row of a few thousand values costs a
// few memory latencies, not one per value; a single row is cut into chunks so that it is spread
// over several SMs (each chunk's block reads the row, from L2, for the sum).
// With R a Q8 rounding, the block also packs its chunk of `out` as a product's input
// (act_quantize.h), a group of 32 lanes per input block.
template <ActRounding R>
__global__ void __launch_bounds__(kMaxNormThreads) rms_norm_kernel(Mat x, int64_t n, int64_t chunks, const float* weight,
                                                                   float eps, Mat out, PackedInput packed,
                                                                   L2Prefetch prefetch) {
    gpu_kernel_prologue();
    prefetch_to_l2(prefetch);
    __shared__ double partial[kMaxNormThreads / 32];
    const int64_t group = blockIdx.x / chunks, len = n / chunks, c0 = blockIdx.x % chunks * len;
    const float* in = x.data + blockIdx.y * x.stride + group * n;
    float* dst = out.data + blockIdx.y * out.stride + group * n;
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
    __syncthreads();  // also: every read of the sum is done before a value is written (in place)
    double total = 0.0;
    for (int w = 0; w < threads / 32; ++w) total += partial[w];
    const float mean = static_cast<float>(total / static_cast<double>(n));
    const float scale = 1.0f / sqrtf(mean + eps);
    const auto normed = [&](int64_t i) { return in[i] * scale * (weight ? weight[i] : 1.0f); };
    if constexpr (R == ActRounding::None) {
        for (int64_t i = c0 + threadIdx.x; i < c0 + len; i += threads) dst[i] = normed(i);
    } else {
        constexpr int kBlock = kPackBlock<R>;
        const int lane = threadIdx.x % 32;
        for (int64_t b = c0 / kBlock + threadIdx.x / 32; b < (c0 + len) / kBlock; b += threads / 32) {
            float v[8];
            RF_UNROLL for (int j = 0; j < kBlock / 32; ++j) v[j] = normed(b * kBlock + lane + 32 * j);
            RF_UNROLL for (int j = 0; j < kBlock / 32; ++j) dst[b * kBlock + lane + 32 * j] = v[j];
            pack_block<R>(v, lane, packed, blockIdx.y, n, b);
        }
    }
}

// Thread (pair i, head blockIdx.y, token row blockIdx.z): one pair of one head.
__global__ void rope_kernel(Mat x, const int32_t* positions, RopeParams p) {
    gpu_kernel_prologue();
    const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x, h = blockIdx.y, t = blockIdx.z;
    if (i >= p.half) return;
    rope_rotate_pair(x.data + t * x.stride + h * p.head_dim, i, positions[t], p);
}

// Chunks per group of n values: a few rows are cut into chunks of 256 values (whole blocks of every
// packed format) to fill more SMs; many rows fill the card as they are, and a norm in place is not
// cut, since one block would overwrite values another still reads for its sum.
int64_t norm_chunks(const Mat& x, const Mat& out, int64_t n) {
    constexpr int64_t kChunk = 256, kFewRows = 32;
    const auto end = [](const Mat& m) { return m.data + (m.rows - 1) * m.stride + m.cols; };
    const bool overlap = x.data < end(out) && out.data < end(x);
    return x.rows <= kFewRows && !overlap && n % kChunk == 0 ? n / kChunk : 1;
}

}  // namespace

gpuError_t launch_rms_norm(gpuStream_t stream, Mat x, int64_t groups, int64_t n, const float* weight, float eps, Mat out) {
    if (x.rows == 0) return gpuSuccess;
    const int threads = n >= 2048 ? kMaxNormThreads : 128;
    const int64_t chunks = norm_chunks(x, out, n);
    const dim3 grid(static_cast<unsigned>(groups * chunks), static_cast<unsigned>(x.rows));
    gpu_launch(rms_norm_kernel<ActRounding::None>, grid, threads, 0, stream, x, n, chunks, weight, eps, out,
               PackedInput{}, L2Prefetch{});
    return gpuGetLastError();
}

gpuError_t launch_rms_norm_packed(gpuStream_t stream, Mat x, const float* weight, float eps, Mat out, int format, void* scratch,
                                  const L2Prefetch& prefetch) {
    if (x.rows == 0) return gpuSuccess;
    if (!packable_format(format, x.cols)) return gpuErrorInvalidValue;
    const int threads = x.cols >= 2048 ? kMaxNormThreads : 128;
    const int64_t chunks = norm_chunks(x, out, x.cols);
    const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(x.rows));
    const PackedInput packed = packed_input(scratch, x.rows, x.cols);
    if (static_cast<ActRounding>(format) == ActRounding::Q8_K)
        gpu_launch(rms_norm_kernel<ActRounding::Q8_K>, grid, threads, 0, stream, x, x.cols, chunks, weight, eps, out,
                   packed, prefetch);
    else
        gpu_launch(rms_norm_kernel<ActRounding::Q8_0>, grid, threads, 0, stream, x, x.cols, chunks, weight, eps, out,
                   packed, prefetch);
    return gpuGetLastError();
}

gpuError_t launch_rope(gpuStream_t stream, Mat x, const int32_t* positions, const RopeParams& p) {
    if (x.rows == 0) return gpuSuccess;
    const dim3 grid(static_cast<unsigned>((p.half + 63) / 64), static_cast<unsigned>(p.n_heads), static_cast<unsigned>(x.rows));
    gpu_launch(rope_kernel, grid, 64, 0, stream, x, positions, p);
    return gpuGetLastError();
}

}  // namespace rf::gpu
