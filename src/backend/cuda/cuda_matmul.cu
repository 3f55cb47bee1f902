// Matrix products and embedding lookups straight from the weights' GGUF blocks.
//
// A product runs in two launches. The activations are first rounded the way the CPU backend
// rounds them (Q8_0/Q8_1/Q8_K blocks or F16/BF16 values, by weight type) into a packed scratch
// copy, so both backends compute the same function. Then each group of 32 lanes takes one weight
// row: its lanes decode 32-value units of the row (block_decode.h) and dot them with up to
// kTokenTile activation rows, so a weight byte is read once per tile of tokens. With expert ids
// the tile is one row of y, whose expert picks the matrix of the stack.
#include <algorithm>

#include "backend/cuda/act_rounding.h"
#include "backend/cuda/block_decode.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {

bool has_gpu_kernel(TensorType type) {
    switch (type) {
#define RF_CASE(T) case TensorType::T:
        RF_GPU_FORMATS(RF_CASE)
#undef RF_CASE
        return true;
        default: return false;
    }
}

namespace {

constexpr int kRowsPerBlock = 4;  // 32-lane groups per block, one weight row each
constexpr int kTokenTile = 8;

// ---- activation rounding ------------------------------------------------------------------------

int block_of(ActRounding r) {
    switch (r) {
        case ActRounding::Q8_0: case ActRounding::Q8_1: return 32;
        case ActRounding::Q8_K: return 256;
        default: return 1;
    }
}

// Thread i rounds activation block i of the (rows x cols) input into the packed output.
__global__ void round_kernel(const float* x, int64_t stride, int64_t cols, int64_t n_blocks, int block,
                             ActRounding rounding, float* out) {
    gpu_kernel_prologue();
    const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
    if (i >= n_blocks) return;
    const int64_t per_row = cols / block, r = i / per_row, c = i % per_row * block;
    const float* src = x + r * stride + c;
    float* dst = out + r * cols + c;
    switch (rounding) {
        case ActRounding::Q8_0: round_act_block_q8_0(src, dst); break;
        case ActRounding::Q8_1: round_act_block_q8_1(src, dst); break;
        case ActRounding::Q8_K: round_act_block_q8_k(src, dst); break;
        case ActRounding::F16: dst[0] = round_act_f16(src[0]); break;
        case ActRounding::BF16: dst[0] = round_act_bf16(src[0]); break;
        default: dst[0] = src[0]; break;
    }
}

// ---- products -----------------------------------------------------------------------------------

// What a product kernel reads: the launcher's parameters and the rounded activations.
struct ProductArgs {
    ProductParams p;
    const float* x;     // packed, cols per row
    bool x_per_y_row;   // x row of y row i: i (true) or i / k
};

template <TensorType T>
__device__ float plain_value(const uint8_t* row, int64_t c) {
    if constexpr (T == TensorType::F32) return reinterpret_cast<const float*>(row)[c];
    if constexpr (T == TensorType::F16) return __half2float(reinterpret_cast<const gpuHalf*>(row)[c]);
    if constexpr (T == TensorType::BF16) return __uint_as_float(uint32_t{reinterpret_cast<const uint16_t*>(row)[c]} << 16);
    return 0.0f;
}

template <TensorType T>
constexpr bool is_plain = T == TensorType::F32 || T == TensorType::F16 || T == TensorType::BF16;

template <TensorType T, int Tile>
__global__ void product_kernel(ProductArgs args) {
    gpu_kernel_prologue();
    const ProductParams& p = args.p;
    using Traits = BlockTraits<T>;
    constexpr int kUnitsPerBlock = Traits::kValues / 32;
    const int lane = threadIdx.x % 32;
    const int64_t r = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / 32;
    if (r >= p.rows) return;
    const int64_t units = p.cols / 32;
    for (int64_t y0 = blockIdx.y * int64_t{Tile}; y0 < p.y_rows; y0 += int64_t{gridDim.y} * Tile) {
        const uint8_t* matrix = product_matrix(p, y0, lane == 0);  // with expert ids, Tile is 1
        if (!matrix) continue;
        const uint8_t* row = matrix + r * p.row_bytes;
        const float* xs[Tile];
#pragma unroll
        for (int j = 0; j < Tile; ++j) {
            const int64_t yr = min(y0 + j, p.y_rows - 1);
            xs[j] = args.x + (args.x_per_y_row ? yr : yr / p.k) * p.cols;
        }
        float acc[Tile] = {};
        for (int64_t u = lane; u < units; u += 32) {
            float w[32];
            decode_unit<T>(row + u / kUnitsPerBlock * Traits::kBytes, static_cast<int>(u % kUnitsPerBlock), w);
#pragma unroll
            for (int j = 0; j < Tile; ++j) {
                const float* x = xs[j] + u * 32;
                float sum = 0.0f;
#pragma unroll
                for (int i = 0; i < 32; ++i) sum += w[i] * x[i];
                acc[j] += sum;
            }
        }
        if constexpr (is_plain<T>) {
            for (int64_t c = units * 32 + lane; c < p.cols; c += 32) {
                const float w = plain_value<T>(row, c);
#pragma unroll
                for (int j = 0; j < Tile; ++j) acc[j] += w * xs[j][c];
            }
        }
#pragma unroll
        for (int j = 0; j < Tile; ++j) {
            const float sum = group_sum(acc[j]);
            if (lane == 0 && y0 + j < p.y_rows) {
                float& y = p.y[(y0 + j) * p.y_stride + r];
                y = p.accumulate ? y + sum : sum;
            }
        }
    }
}

template <TensorType T>
void launch_typed(gpuStream_t stream, const ProductArgs& args) {
    const ProductParams& p = args.p;
    const auto grid_x = static_cast<unsigned>((p.rows + kRowsPerBlock - 1) / kRowsPerBlock);
    if (p.ids || p.y_rows < kTokenTile) {
        const dim3 grid(grid_x, static_cast<unsigned>(std::min<int64_t>(p.y_rows, kMaxGridRows)));
        gpu_launch(product_kernel<T, 1>, grid, 32 * kRowsPerBlock, 0, stream, args);
    } else {
        const dim3 grid(grid_x, static_cast<unsigned>(std::min<int64_t>((p.y_rows + kTokenTile - 1) / kTokenTile, kMaxGridRows)));
        gpu_launch(product_kernel<T, kTokenTile>, grid, 32 * kRowsPerBlock, 0, stream, args);
    }
}

// ---- embedding ----------------------------------------------------------------------------------

template <TensorType T>
__global__ void embed_kernel(const uint8_t* table, size_t row_bytes, int64_t n_rows, int64_t cols, const int32_t* ids,
                             float* out, int64_t out_stride, int* fault) {
    gpu_kernel_prologue();
    using Traits = BlockTraits<T>;
    constexpr int kUnitsPerBlock = Traits::kValues / 32;
    const int32_t id = ids[blockIdx.x];
    if (id < 0 || id >= n_rows) {
        if (threadIdx.x == 0) atomicCAS(fault, kFaultNone, kFaultTokenId);
        return;
    }
    const uint8_t* row = table + id * row_bytes;
    float* dst = out + blockIdx.x * out_stride;
    const int64_t units = cols / 32;
    for (int64_t u = threadIdx.x; u < units; u += blockDim.x) {
        float w[32];
        decode_unit<T>(row + u / kUnitsPerBlock * Traits::kBytes, static_cast<int>(u % kUnitsPerBlock), w);
#pragma unroll
        for (int i = 0; i < 32; ++i) dst[u * 32 + i] = w[i];
    }
    if constexpr (is_plain<T>)
        for (int64_t c = units * 32 + threadIdx.x; c < cols; c += blockDim.x) dst[c] = plain_value<T>(row, c);
}

void round_into(gpuStream_t stream, TensorType type, const Mat& x, float* packed) {
    const ActRounding rounding = act_rounding_for(type);
    const int block = block_of(rounding);
    const int64_t n_blocks = x.rows * x.cols / block;
    gpu_launch(round_kernel, static_cast<unsigned>((n_blocks + 127) / 128), 128, 0, stream, x.data, x.stride, x.cols,
               n_blocks, block, rounding, packed);
}

}  // namespace

gpuError_t launch_round(gpuStream_t stream, TensorType weight_type, Mat x, float* packed) {
    if (x.rows == 0) return gpuSuccess;
    round_into(stream, weight_type, x, packed);
    return gpuGetLastError();
}

int rounding_block(TensorType type) { return block_of(act_rounding_for(type)); }

gpuError_t launch_product(gpuStream_t stream, Mat x, float* packed, const ProductParams& p) {
    if (p.y_rows == 0) return gpuSuccess;
    round_into(stream, p.type, x, packed);
    const ProductArgs args{p, packed, x.rows == p.y_rows};
    switch (p.type) {
#define RF_CASE(T) case TensorType::T: launch_typed<TensorType::T>(stream, args); break;
        RF_GPU_FORMATS(RF_CASE)
#undef RF_CASE
        default: return gpuErrorInvalidValue;
    }
    return gpuGetLastError();
}

gpuError_t launch_embed(gpuStream_t stream, TensorType type, const uint8_t* table, size_t row_bytes, int64_t n_rows,
                        const int32_t* ids, Mat out, int* fault) {
    if (out.rows == 0) return gpuSuccess;
    const auto grid = static_cast<unsigned>(out.rows);
    switch (type) {
#define RF_CASE(T)                                                                                                  \
    case TensorType::T:                                                                                             \
        gpu_launch(embed_kernel<TensorType::T>, grid, 128, 0, stream, table, row_bytes, n_rows, out.cols, ids,        \
                   out.data, out.stride, fault);                                                                    \
        break;
        RF_GPU_FORMATS(RF_CASE)
#undef RF_CASE
        default: return gpuErrorInvalidValue;
    }
    return gpuGetLastError();
}

}  // namespace rf::gpu
