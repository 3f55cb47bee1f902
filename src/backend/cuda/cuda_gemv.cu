// Products for generation: few tokens (one per sequence), where a product is one pass over the
// weights and its speed is the memory bandwidth. Two launches:
//  1. The activations are quantized once per product as the CPU rounds them (act_rounding.h):
//     int8 levels and a scale per block (Q8_0 for 32-value weight blocks, Q8_K for 256), or the
//     values rounded to F16/BF16 for 16-bit weights; a group of 32 lanes per block.
//  2. Each group of 32 lanes takes one weight row; its lanes read the row's blocks slice by slice
//     side by side (block_dot.h), each slice once for up to Tile activation rows, several slices
//     in flight per lane, and sum across the group.
// A token's result is summed in the same order whatever Tile and however many tokens share the
// launch, so a sequence's output does not depend on the rest of its batch.
#include <algorithm>
#include <type_traits>

#include "backend/cuda/act_rounding.h"
#include "backend/cuda/block_dot.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

constexpr int kThreads = 128;
constexpr int kGroups = kThreads / 32;

// ---- activation quantization ---------------------------------------------------------------------

// Where a launch keeps the quantized activations in its scratch: the levels (or 16-bit values) of
// all rows, then one scale per block.
struct Packed {
    void* values;
    float* scales;
};

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

Packed packed_in(void* scratch, int64_t rows, int64_t cols) {
    return {scratch, reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + align16(static_cast<size_t>(rows * cols)))};
}

// Q8_0: group g of 32 lanes takes block g, a value per lane.
__global__ void quantize_q8_0_kernel(Mat x, int64_t n_blocks, int8_t* q, float* scales) {
    const int64_t b = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
    if (b >= n_blocks) return;  // whole groups leave together
    const int lane = threadIdx.x % 32;
    const int64_t per_row = x.cols / 32, r = b / per_row, c = b % per_row * 32 + lane;
    const float v = x.data[r * x.stride + c];
    const Q8Scale scale = q8_0_scale(group_max(abs_float(v)));
    q[r * x.cols + c] = static_cast<int8_t>(q8_level(mul_rn(v, scale.inverse)));
    if (lane == 0) scales[b] = scale.stored;
}

// Q8_K: group g of 32 lanes takes block g, 8 values per lane. The scale comes from the first value
// of largest magnitude: the largest (magnitude, -index) pair over the group.
__global__ void quantize_q8_k_kernel(Mat x, int64_t n_blocks, int8_t* q, float* scales) {
    const int64_t b = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
    if (b >= n_blocks) return;
    const int lane = threadIdx.x % 32;
    const int64_t per_row = x.cols / 256, r = b / per_row, c0 = b % per_row * 256;
    const float* src = x.data + r * x.stride + c0;
    float v[8];
    float amax = 0.0f;
    int at = 0;
    RF_UNROLL for (int j = 0; j < 8; ++j) {
        v[j] = src[lane + 32 * j];
        const float a = abs_float(v[j]);
        if (a > amax) {
            amax = a;
            at = lane + 32 * j;
        }
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float other = gpu_shfl_xor(amax, offset);
        const int other_at = gpu_shfl_xor(at, offset);
        if (other > amax || (other == amax && other_at < at)) {
            amax = other;
            at = other_at;
        }
    }
    int8_t* dst = q + r * x.cols + c0;
    if (amax == 0.0f) {
        RF_UNROLL for (int j = 0; j < 8; ++j) dst[lane + 32 * j] = 0;
        if (lane == 0) scales[b] = 0.0f;
        return;
    }
    const float iscale = q8_k_iscale(src[at]);
    RF_UNROLL for (int j = 0; j < 8; ++j) dst[lane + 32 * j] = static_cast<int8_t>(q8_k_level(iscale, v[j]));
    if (lane == 0) scales[b] = div_rn(1.0f, iscale);
}

template <bool Bf16>
__global__ void round_16bit_kernel(Mat x, uint16_t* out) {
    const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
    if (i >= x.rows * x.cols) return;
    const float v = x.data[i / x.cols * x.stride + i % x.cols];
    out[i] = static_cast<uint16_t>(Bf16 ? float_to_bf16_bits(v) : float_to_half_bits(v));
}

gpuError_t quantize(gpuStream_t stream, TensorType type, Mat x, Packed out) {
    const ActRounding rounding = act_rounding_for(type);
    if (rounding == ActRounding::F16 || rounding == ActRounding::BF16) {
        const auto grid = static_cast<unsigned>((x.rows * x.cols + 255) / 256);
        auto* dst = static_cast<uint16_t*>(out.values);
        if (rounding == ActRounding::BF16) round_16bit_kernel<true><<<grid, 256, 0, stream>>>(x, dst);
        else round_16bit_kernel<false><<<grid, 256, 0, stream>>>(x, dst);
        return gpuGetLastError();
    }
    const int block = rounding == ActRounding::Q8_K ? 256 : 32;
    const int64_t n_blocks = x.rows * x.cols / block;
    const auto grid = static_cast<unsigned>((n_blocks + 7) / 8);  // 8 groups of 32 lanes per CUDA block
    auto* q = static_cast<int8_t*>(out.values);
    if (block == 256) quantize_q8_k_kernel<<<grid, 256, 0, stream>>>(x, n_blocks, q, out.scales);
    else quantize_q8_0_kernel<<<grid, 256, 0, stream>>>(x, n_blocks, q, out.scales);
    return gpuGetLastError();
}

// ---- products ------------------------------------------------------------------------------------

struct GemvArgs {
    ProductParams p;
    Packed x;
    bool x_per_y_row;  // x row of y row i: i (true) or i / k
};

template <TensorType T, int Tile>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvArgs a) {
    using Dot = BlockDot<T>;
    using X = std::conditional_t<T == TensorType::F16 || T == TensorType::BF16, uint16_t, int8_t>;
    const ProductParams& p = a.p;
    const int64_t r = blockIdx.x * int64_t{kGroups} + threadIdx.x / 32;
    if (r >= p.rows) return;  // whole groups leave together
    const int lane = threadIdx.x % 32;
    const int64_t n_blocks = p.cols / Dot::kValues, n_slices = n_blocks * Dot::kSlices;
    for (int64_t y0 = blockIdx.y * int64_t{Tile}; y0 < p.y_rows; y0 += int64_t{gridDim.y} * Tile) {
        const uint8_t* matrix = p.w;
        if (p.ids) {  // Tile is 1: the expert of row y0 picks the matrix
            const int32_t e = p.ids[y0];
            if (e < 0 || e >= p.count) {
                if (lane == 0) atomicCAS(p.fault, kFaultNone, kFaultExpertId);
                continue;
            }
            matrix += e * p.matrix_bytes;
        }
        const uint8_t* row = matrix + r * p.row_bytes;
        const X* xs[Tile];
        const float* ds[Tile];
#pragma unroll
        for (int j = 0; j < Tile; ++j) {
            const int64_t yr = min(y0 + j, p.y_rows - 1), xr = a.x_per_y_row ? yr : yr / p.k;
            xs[j] = static_cast<const X*>(a.x.values) + xr * p.cols;
            ds[j] = a.x.scales + xr * n_blocks;
        }
        float acc[Tile] = {};
#pragma unroll 4
        for (int64_t i = lane; i < n_slices; i += 32) {
            const int64_t b = i / Dot::kSlices;
            const int s = static_cast<int>(i % Dot::kSlices);
            const typename Dot::Slice w = Dot::load(row + b * Dot::kBytes, s);
#pragma unroll
            for (int j = 0; j < Tile; ++j) {
                const float xd = std::is_same_v<X, int8_t> ? ds[j][b] : 1.0f;
                acc[j] += Dot::dot(w, xs[j] + b * Dot::kValues, xd, s);
            }
        }
#pragma unroll
        for (int j = 0; j < Tile; ++j) {
            const float sum = group_sum(acc[j]);
            if (lane == 0 && y0 + j < p.y_rows) p.y[(y0 + j) * p.y_stride + r] = sum;
        }
    }
}

template <TensorType T, int Tile>
void launch_tile(gpuStream_t stream, const GemvArgs& a) {
    const int64_t tiles = (a.p.y_rows + Tile - 1) / Tile;
    const dim3 grid(static_cast<unsigned>((a.p.rows + kGroups - 1) / kGroups), static_cast<unsigned>(std::min(tiles, kMaxGridRows)));
    gemv_kernel<T, Tile><<<grid, kThreads, 0, stream>>>(a);
}

template <TensorType T>
void launch_typed(gpuStream_t stream, const GemvArgs& a) {
    const int64_t n = a.p.ids ? 1 : a.p.y_rows;
    if (n == 1) launch_tile<T, 1>(stream, a);
    else if (n == 2) launch_tile<T, 2>(stream, a);
    else if (n <= 4) launch_tile<T, 4>(stream, a);
    else launch_tile<T, 8>(stream, a);
}

#define RF_GEMV_FORMATS(X) X(F16) X(BF16) X(Q4_0) X(Q8_0) X(Q4_K) X(Q6_K)

}  // namespace

bool gemv_supports(TensorType type, const uint8_t* w, size_t row_bytes, size_t matrix_bytes, int64_t cols) {
    int values = 0, alignment = 2;
    switch (type) {
#define RF_CASE(T)                                   \
    case TensorType::T:                              \
        values = BlockDot<TensorType::T>::kValues;   \
        alignment = BlockDot<TensorType::T>::kBytes % 16 == 0 ? 16 : 2; \
        break;
        RF_GEMV_FORMATS(RF_CASE)
#undef RF_CASE
        default: return false;
    }
    const auto aligned = [&](size_t n) { return n % static_cast<size_t>(alignment) == 0; };
    return cols % values == 0 && aligned(reinterpret_cast<uintptr_t>(w)) && aligned(row_bytes) && aligned(matrix_bytes);
}

size_t gemv_scratch_bytes(int64_t x_rows, int64_t cols) {
    // 16-bit values, or int8 levels and an f32 scale per 32 values at most.
    const auto n = static_cast<size_t>(x_rows * cols);
    return std::max(2 * n, align16(n) + n / 32 * sizeof(float));
}

gpuError_t launch_gemv(gpuStream_t stream, Mat x, void* scratch, const ProductParams& p) {
    if (p.y_rows == 0) return gpuSuccess;
    const GemvArgs a{p, packed_in(scratch, x.rows, x.cols), x.rows == p.y_rows};
    if (const gpuError_t err = quantize(stream, p.type, x, a.x); err != gpuSuccess) return err;
    switch (p.type) {
#define RF_CASE(T) case TensorType::T: launch_typed<TensorType::T>(stream, a); break;
        RF_GEMV_FORMATS(RF_CASE)
#undef RF_CASE
        default: return gpuErrorInvalidValue;
    }
    return gpuGetLastError();
}

}  // namespace rf::gpu
