// Element-wise and row-wise kernels: additions, scaling, soft-capping, gated activations, softmax
// and row gathering. Each covers a (rows x cols) view with a grid of (column chunks, rows), so
// strided views (the columns of a fused projection) cost nothing extra.
#include <algorithm>

#include "backend/cuda/act_quantize.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float& at(const Mat& m, int64_t r, int64_t c) { return m.data[r * m.stride + c]; }

// GELU (tanh form) on the input rounded to f16, result rounded to f16, saturating outside
// [-10, 10]: the reference implementation reads it from a table built that way.
__device__ float gelu_tanh_f16(float v) {
    if (v <= -10.0f) return 0.0f;
    if (v >= 10.0f) return v;
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    const float x = __half2float(__float2half_rn(v));
    return __half2float(__float2half_rn(0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x)))));
}

// act(gate) * up for the gated activations.
template <MapOp Op>
__device__ float gated(float gate, float up) {
    if constexpr (Op == MapOp::Silu) return gate / (1.0f + expf(-gate)) * up;
    else return gelu_tanh_f16(gate) * up;
}

template <MapOp Op>
__device__ float apply(float a, const Mat& b, int64_t r, int64_t c, float s) {
    if constexpr (Op == MapOp::Add) return a + at(b, r, c);
    if constexpr (Op == MapOp::AddBias) return a + b.data[c];
    if constexpr (Op == MapOp::Scale) return a * s;
    if constexpr (Op == MapOp::Softcap) return s * tanhf(a / s);
    if constexpr (Op == MapOp::Silu || Op == MapOp::GeluTanh) return gated<Op>(a, at(b, r, c));
    return a;
}

template <MapOp Op>
__global__ void map_kernel(Mat a, Mat b, float s, Mat out) {
    gpu_kernel_prologue();
    const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
    if (c >= out.cols) return;
    for (int64_t r = blockIdx.y; r < out.rows; r += gridDim.y) at(out, r, c) = apply<Op>(at(a, r, c), b, r, c, s);
}

// A gated activation that also packs its output as the next product's input: group g of 32
// lanes takes input block g (act_quantize.h), computing its values as map_kernel does.
template <MapOp Op, ActRounding R>
__global__ void gated_packed_kernel(Mat gate, Mat up, Mat out, int64_t n_blocks, PackedInput packed, L2Prefetch prefetch) {
    gpu_kernel_prologue();
    prefetch_to_l2(prefetch);
    constexpr int kBlock = kPackBlock<R>;
    const int64_t g = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
    if (g >= n_blocks) return;  // whole groups leave together
    const int lane = threadIdx.x % 32;
    const int64_t per_row = out.cols / kBlock, r = g / per_row, b = g % per_row;
    // Every load is issued before the first store: the compiler may not move a load past a store
    // to memory it cannot prove apart, and eight memory round trips in turn were most of the
    // 7.9 us this kernel took per decode layer on an H100.
    float g_in[8], u_in[8], v[8];
    RF_UNROLL for (int j = 0; j < kBlock / 32; ++j) {
        const int64_t c = b * kBlock + lane + 32 * j;
        g_in[j] = at(gate, r, c);
        u_in[j] = at(up, r, c);
    }
    RF_UNROLL for (int j = 0; j < kBlock / 32; ++j) {
        v[j] = gated<Op>(g_in[j], u_in[j]);
        at(out, r, b * kBlock + lane + 32 * j) = v[j];
    }
    pack_block<R>(v, lane, packed, r, out.cols, b);
}

// The CPU's softmax: f32 exponentials summed in double, then scaled by float(1 / sum).
__global__ void softmax_kernel(Mat x) {
    gpu_kernel_prologue();
    __shared__ float partial_max[kThreads / 32];
    __shared__ double partial_sum[kThreads / 32];
    float* row = x.data + blockIdx.x * x.stride;
    float max = -INFINITY;
    for (int64_t i = threadIdx.x; i < x.cols; i += blockDim.x) max = fmaxf(max, row[i]);
    max = group_max(max);
    if (threadIdx.x % 32 == 0) partial_max[threadIdx.x / 32] = max;
    __syncthreads();
    max = partial_max[0];
    for (int w = 1; w < kThreads / 32; ++w) max = fmaxf(max, partial_max[w]);
    double sum = 0.0;
    for (int64_t i = threadIdx.x; i < x.cols; i += blockDim.x) sum += (row[i] = expf(row[i] - max));
    for (int offset = 16; offset > 0; offset >>= 1) sum += gpu_shfl_xor(sum, offset);
    if (threadIdx.x % 32 == 0) partial_sum[threadIdx.x / 32] = sum;
    __syncthreads();
    sum = 0.0;
    for (int w = 0; w < kThreads / 32; ++w) sum += partial_sum[w];
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = threadIdx.x; i < x.cols; i += blockDim.x) row[i] *= inv;
}

__global__ void gather_kernel(Mat x, const int32_t* rows, Mat out, int* fault) {
    gpu_kernel_prologue();
    const int32_t src = rows[blockIdx.y];
    const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
    if (src < 0 || src >= x.rows) {
        if (c == 0) atomicCAS(fault, kFaultNone, kFaultRow);
        return;
    }
    if (c < out.cols) at(out, blockIdx.y, c) = at(x, src, c);
}

dim3 grid_for(const Mat& m) {
    return dim3(static_cast<unsigned>((m.cols + kThreads - 1) / kThreads),
                static_cast<unsigned>(std::min<int64_t>(m.rows, kMaxGridRows)));
}

}  // namespace

gpuError_t launch_map(gpuStream_t stream, MapOp op, Mat a, Mat b, float s, Mat out) {
    if (out.rows == 0 || out.cols == 0) return gpuSuccess;
    const dim3 grid = grid_for(out);
    switch (op) {
        case MapOp::Add: gpu_launch(map_kernel<MapOp::Add>, grid, kThreads, 0, stream, a, b, s, out); break;
        case MapOp::AddBias: gpu_launch(map_kernel<MapOp::AddBias>, grid, kThreads, 0, stream, a, b, s, out); break;
        case MapOp::Scale: gpu_launch(map_kernel<MapOp::Scale>, grid, kThreads, 0, stream, a, b, s, out); break;
        case MapOp::Softcap: gpu_launch(map_kernel<MapOp::Softcap>, grid, kThreads, 0, stream, a, b, s, out); break;
        case MapOp::Silu: gpu_launch(map_kernel<MapOp::Silu>, grid, kThreads, 0, stream, a, b, s, out); break;
        case MapOp::GeluTanh: gpu_launch(map_kernel<MapOp::GeluTanh>, grid, kThreads, 0, stream, a, b, s, out); break;
    }
    return gpuGetLastError();
}

gpuError_t launch_gated_packed(gpuStream_t stream, MapOp op, Mat gate, Mat up, Mat out, int format, void* scratch,
                               const L2Prefetch& prefetch) {
    if (out.rows == 0) return gpuSuccess;
    if ((op != MapOp::Silu && op != MapOp::GeluTanh) || !packable_format(format, out.cols)) return gpuErrorInvalidValue;
    const auto rounding = static_cast<ActRounding>(format);
    const int64_t n_blocks = out.rows * out.cols / (rounding == ActRounding::Q8_K ? 256 : 32);
    const auto grid = static_cast<unsigned>((n_blocks + 7) / 8);  // 8 groups of 32 lanes per CUDA block
    const PackedInput packed = packed_input(scratch, out.rows, out.cols);
    const auto launch = [&]<MapOp Op>() {
        if (rounding == ActRounding::Q8_K)
            gpu_launch(gated_packed_kernel<Op, ActRounding::Q8_K>, grid, 256, 0, stream, gate, up, out, n_blocks, packed,
                       prefetch);
        else
            gpu_launch(gated_packed_kernel<Op, ActRounding::Q8_0>, grid, 256, 0, stream, gate, up, out, n_blocks, packed,
                       prefetch);
    };
    if (op == MapOp::Silu) launch.template operator()<MapOp::Silu>();
    else launch.template operator()<MapOp::GeluTanh>();
    return gpuGetLastError();
}

gpuError_t launch_softmax(gpuStream_t stream, Mat x) {
    if (x.rows == 0 || x.cols == 0) return gpuSuccess;
    gpu_launch(softmax_kernel, static_cast<unsigned>(x.rows), kThreads, 0, stream, x);
    return gpuGetLastError();
}

gpuError_t launch_gather(gpuStream_t stream, Mat x, const int32_t* rows, Mat out, int* fault) {
    if (out.rows == 0) return gpuSuccess;
    gpu_launch(gather_kernel, grid_for(out), kThreads, 0, stream, x, rows, out, fault);
    return gpuGetLastError();
}

}  // namespace rf::gpu
