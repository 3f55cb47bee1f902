// Q4_K products of a few to a few dozen tokens (the batched decode steps of serving) on int8 tensor
// cores, in tiles of 64 weight rows by all the step's tokens (up to 64), so that each weight byte is
// read from memory once and unpacked once per launch; cuda_int8_products.cu, which this replaces
// for Q4_K (unless ROCMFORGE_GPU_INT8_TILES=0), runs 16 tokens a block and converts every unit's
// integer sum to float. The input is the gemv's (Q8_K: int8
// levels, a scale per 256).
//
// Each step of 256 inputs (one Q4_K block per row) is copied into shared memory as stored (weights
// and levels, cp.async, two to five steps in flight while one is computed). A Q4_K value is
// d * sc_u * q - dmin * m_u (q a nibble, sc_u and m_u the 6-bit scale and minimum of its unit u of
// 32), so per block and token
//   y += xd * (d * S - dmin * M),  S = sum_u sc_u * (sum_i q_i x_i),  M = sum_u m_u * (sum_i x_i),
// with S and M exact integers: the inner sums by one int8 mma per unit (m16n8k32, 16 rows by 8
// tokens), S by integer multiply-adds, M by one f16 mma per block whose operands are small integers
// (m_u and 64 m_u against the unit sums split as 64 h + l), exact in f16 and in its f32 sums. So the
// result is the gemv's up to float rounding (of S, and of the sum over blocks).
//
// Inside an mma the 32 values of a unit are taken in an order of our own (logical k = 4t + j from
// bytes 8t + j, k = 16 + 4t + j from bytes 8t + 4 + j), the same for weights and levels, so that a
// lane's weight and level fragments are single 8-byte loads; with the padded row strides below,
// each warp's loads hit 32 distinct banks.
#include <algorithm>

#include "backend/cuda/block_dot.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

constexpr int kWarps = 4, kThreads = 32 * kWarps;
constexpr int kTileRows = 16 * kWarps;  // weight rows of a block, 16 per warp
constexpr int kMaxTileTokens = 64;      // tokens of a block, 8 per mma
constexpr int kBlockBytes = 144;        // Q4_K: d, dmin, 12 bytes of scales and minima, 128 of nibbles
constexpr int kRowStride = 160;         // a row's block in shared memory (32 bytes apart mod 128)
constexpr int kTokenStride = 256 + 32;  // a token's 256 levels in shared memory (likewise)

// One stage of shared memory: a step's weight blocks, levels and level scales; kStages of them,
// all but one in flight while a step is computed: more where a stage is small (few tokens), so that
// an SM keeps about as many bytes in flight either way.
template <int NT>
struct Stage {
    static constexpr int kTokens = 8 * NT;
    static constexpr int kStages = NT <= 2 ? 6 : NT == 4 ? 4 : 3;
    static constexpr size_t kLevels = size_t{kTileRows} * kRowStride;
    static constexpr size_t kScales = kLevels + size_t{kTokens} * kTokenStride;
    static constexpr size_t kBytes = kScales + kTokens * sizeof(float);
    static_assert(kBytes % 16 == 0);
    // All stages, then each token's unit sums of the current step as the minimum's mma fragments.
    static constexpr size_t kShared = kStages * kBytes + size_t{kTokens} * 4 * sizeof(uint2);
};

// A row's block header: d and dmin as floats, the units' scales and minima a byte each (units 0-3
// and 4-7), decoded from the 12 packed bytes as block_decode.h's k4_scale_min does, four at once.
struct Q4kHead {
    float d, dmin;
    unsigned scale_lo, scale_hi, min_lo, min_hi;
    __device__ int scale(int u) const { return static_cast<int>(((u < 4 ? scale_lo : scale_hi) >> (8 * (u % 4))) & 0xffu); }
};
__device__ Q4kHead q4k_head(uint4 h) {
    return {__half2float(__ushort_as_half(static_cast<unsigned short>(h.x & 0xffffu))),
            __half2float(__ushort_as_half(static_cast<unsigned short>(h.x >> 16))),
            h.y & 0x3f3f3f3fu,
            (h.w & 0x0f0f0f0fu) | ((h.y >> 2) & 0x30303030u),
            h.z & 0x3f3f3f3fu,
            ((h.w >> 4) & 0x0f0f0f0fu) | ((h.z >> 2) & 0x30303030u)};
}

// Two small integers as one register of two f16 (exact: below 2048, or multiples of 64 below 4096).
__device__ unsigned half2_bits(int a, int b) {
    const __half2 h = __floats2half2_rn(static_cast<float>(a), static_cast<float>(b));
    return *reinterpret_cast<const unsigned*>(&h);
}

// How a product's steps are split among blocks (blockIdx.z): `per_split` steps each.
struct Split {
    int64_t splits, per_split;
};

// One block: rows blockIdx.x * 64.., tokens blockIdx.y * 8 NT.., the steps of split blockIdx.z;
// warp w the 16 rows 16w.. of them. Where the steps are split, each block leaves its sums in
// `partials` and the last block of a tile to finish adds them up in the order of the splits (so
// the result does not depend on which finished when) and resets the tile's counter.
template <int NT>
__global__ void __launch_bounds__(kThreads) q4k_tiles_kernel(ProductParams p, const int8_t* xq, const float* xd,
                                                             Split split, SplitWorkspace ws) {
    gpu_kernel_prologue();
    using S = Stage<NT>;
    constexpr int kTokens = S::kTokens;
    extern __shared__ __align__(16) uint8_t shared[];
    constexpr int kStages = S::kStages;
    uint2* unit_sums = reinterpret_cast<uint2*>(shared + kStages * S::kBytes);  // [token][pair of units]

    const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
    const int g = lane / 4, t = lane % 4;
    const int64_t row0 = blockIdx.x * int64_t{kTileRows}, tok0 = blockIdx.y * int64_t{kTokens};
    const int64_t all_steps = p.cols / 256, first = blockIdx.z * split.per_split;
    const int64_t steps = min(split.per_split, all_steps - first);  // of this block

    // Step `step`'s blocks, levels and scales into its stage; rows and tokens past the ends repeat
    // the last one (their results are never stored).
    const auto stage = [&](int64_t step) {
        uint8_t* s = shared + (step % kStages) * S::kBytes;
        for (int i = static_cast<int>(threadIdx.x); i < kTileRows * (kBlockBytes / 16); i += kThreads) {
            const int r = i / (kBlockBytes / 16), piece = i % (kBlockBytes / 16);
            const int64_t row = min(row0 + r, p.rows - 1);
            gpu_copy_async16(s + r * kRowStride + 16 * piece,
                             p.w + row * p.row_bytes + (first + step) * kBlockBytes + 16 * piece);
        }
        for (int i = static_cast<int>(threadIdx.x); i < kTokens * 16; i += kThreads) {
            const int tok = i / 16, piece = i % 16;
            const int64_t x_row = min(tok0 + tok, p.y_rows - 1);
            gpu_copy_async16(s + S::kLevels + tok * kTokenStride + 16 * piece,
                             xq + x_row * p.cols + (first + step) * 256 + 16 * piece);
        }
        for (int tok = static_cast<int>(threadIdx.x); tok < kTokens; tok += kThreads)
            gpu_copy_async4(s + S::kScales + 4 * tok, xd + min(tok0 + tok, p.y_rows - 1) * all_steps + first + step);
    };

    float y[NT][4] = {};
    for (int k = 0; k < kStages - 1; ++k) {
        if (k < steps) stage(k);
        gpu_copy_commit();
    }
    for (int64_t step = 0; step < steps; ++step) {
        gpu_copy_wait_pending<kStages - 2>();
        __syncthreads();  // this step's stage is in, and every warp is done with the step before
        if (step + kStages - 1 < steps) stage(step + kStages - 1);
        gpu_copy_commit();
        const uint8_t* s = shared + (step % kStages) * S::kBytes;
        const int8_t* levels = reinterpret_cast<const int8_t*>(s + S::kLevels);
        const float* scales = reinterpret_cast<const float*>(s + S::kScales);

        // Each token's level sums of units 2j and 2j + 1, as 64 h + l (0 <= l < 64) in the layout
        // of the minimum mma's B fragment: (l, l) then (h, h).
        for (int i = static_cast<int>(threadIdx.x); i < kTokens * 4; i += kThreads) {
            const int tok = i / 4, pair = i % 4;
            const int4* x = reinterpret_cast<const int4*>(levels + tok * kTokenStride + 64 * pair);
            int sum[2];
            RF_UNROLL for (int k = 0; k < 2; ++k) {
                const int4 a = x[2 * k], b = x[2 * k + 1];
                sum[k] = dp4a(kOnes, a.x, dp4a(kOnes, a.y, dp4a(kOnes, a.z, dp4a(kOnes, a.w, 0))));
                sum[k] = dp4a(kOnes, b.x, dp4a(kOnes, b.y, dp4a(kOnes, b.z, dp4a(kOnes, b.w, sum[k]))));
            }
            unit_sums[i] = make_uint2(half2_bits(sum[0] & 63, sum[1] & 63), half2_bits(sum[0] >> 6, sum[1] >> 6));
        }
        __syncthreads();

        const uint8_t* w0 = s + (16 * warp + g) * kRowStride;
        const uint8_t* w1 = w0 + 8 * kRowStride;
        const Q4kHead h0 = q4k_head(*reinterpret_cast<const uint4*>(w0));
        const Q4kHead h1 = q4k_head(*reinterpret_cast<const uint4*>(w1));
        int sums[NT][4] = {};  // S of this step
        RF_UNROLL for (int c = 0; c < 4; ++c) {
            const uint2 q0 = *reinterpret_cast<const uint2*>(w0 + 16 + 32 * c + 8 * t);
            const uint2 q1 = *reinterpret_cast<const uint2*>(w1 + 16 + 32 * c + 8 * t);
            RF_UNROLL for (int half = 0; half < 2; ++half) {
                const int u = 2 * c + half, shift = 4 * half;
                const unsigned a0 = (q0.x >> shift) & 0x0f0f0f0fu, a1 = (q1.x >> shift) & 0x0f0f0f0fu;
                const unsigned a2 = (q0.y >> shift) & 0x0f0f0f0fu, a3 = (q1.y >> shift) & 0x0f0f0f0fu;
                const int sc0 = h0.scale(u), sc1 = h1.scale(u);
                RF_UNROLL for (int n = 0; n < NT; ++n) {
                    const uint2 b = *reinterpret_cast<const uint2*>(levels + (8 * n + g) * kTokenStride + 32 * u + 8 * t);
                    int r[4] = {};
                    gpu_mma_s8_k32(r, a0, a1, a2, a3, b.x, b.y);
                    sums[n][0] += sc0 * r[0];
                    sums[n][1] += sc0 * r[1];
                    sums[n][2] += sc1 * r[2];
                    sums[n][3] += sc1 * r[3];
                }
            }
        }
        // M: rows' minima of units 2t, 2t + 1 (k = 2t, 2t + 1 against l; k = 8 + 2t.. against h).
        const int shift = 16 * (t % 2);
        const unsigned m0 = (t < 2 ? h0.min_lo : h0.min_hi) >> shift, m1 = (t < 2 ? h1.min_lo : h1.min_hi) >> shift;
        const int m0a = static_cast<int>(m0 & 0xffu), m0b = static_cast<int>((m0 >> 8) & 0xffu);
        const int m1a = static_cast<int>(m1 & 0xffu), m1b = static_cast<int>((m1 >> 8) & 0xffu);
        const unsigned ma0 = half2_bits(m0a, m0b), ma1 = half2_bits(m1a, m1b);
        const unsigned ma2 = half2_bits(64 * m0a, 64 * m0b), ma3 = half2_bits(64 * m1a, 64 * m1b);
        RF_UNROLL for (int n = 0; n < NT; ++n) {
            const uint2 b = unit_sums[(8 * n + g) * 4 + t];
            float m[4] = {};
            gpu_mma_f16_k16(m, ma0, ma1, ma2, ma3, b.x, b.y);
            const float x0 = scales[8 * n + 2 * t], x1 = scales[8 * n + 2 * t + 1];
            y[n][0] += (h0.d * x0) * static_cast<float>(sums[n][0]) - (h0.dmin * x0) * m[0];
            y[n][1] += (h0.d * x1) * static_cast<float>(sums[n][1]) - (h0.dmin * x1) * m[1];
            y[n][2] += (h1.d * x0) * static_cast<float>(sums[n][2]) - (h1.dmin * x0) * m[2];
            y[n][3] += (h1.d * x1) * static_cast<float>(sums[n][3]) - (h1.dmin * x1) * m[3];
        }
    }

    if (split.splits > 1) {
        // This block's sums, each thread's at its own places of the tile's slice of partials.
        const int64_t tile = blockIdx.y * int64_t{gridDim.x} + blockIdx.x;
        const int64_t tiles = int64_t{gridDim.x} * gridDim.y, slice = int64_t{kThreads} * NT * 4;
        RF_UNROLL for (int i = 0; i < NT * 4; ++i)
            ws.partials[(blockIdx.z * tiles + tile) * slice + i * kThreads + threadIdx.x] = y[i / 4][i % 4];
        __threadfence();  // the sums reach memory before the counter says so
        __shared__ int last;
        __syncthreads();
        if (threadIdx.x == 0) {
            last = atomicAdd(&ws.counters[tile], 1) == split.splits - 1;
            if (last) ws.counters[tile] = 0;  // for the next launch
        }
        __syncthreads();
        if (!last) return;
        __threadfence();
        // Split by split, all of a split's loads in flight at once (one round trip to L2 each;
        // summed value by value, each value's loads waited for the last value's sum: about 20 µs
        // a tile at 64 tokens, by the products benchmark's timings).
        RF_UNROLL for (int i = 0; i < NT * 4; ++i) y[i / 4][i % 4] = 0.0f;
        for (int64_t z = 0; z < split.splits; ++z) {
            const float* part = &ws.partials[(z * tiles + tile) * slice + threadIdx.x];
            RF_UNROLL for (int i = 0; i < NT * 4; ++i) y[i / 4][i % 4] += gpu_load_coherent(part + i * kThreads);
        }
    }
    RF_UNROLL for (int n = 0; n < NT; ++n)
        RF_UNROLL for (int e = 0; e < 4; ++e) {
            const int64_t r = row0 + 16 * warp + g + 8 * (e / 2), tok = tok0 + 8 * n + 2 * t + e % 2;
            if (r < p.rows && tok < p.y_rows) {
                float& out = p.y[tok * p.y_stride + r];
                out = p.accumulate ? out + y[n][e] : y[n][e];
            }
        }
}

int tile_tokens(int64_t y_rows) {
    return y_rows <= 8 ? 8 : y_rows <= 16 ? 16 : y_rows <= 32 ? 32 : kMaxTileTokens;
}

// The grid: tiles of kTileRows weight rows (x) by tile_tokens tokens (y).
dim3 tile_grid(int64_t rows, int64_t y_rows) {
    const int64_t tokens = tile_tokens(y_rows);
    return {static_cast<unsigned>((rows + kTileRows - 1) / kTileRows), static_cast<unsigned>((y_rows + tokens - 1) / tokens)};
}

int64_t tile_count(int64_t rows, int64_t y_rows) {
    const dim3 grid = tile_grid(rows, y_rows);
    return int64_t{grid.x} * grid.y;
}

// Tiles too few to give every SM of a large card two blocks (132 SMs on an H100) split their
// steps, as far as all the blocks still run at once (a second wave of blocks would cost more than
// the split brings: measured, gate at 224 tiles took 40 -> 60 µs split in two), at least two steps
// a split (the pipeline's depth) and at most 16 splits.
constexpr int64_t kResidentBlocks = 264, kMinSplitSteps = 2, kMaxSplits = 16;

Split pick_split(int64_t rows, int64_t y_rows, int64_t cols) {
    const int64_t steps = cols / 256, tiles = tile_count(rows, y_rows);
    const int64_t wanted = std::clamp<int64_t>(kResidentBlocks / tiles, 1,
                                               std::min(kMaxSplits, std::max<int64_t>(1, steps / kMinSplitSteps)));
    const int64_t per_split = (steps + wanted - 1) / wanted;
    return {(steps + per_split - 1) / per_split, per_split};
}

template <int NT>
gpuError_t launch_tiles(gpuStream_t stream, const ProductParams& p, const int8_t* xq, const float* xd,
                        const SplitWorkspace& ws) {
    const auto kernel = q4k_tiles_kernel<NT>;
    constexpr auto bytes = static_cast<int>(Stage<NT>::kShared);
    if (gpuError_t err = gpuFuncSetAttribute(reinterpret_cast<const void*>(kernel), gpuFuncAttributeMaxDynamicSharedMemorySize, bytes);
        err != gpuSuccess)
        return err;
    const dim3 grid = tile_grid(p.rows, p.y_rows);  // (tile_tokens is 8 * NT)
    Split split = pick_split(p.rows, p.y_rows, p.cols);
    if (split.splits > 1 && (!ws.partials || !ws.counters || ws.n_counters < tile_count(p.rows, p.y_rows) ||
                             ws.partial_floats < int8_tiles_partial_floats(p.rows, p.y_rows, p.cols)))
        split = {1, p.cols / 256};  // no room: one block per tile
    gpu_launch(kernel, dim3(grid.x, grid.y, static_cast<unsigned>(split.splits)), kThreads, bytes, stream, p, xq, xd,
               split, ws);
    return gpuGetLastError();
}

}  // namespace

size_t int8_tiles_partial_floats(int64_t rows, int64_t y_rows, int64_t cols) {
    if (rows <= 0 || y_rows <= 0 || cols < 256) return 0;
    const Split split = pick_split(rows, y_rows, cols);
    if (split.splits <= 1) return 0;
    return static_cast<size_t>(split.splits * tile_count(rows, y_rows) * kTileRows * tile_tokens(y_rows));
}

bool int8_tiles_supports(TensorType type, const uint8_t* w, size_t row_bytes, int64_t cols) {
#if defined(ROCMFORGE_USE_HIP)
    // Its 74-90 KB of shared memory a block are more than AMD's 64 KB: the untiled kernel there.
    (void)type, (void)w, (void)row_bytes, (void)cols;
    return false;
#else
    const auto aligned = [](uint64_t v) { return v % 16 == 0; };
    return type == TensorType::Q4_K && cols > 0 && cols % 256 == 0 && aligned(reinterpret_cast<uintptr_t>(w)) &&
           aligned(row_bytes) && row_bytes == static_cast<size_t>(cols / 256 * kBlockBytes);
#endif
}

gpuError_t launch_int8_tiles(gpuStream_t stream, const int8_t* xq, const float* xd, const ProductParams& p,
                             const SplitWorkspace& ws) {
    if (p.y_rows == 0) return gpuSuccess;
    if (p.ids || p.type != TensorType::Q4_K || p.y_rows > kMaxGridRows * 8) return gpuErrorInvalidValue;
    switch (tile_tokens(p.y_rows)) {
        case 8: return launch_tiles<1>(stream, p, xq, xd, ws);
        case 16: return launch_tiles<2>(stream, p, xq, xd, ws);
        case 32: return launch_tiles<4>(stream, p, xq, xd, ws);
        default: static_assert(kMaxTileTokens == 64); return launch_tiles<8>(stream, p, xq, xd, ws);
    }
}

}  // namespace rf::gpu
