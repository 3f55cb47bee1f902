// Direct products of the common formats (F16, BF16, Q4_0, Q8_0, Q4_K, Q6_K), made for generation:
// few tokens (one per sequence), where a product is one pass over the weights and its speed is the
// memory bandwidth. They also take every expert product of those formats, and in a batch-invariant
// backend every product. Chosen per weight matrix, never per batch. Two launches:
//  1. The activations are quantized once per product as the CPU rounds them (act_rounding.h):
//     int8 levels and a scale per block (Q8_0 for 32-value weight blocks, Q8_K for 256), or the
//     values rounded to F16/BF16 for 16-bit weights; a group of 32 lanes per block.
//  2. Each group of 32 lanes takes one weight row; its lanes read the row's blocks slice by slice
//     side by side (block_dot.h), each slice once for up to Tile activation rows, several slices
//     in flight per lane, and sum across the group. With split_long_rows, long rows (kSplitCols
//     values or more: the down projections) of the unstaged formats (below) are shared by the four
//     groups of a CUDA block, each taking every fourth run of 32 slices, their sums added in group
//     order: one group alone would wait for its row's loads in a chain of several round trips, and
//     such products have too few rows to fill the card with one group each.
//  3. With rows_per_group > 1, a single token over rows of at most 32 * kStreamSlices slices of the
//     unstaged formats (Q4_K of up to 4,096 values) takes gemv_stream_kernel instead: each group
//     takes that many consecutive rows and loads the next row's slices before it adds up the
//     current one's, so that a group keeps its loads in flight across rows and the card starts
//     fewer, longer blocks.
// A token's result is summed in the same order whatever Tile and however many tokens share the
// launch (and by either kernel), so a sequence's output does not depend on the rest of its batch.
#include <algorithm>
#include <type_traits>

#include "backend/cuda/act_quantize.h"
#include "backend/cuda/act_rounding.h"
#include "backend/cuda/block_dot.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

constexpr int kThreads = 128;
constexpr int kGroups = kThreads / 32;
constexpr int64_t kSplitCols = 8192;

// ---- activation quantization ---------------------------------------------------------------------

// Q8_0 and Q8_K: group g of 32 lanes takes block g (act_quantize.h).
template <ActRounding R>
__global__ void quantize_kernel(Mat x, int64_t n_blocks, PackedInput out) {
    gpu_kernel_prologue();
    constexpr int kBlock = kPackBlock<R>;
    const int64_t g = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
    if (g >= n_blocks) return;  // whole groups leave together
    const int lane = threadIdx.x % 32;
    const int64_t per_row = x.cols / kBlock, r = g / per_row, b = g % per_row;
    const float* src = x.data + r * x.stride + b * kBlock;
    float v[8];
    RF_UNROLL for (int j = 0; j < kBlock / 32; ++j) v[j] = src[lane + 32 * j];
    pack_block<R>(v, lane, out, r, x.cols, b);
}

template <bool Bf16>
__global__ void round_16bit_kernel(Mat x, uint16_t* out) {
    gpu_kernel_prologue();
    const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
    if (i >= x.rows * x.cols) return;
    const float v = x.data[i / x.cols * x.stride + i % x.cols];
    out[i] = static_cast<uint16_t>(Bf16 ? float_to_bf16_bits(v) : float_to_half_bits(v));
}

gpuError_t quantize(gpuStream_t stream, TensorType type, Mat x, PackedInput out) {
    const ActRounding rounding = act_rounding_for(type);
    if (rounding == ActRounding::F16 || rounding == ActRounding::BF16) {
        const auto grid = static_cast<unsigned>((x.rows * x.cols + 255) / 256);
        auto* dst = static_cast<uint16_t*>(out.values);
        if (rounding == ActRounding::BF16) gpu_launch(round_16bit_kernel<true>, grid, 256, 0, stream, x, dst);
        else gpu_launch(round_16bit_kernel<false>, grid, 256, 0, stream, x, dst);
        return gpuGetLastError();
    }
    const int block = rounding == ActRounding::Q8_K ? 256 : 32;
    const int64_t n_blocks = x.rows * x.cols / block;
    const auto grid = static_cast<unsigned>((n_blocks + 7) / 8);  // 8 groups of 32 lanes per CUDA block
    if (block == 256) gpu_launch(quantize_kernel<ActRounding::Q8_K>, grid, 256, 0, stream, x, n_blocks, out);
    else gpu_launch(quantize_kernel<ActRounding::Q8_0>, grid, 256, 0, stream, x, n_blocks, out);
    return gpuGetLastError();
}

// ---- products ------------------------------------------------------------------------------------

// One launch takes the products of one input by up to kMaxGemvGroup matrices of one format and
// width (Q, K and V; gate and up): the CUDA blocks [first_block[m], first_block[m + 1]) take the
// rows of matrix m, whose own fields replace p's.
struct GemvArgs {
    ProductParams p;
    PackedInput x;
    bool x_per_y_row;  // x row of y row i: i (true) or i / k
    int group;
    int parts;  // groups of 32 lanes per row: 1 or kGroups
    const uint8_t* w[kMaxGemvGroup];
    float* y[kMaxGemvGroup];
    int64_t rows[kMaxGemvGroup], y_stride[kMaxGemvGroup];
    size_t row_bytes[kMaxGemvGroup];
    int64_t first_block[kMaxGemvGroup + 1];
};

// v[m] with m known only at run time, without indexing the kernel's parameters dynamically (which
// would copy them to local memory).
template <class V>
__device__ __forceinline__ V pick(const V (&v)[kMaxGemvGroup], int m) {
    static_assert(kMaxGemvGroup == 3);
    return m == 0 ? v[0] : m == 1 ? v[1] : v[2];
}

// Adds n_slices slices of consecutive blocks to acc: `blocks` holds block first_block onwards (in
// the row itself or staged in shared memory); lane takes slices first, first + stride, ...
template <class Dot, class X, int Tile>
__device__ __forceinline__ void add_slices(const uint8_t* blocks, int64_t first_block, int64_t n_slices, int first,
                                           int stride, const X* const (&xs)[Tile], const float* const (&ds)[Tile],
                                           float (&acc)[Tile]) {
    constexpr int kUnroll = Tile >= 8 ? 2 : 4;  // slices in flight per lane, within the registers
#pragma unroll kUnroll
    for (int64_t i = first; i < n_slices; i += stride) {
        const int64_t local = i / Dot::kSlices, b = first_block + local;
        const int s = static_cast<int>(i % Dot::kSlices);
        const typename Dot::Slice w = Dot::load(blocks + local * Dot::kBytes, s);
#pragma unroll
        for (int j = 0; j < Tile; ++j) {
            const float xd = std::is_same_v<X, int8_t> ? ds[j][b] : 1.0f;
            acc[j] += Dot::dot(w, xs[j] + b * Dot::kValues, xd, s);
        }
    }
}

// Formats whose blocks are only 2-byte aligned (Q4_0, Q8_0, Q6_K) would be read with 2-byte loads.
// Staged, a group copies a stretch of whole blocks of its row (16-byte aligned rows) into shared
// memory with 16-byte loads, the next stretch's loads in flight while it computes on this one.
template <class Dot>
struct Stage {
    static constexpr int kBlocks = Dot::kValues == 256 ? 8 : 32;  // per stretch: 128 slices
    // 16-byte words of a window: up to 14 bytes before the stretch's first block (it starts on an
    // even byte), the stretch, rounded up to whole words.
    static constexpr int kWords = (kBlocks * Dot::kBytes + 14 + 15) / 16;
    static constexpr int kWordsPerLane = (kWords + 31) / 32;
    static_assert(kWordsPerLane <= 4, "a stretch's words in flight per lane stay few");
    // The window of 16-byte words that holds blocks [b0, b0 + n): first word and count.
    __device__ static int64_t first_word(int64_t b0) { return b0 * Dot::kBytes / 16; }
    __device__ static int64_t words(int64_t b0, int64_t n) { return ((b0 + n) * Dot::kBytes + 15) / 16 - first_word(b0); }
};

template <TensorType T, int Tile, bool Staged>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvArgs a) {
    gpu_kernel_prologue();
    using Dot = BlockDot<T>;
    using X = std::conditional_t<T == TensorType::F16 || T == TensorType::BF16, uint16_t, int8_t>;
    using S = Stage<Dot>;
    ProductParams p = a.p;
    int64_t block = blockIdx.x;
    if (a.group > 1) {
        const int m = block >= a.first_block[2] ? 2 : block >= a.first_block[1] ? 1 : 0;
        p.w = pick(a.w, m);
        p.y = pick(a.y, m);
        p.rows = pick(a.rows, m);
        p.y_stride = pick(a.y_stride, m);
        p.row_bytes = pick(a.row_bytes, m);
        block -= m == 0 ? 0 : m == 1 ? a.first_block[1] : a.first_block[2];
    }
    // Group `warp` takes row r, or (parts == kGroups) every fourth group of 32 slices of the
    // block's one row.
    const int warp = threadIdx.x / 32, parts = Staged ? 1 : a.parts, part = warp % parts;
    const int64_t r = block * (kGroups / parts) + warp / parts;
    if (r >= p.rows) return;  // whole rows' groups leave together
    const int lane = threadIdx.x % 32;
    const int64_t n_blocks = p.cols / Dot::kValues, n_slices = n_blocks * Dot::kSlices;
    __shared__ uint4 stage[Staged ? kGroups : 1][Staged ? S::kWords : 1];
    __shared__ float part_sums[kGroups][Tile];
    for (int64_t y0 = blockIdx.y * int64_t{Tile}; y0 < p.y_rows; y0 += int64_t{gridDim.y} * Tile) {
        const uint8_t* matrix = product_matrix(p, y0, lane == 0);  // with expert ids, Tile is 1
        if (!matrix) continue;
        const X* xs[Tile];
        const float* ds[Tile];
#pragma unroll
        for (int j = 0; j < Tile; ++j) {
            const int64_t yr = min(y0 + j, p.y_rows - 1), xr = a.x_per_y_row ? yr : yr / p.k;
            xs[j] = static_cast<const X*>(a.x.values) + xr * p.cols;
            ds[j] = std::is_same_v<X, int8_t> ? a.x.scales + xr * n_blocks : nullptr;  // 16-bit inputs: no scales
        }
        const uint8_t* row = matrix + r * p.row_bytes;
        float acc[Tile] = {};
        if constexpr (!Staged) {
            add_slices<Dot, X, Tile>(row, 0, n_slices, part * 32 + lane, parts * 32, xs, ds, acc);
        } else {
            uint4* mine = stage[warp];  // (staged rows have one group each)
            const auto* row_words = reinterpret_cast<const uint4*>(row);
            uint4 next[S::kWordsPerLane];
            const auto fetch = [&](int64_t b0) {
                const int64_t w0 = S::first_word(b0), n = S::words(b0, min(int64_t{S::kBlocks}, n_blocks - b0));
#pragma unroll
                for (int k = 0; k < S::kWordsPerLane; ++k)
                    if (lane + 32 * k < n) next[k] = row_words[w0 + lane + 32 * k];
            };
            fetch(0);
            for (int64_t b0 = 0; b0 < n_blocks; b0 += S::kBlocks) {
                const int64_t n = min(int64_t{S::kBlocks}, n_blocks - b0);
#pragma unroll
                for (int k = 0; k < S::kWordsPerLane; ++k)
                    if (lane + 32 * k < S::words(b0, n)) mine[lane + 32 * k] = next[k];
                gpu_syncwarp();
                if (b0 + S::kBlocks < n_blocks) fetch(b0 + S::kBlocks);
                const uint8_t* staged = reinterpret_cast<const uint8_t*>(mine) + (b0 * Dot::kBytes - S::first_word(b0) * 16);
                add_slices<Dot, X, Tile>(staged, b0, n * Dot::kSlices, lane, 32, xs, ds, acc);
                gpu_syncwarp();
            }
        }
#pragma unroll
        for (int j = 0; j < Tile; ++j) {
            acc[j] = group_sum(acc[j]);
            if (parts > 1 && lane == 0) part_sums[warp][j] = acc[j];
        }
        if (parts > 1) __syncthreads();  // parts > 1: the block's four groups share one row
        if (lane == 0 && part == 0) {
#pragma unroll
            for (int j = 0; j < Tile; ++j) {
                float sum = acc[j];
                for (int q = 1; q < parts; ++q) sum += part_sums[q][j];
                if (y0 + j < p.y_rows) {
                    float& y = p.y[(y0 + j) * p.y_stride + r];
                    y = p.accumulate ? y + sum : sum;
                }
            }
        }
        if (parts > 1) __syncthreads();  // part_sums are written again for the next tokens
    }
}

// Step 3: the rows of the launch's matrices, numbered across them (first_block holds each matrix's
// first row here, not its first CUDA block), rows_per_group consecutive ones a group of 32 lanes,
// each lane's slices lane, lane + 32, ... of a row added in that order (as add_slices adds them).
constexpr int kStreamSlices = 4;

template <TensorType T>
__global__ void __launch_bounds__(kThreads) gemv_stream_kernel(GemvArgs a, int rows_per_group) {
    gpu_kernel_prologue();
    using Dot = BlockDot<T>;
    using X = std::conditional_t<T == TensorType::F16 || T == TensorType::BF16, uint16_t, int8_t>;
    using Slice = typename Dot::Slice;
    const int lane = threadIdx.x % 32;
    const int64_t n_slices = a.p.cols / Dot::kValues * Dot::kSlices, total = a.first_block[a.group];
    const int64_t first = (blockIdx.x * int64_t{kGroups} + threadIdx.x / 32) * rows_per_group;
    const int64_t end = min(total, first + rows_per_group);
    const X* x = static_cast<const X*>(a.x.values);  // one token: input row 0
    const auto matrix_of = [&](int64_t g) { return g >= a.first_block[2] ? 2 : g >= a.first_block[1] ? 1 : 0; };
    const auto row_in = [&](int64_t g, int m) { return g - (m == 0 ? 0 : m == 1 ? a.first_block[1] : a.first_block[2]); };
    const auto load_row = [&](int64_t g, Slice (&w)[kStreamSlices]) {
        const int m = matrix_of(g);
        const uint8_t* row = pick(a.w, m) + row_in(g, m) * pick(a.row_bytes, m);
#pragma unroll
        for (int k = 0; k < kStreamSlices; ++k) {
            const int64_t i = lane + 32 * k;
            if (i < n_slices) w[k] = Dot::load(row + i / Dot::kSlices * Dot::kBytes, static_cast<int>(i % Dot::kSlices));
        }
    };
    Slice cur[kStreamSlices];
    if (first < end) load_row(first, cur);
    for (int64_t g = first; g < end; ++g) {
        Slice next[kStreamSlices];
        if (g + 1 < end) load_row(g + 1, next);
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < kStreamSlices; ++k) {
            const int64_t i = lane + 32 * k, b = i / Dot::kSlices;
            if (i < n_slices) {
                const float xd = std::is_same_v<X, int8_t> ? a.x.scales[b] : 1.0f;
                acc += Dot::dot(cur[k], x + b * Dot::kValues, xd, static_cast<int>(i % Dot::kSlices));
            }
        }
        const float sum = group_sum(acc);
        if (lane == 0) {
            const int m = matrix_of(g);
            float& y = pick(a.y, m)[row_in(g, m)];
            y = a.p.accumulate ? y + sum : sum;
        }
        if (g + 1 < end) {
#pragma unroll
            for (int k = 0; k < kStreamSlices; ++k) cur[k] = next[k];
        }
    }
}

bool aligned16(const ProductParams& p) {
    return reinterpret_cast<uintptr_t>(p.w) % 16 == 0 && p.row_bytes % 16 == 0 && p.matrix_bytes % 16 == 0;
}

template <TensorType T, int Tile>
void launch_tile(gpuStream_t stream, GemvArgs a, bool staged) {
    const int64_t per_block = kGroups / a.parts;
    a.first_block[0] = 0;
    for (int m = 0; m < kMaxGemvGroup; ++m)
        a.first_block[m + 1] = a.first_block[m] + (m < a.group ? (a.rows[m] + per_block - 1) / per_block : 0);
    const int64_t tiles = (a.p.y_rows + Tile - 1) / Tile;
    const dim3 grid(static_cast<unsigned>(a.first_block[a.group]), static_cast<unsigned>(std::min(tiles, kMaxGridRows)));
    if constexpr (BlockDot<T>::kBytes % 16 != 0) {
        if (staged) {
            gpu_launch(gemv_kernel<T, Tile, true>, grid, kThreads, 0, stream, a);
            return;
        }
    }
    gpu_launch(gemv_kernel<T, Tile, false>, grid, kThreads, 0, stream, a);
}

// Rows of a 2-byte aligned format are staged through shared memory with 16-byte loads where
// every matrix of the launch is 16-byte aligned.
template <TensorType T>
void launch_typed(gpuStream_t stream, GemvArgs a, bool aligned, int rows_per_group) {
    using Dot = BlockDot<T>;
    const bool staged = Dot::kBytes % 16 != 0 && aligned;
    // Rows are shared only in the formats never staged (a run-time group count doubles the staged
    // kernels' registers), decided by the format alone so that a matrix gets the same sums alone
    // and in a group whatever the others' alignment.
    if (Dot::kBytes % 16 != 0) a.parts = 1;
    if (rows_per_group > 1 && !staged && a.parts == 1 && !a.p.ids && a.p.y_rows == 1 &&
        a.p.cols / Dot::kValues * Dot::kSlices <= 32 * kStreamSlices) {
        a.first_block[0] = 0;
        for (int m = 0; m < kMaxGemvGroup; ++m) a.first_block[m + 1] = a.first_block[m] + (m < a.group ? a.rows[m] : 0);
        const int64_t per_block = int64_t{kGroups} * rows_per_group;
        const auto grid = static_cast<unsigned>((a.first_block[a.group] + per_block - 1) / per_block);
        gpu_launch(gemv_stream_kernel<T>, grid, kThreads, 0, stream, a, rows_per_group);
        return;
    }
    const int64_t n = a.p.ids ? 1 : a.p.y_rows;
    if (n == 1) launch_tile<T, 1>(stream, a, staged);
    else if (n == 2) launch_tile<T, 2>(stream, a, staged);
    else if (n <= 4) launch_tile<T, 4>(stream, a, staged);
    else launch_tile<T, 8>(stream, a, staged);
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

GemvInput gemv_input_view(const void* scratch, int64_t x_rows, int64_t cols) {
    const PackedInput packed = packed_input(const_cast<void*>(scratch), x_rows, cols);
    return {packed.values, packed.scales};
}

int gemv_input_format(TensorType type) { return static_cast<int>(act_rounding_for(type)); }

bool packable_format(int format, int64_t cols) {
    const auto rounding = static_cast<ActRounding>(format);
    if (rounding == ActRounding::Q8_0) return cols % 32 == 0;
    return rounding == ActRounding::Q8_K && cols % 256 == 0;
}

gpuError_t launch_gemv_quantize(gpuStream_t stream, TensorType type, Mat x, void* scratch) {
    if (x.rows == 0) return gpuSuccess;
    return quantize(stream, type, x, packed_input(scratch, x.rows, x.cols));
}

gpuError_t launch_gemv_group(gpuStream_t stream, int64_t x_rows, const void* scratch, const ProductParams* ps, int n,
                             const GemvOptions& options) {
    if (n < 1 || n > kMaxGemvGroup) return gpuErrorInvalidValue;
    const ProductParams& p = ps[0];
    if (p.y_rows == 0) return gpuSuccess;
    GemvArgs a{};
    a.p = p;
    a.x = packed_input(const_cast<void*>(scratch), x_rows, p.cols);
    a.x_per_y_row = x_rows == p.y_rows;
    a.group = n;
    a.parts = options.split_long_rows && p.cols >= kSplitCols ? kGroups : 1;
    const int rows_per_group = std::clamp(options.rows_per_group, 1, 64);
    bool aligned = true;
    for (int m = 0; m < n; ++m) {
        const ProductParams& q = ps[m];
        if (q.type != p.type || q.cols != p.cols || q.y_rows != p.y_rows || (n > 1 && (q.ids || q.count != 1)))
            return gpuErrorInvalidValue;
        a.w[m] = q.w;
        a.y[m] = q.y;
        a.rows[m] = q.rows;
        a.y_stride[m] = q.y_stride;
        a.row_bytes[m] = q.row_bytes;
        aligned = aligned && aligned16(q);
    }
    switch (p.type) {
#define RF_CASE(T) case TensorType::T: launch_typed<TensorType::T>(stream, a, aligned, rows_per_group); break;
        RF_GEMV_FORMATS(RF_CASE)
#undef RF_CASE
        default: return gpuErrorInvalidValue;
    }
    return gpuGetLastError();
}

gpuError_t launch_gemv(gpuStream_t stream, int64_t x_rows, const void* scratch, const ProductParams& p,
                       const GemvOptions& options) {
    return launch_gemv_group(stream, x_rows, scratch, &p, 1, options);
}

}  // namespace rf::gpu
