// Products of a few to a few dozen tokens (the batched steps of serving, one token per sequence,
// and short prompts) on int8 tensor cores, reading the weights from memory once per launch (its
// token tiles share them through L2). The activations are the gemv's (cuda_gemv.cu): int8 levels
// with a scale per 32 or 256 values, as the CPU rounds them. Weights are unpacked in registers to
// int8 levels lined up with the mma's A fragment, 32 values (a unit) at a time, each unit with a
// float scale (and for Q4_K a minimum):
//   y[t][r] = sum over units u of  scale[r][u] * xd[t][u] * (sum_i q[r][i] x[t][i])
//                                  - min[r][u] * xd[t][u] * (sum_i x[t][i])
// The integer sums are exact, so the result is the gemv's up to float rounding of the sum over units.
// Steps of 256 input values are staged in shared memory (token rows padded so that a warp's
// fragment loads hit 32 banks), each warp runs one mma per unit and 8 tokens.
#include <algorithm>

#include "backend/cuda/block_dot.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

constexpr int kWarps = 4, kThreads = 32 * kWarps;
constexpr int kStepValues = 256, kUnits = kStepValues / 32;
constexpr int kStagedBytes = kStepValues + 16;  // per token; the padding spreads fragment loads over the banks

// One thread's share of a weight row's unit: lo = values 4t..4t+3, hi = values 16+4t..16+4t+3 as
// packed int8 (t = the lane's index in its group of 4), and the unit's scale(s) and minimum. Q6_K
// scales 16 values: lo and hi have their own scale and take an mma each.
struct UnitRow {
    unsigned lo, hi;
    float scale_lo, scale_hi, min;
};

// Packed bytes b (each below 128) minus k, byte by byte, as int8.
__device__ __forceinline__ unsigned bytes_minus(unsigned b, unsigned k) { return ((b | 0x80808080u) - k) ^ 0x80808080u; }

template <TensorType T> struct Int8Format;

// Q8_0: F16 d, 32 int8 levels.
template <> struct Int8Format<TensorType::Q8_0> {
    static constexpr int kValues = 32, kBytes = 34, kActBlock = 32;
    static constexpr bool kMin = false, kSplitScales = false;
    struct Block {
        float d;
        unsigned lo, hi;
    };
    __device__ static Block load(const uint8_t* b, int t) {
        return {load_half_a2(b), load_u32_a2(b + 2 + 4 * t), load_u32_a2(b + 18 + 4 * t)};
    }
    __device__ static UnitRow unit(const Block& b, int) { return {b.lo, b.hi, b.d, b.d, 0.0f}; }
};

// Q4_0: F16 d, low nibbles values 0..15, high nibbles 16..31, each d * (q - 8).
template <> struct Int8Format<TensorType::Q4_0> {
    static constexpr int kValues = 32, kBytes = 18, kActBlock = 32;
    static constexpr bool kMin = false, kSplitScales = false;
    struct Block {
        float d;
        unsigned q;
    };
    __device__ static Block load(const uint8_t* b, int t) { return {load_half_a2(b), load_u32_a2(b + 2 + 4 * t)}; }
    __device__ static UnitRow unit(const Block& b, int) {
        return {bytes_minus(b.q & 0x0f0f0f0fu, 0x08080808u), bytes_minus((b.q >> 4) & 0x0f0f0f0fu, 0x08080808u), b.d, b.d,
                0.0f};
    }
};

// Q4_K: F16 d and dmin, 12 bytes of 6-bit scales and minima, 4 chunks of 32 bytes (unit 2c: the
// low nibbles of chunk c, unit 2c + 1: its high nibbles); a value is d * scale * q - dmin * min.
template <> struct Int8Format<TensorType::Q4_K> {
    static constexpr int kValues = 256, kBytes = 144, kActBlock = 256;
    static constexpr bool kMin = true, kSplitScales = false;
    struct Block {
        Words4 head;     // d and dmin, then the scale bytes
        unsigned q[4][2];  // chunk c, bytes 4t.. and 16 + 4t..
    };
    __device__ static Block load(const uint8_t* b, int t) {
        Block blk;
        blk.head = load_words4_a16(b);
        RF_UNROLL for (int c = 0; c < 4; ++c) {
            blk.q[c][0] = static_cast<unsigned>(load_i32_a4(b + 16 + 32 * c + 4 * t));
            blk.q[c][1] = static_cast<unsigned>(load_i32_a4(b + 32 + 32 * c + 4 * t));
        }
        return blk;
    }
    __device__ static UnitRow unit(const Block& b, int u) {
        uint8_t scales[12];
        RF_UNROLL for (int k = 0; k < 12; ++k) scales[k] = static_cast<uint8_t>(b.head.v[1 + k / 4] >> (8 * (k % 4)));
        int sc, m;
        k4_scale_min(scales, u, sc, m);
        const float d = __half2float(__ushort_as_half(static_cast<unsigned short>(b.head.v[0] & 0xffffu)));
        const float dmin = __half2float(__ushort_as_half(static_cast<unsigned short>(b.head.v[0] >> 16)));
        const int shift = 4 * (u % 2);
        const float scale = d * static_cast<float>(sc);
        return {(b.q[u / 2][0] >> shift) & 0x0f0f0f0fu, (b.q[u / 2][1] >> shift) & 0x0f0f0f0fu, scale, scale,
                dmin * static_cast<float>(m)};
    }
};

// Q6_K: ql[128], qh[64], int8 scales[16] (one per 16 values), F16 d. Unit u = 4h + k of half h:
// values 32k + l (l < 32) from the low (k < 2) or high nibble of ql[64h + 32(k % 2) + l] and bits
// 2k, 2k + 1 of qh[32h + l], each d * scale * (q - 32).
template <> struct Int8Format<TensorType::Q6_K> {
    static constexpr int kValues = 256, kBytes = 210, kActBlock = 256;
    static constexpr bool kMin = false, kSplitScales = true;
    struct Block {
        float d;
        unsigned scales[4];
        unsigned ql[2][2][2];  // half, k % 2, lo / hi
        unsigned qh[2][2];     // half, lo / hi
    };
    __device__ static Block load(const uint8_t* b, int t) {
        Block blk;
        blk.d = load_half_a2(b + 208);
        RF_UNROLL for (int k = 0; k < 4; ++k) blk.scales[k] = load_u32_a2(b + 192 + 4 * k);
        RF_UNROLL for (int h = 0; h < 2; ++h)
            RF_UNROLL for (int part = 0; part < 2; ++part) {
                blk.qh[h][part] = load_u32_a2(b + 128 + 32 * h + 16 * part + 4 * t);
                RF_UNROLL for (int k = 0; k < 2; ++k) blk.ql[h][k][part] = load_u32_a2(b + 64 * h + 32 * k + 16 * part + 4 * t);
            }
        return blk;
    }
    __device__ static unsigned levels(unsigned ql, unsigned qh, int k) {
        const unsigned q = ((ql >> (4 * (k / 2))) & 0x0f0f0f0fu) | (((qh >> (2 * k)) & 0x03030303u) << 4);
        return bytes_minus(q, 0x20202020u);
    }
    __device__ static float scale(const Block& b, int i) {
        return b.d * static_cast<float>(static_cast<int8_t>(b.scales[i / 4] >> (8 * (i % 4))));
    }
    __device__ static UnitRow unit(const Block& b, int u) {
        const int h = u / 4, k = u % 4;
        return {levels(b.ql[h][k % 2][0], b.qh[h][0], k), levels(b.ql[h][k % 2][1], b.qh[h][1], k), scale(b, 8 * h + 2 * k),
                scale(b, 8 * h + 2 * k + 1), 0.0f};
    }
};

// One CUDA block: 8 * NT tokens (blockIdx.x: the blocks of one set of rows run side by side, so
// that all but the first read the weights from L2) and 16 * RowGroups weight rows (blockIdx.y).
// Its 4 warps are RowGroups groups of 16 rows times 4 / RowGroups parts of the input: part p
// takes steps p, p + parts, ... and the parts' sums are added at the end, in order. Each round the
// block stages one step per part in shared memory while it computes on the previous round's
// (double buffer, cp.async); each warp loads its next step's weight blocks into registers likewise.
template <TensorType T, int NT, int RowGroups>
__global__ void __launch_bounds__(kThreads) int8_product_kernel(ProductParams p, const int8_t* xq, const float* xd) {
    gpu_kernel_prologue();
    using F = Int8Format<T>;
    constexpr int kParts = kWarps / RowGroups, kTokens = 8 * NT;
    constexpr int kUnitsPerBlock = F::kValues / 32, kBlocksPerStep = kUnits / kUnitsPerBlock;
    __shared__ __align__(16) int8_t levels[2][kParts][kTokens][kStagedBytes];
    __shared__ __align__(8) float scales[2][kParts][kUnits][kTokens];  // xd of each unit's activation block
    __shared__ float partial[kParts > 1 ? kParts - 1 : 1][NT * 4][32];

    const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
    const int g = lane / 4, t = lane % 4, part = warp / RowGroups;
    const int64_t row0 = blockIdx.y * int64_t{16 * RowGroups} + 16 * (warp % RowGroups), tok0 = blockIdx.x * int64_t{kTokens};
    const uint8_t* rows[2] = {p.w + min(row0 + g, p.rows - 1) * p.row_bytes, p.w + min(row0 + g + 8, p.rows - 1) * p.row_bytes};
    const int64_t n_units = p.cols / 32, n_blocks = p.cols / F::kValues, act_blocks = p.cols / F::kActBlock;
    const int64_t n_steps = (n_units + kUnits - 1) / kUnits, rounds = (n_steps + kParts - 1) / kParts;
    const auto units_of = [&](int64_t step) { return static_cast<int>(min(int64_t{kUnits}, n_units - step * kUnits)); };

    // Round r's input, every part's step, into buffer r % 2.
    const auto stage = [&](int64_t r) {
        const int buf = static_cast<int>(r % 2);
        for (int j = static_cast<int>(threadIdx.x); j < kParts * kTokens * 2 * kUnits; j += kThreads) {
            const int q = j / (kTokens * 2 * kUnits), tok = j / (2 * kUnits) % kTokens, piece = j % (2 * kUnits);
            const int64_t step = r * kParts + q, x_row = min(tok0 + tok, p.y_rows - 1);
            if (step < n_steps && piece < 2 * units_of(step))
                gpu_copy_async16(&levels[buf][q][tok][16 * piece], xq + x_row * p.cols + step * kStepValues + 16 * piece);
        }
        for (int j = static_cast<int>(threadIdx.x); j < kParts * kUnits * kTokens; j += kThreads) {
            const int q = j / (kUnits * kTokens), u = j / kTokens % kUnits, tok = j % kTokens;
            const int64_t step = r * kParts + q, x_row = min(tok0 + tok, p.y_rows - 1);
            if (step < n_steps && u < units_of(step))
                gpu_copy_async4(&scales[buf][q][u][tok], xd + x_row * act_blocks + (step * kStepValues + 32 * u) / F::kActBlock);
        }
    };
    using Blocks = typename F::Block[kBlocksPerStep][2];
    const auto load_weights = [&](int64_t step, Blocks& w) {
        RF_UNROLL for (int k = 0; k < kBlocksPerStep; ++k) {
            const int64_t b = min(step * kBlocksPerStep + k, n_blocks - 1);
            RF_UNROLL for (int i = 0; i < 2; ++i) w[k][i] = F::load(rows[i] + b * F::kBytes, t);
        }
    };

    float acc[NT][4] = {};
    Blocks cur, next;
    load_weights(min(int64_t{part}, n_steps - 1), cur);
    stage(0);
    for (int64_t r = 0; r < rounds; ++r) {
        gpu_copy_wait();
        __syncthreads();  // round r is staged, and every warp is done with round r - 1's buffer
        if (r + 1 < rounds) stage(r + 1);
        const int64_t step = r * kParts + part;
        load_weights(min((r + 1) * kParts + part, n_steps - 1), next);
        const int buf = static_cast<int>(r % 2), units = step < n_steps ? units_of(step) : 0;
        RF_UNROLL for (int u = 0; u < kUnits; ++u) {
            if (u >= units) continue;  // a part without a step this round, or a last, partial step
            const UnitRow a0 = F::unit(cur[u / kUnitsPerBlock][0], u % kUnitsPerBlock);
            const UnitRow a1 = F::unit(cur[u / kUnitsPerBlock][1], u % kUnitsPerBlock);
            RF_UNROLL for (int n = 0; n < NT; ++n) {
                const int8_t* x = &levels[buf][part][8 * n + g][32 * u + 4 * t];
                const unsigned b0 = *reinterpret_cast<const unsigned*>(x), b1 = *reinterpret_cast<const unsigned*>(x + 16);
                const float2 s = *reinterpret_cast<const float2*>(&scales[buf][part][u][8 * n + 2 * t]);
                float c[4];
                if constexpr (F::kSplitScales) {
                    int lo[4] = {}, hi[4] = {};
                    gpu_mma_s8_k16(lo, a0.lo, a1.lo, b0);
                    gpu_mma_s8_k16(hi, a0.hi, a1.hi, b1);
                    RF_UNROLL for (int e = 0; e < 4; ++e) {
                        const UnitRow& a = e < 2 ? a0 : a1;
                        c[e] = a.scale_lo * static_cast<float>(lo[e]) + a.scale_hi * static_cast<float>(hi[e]);
                    }
                } else {
                    int q[4] = {};
                    gpu_mma_s8_k32(q, a0.lo, a1.lo, a0.hi, a1.hi, b0, b1);
                    RF_UNROLL for (int e = 0; e < 4; ++e) c[e] = (e < 2 ? a0 : a1).scale_lo * static_cast<float>(q[e]);
                }
                acc[n][0] += s.x * c[0];
                acc[n][1] += s.y * c[1];
                acc[n][2] += s.x * c[2];
                acc[n][3] += s.y * c[3];
                if constexpr (F::kMin) {
                    // The unit's sum of levels of token 8n + g (lanes 4g..4g+3 hold a quarter each),
                    // then of the two tokens this lane's results belong to.
                    int sum = dp4a(kOnes, static_cast<int>(b0), dp4a(kOnes, static_cast<int>(b1), 0));
                    sum += gpu_shfl_xor(sum, 1);
                    sum += gpu_shfl_xor(sum, 2);
                    const float m0 = s.x * static_cast<float>(gpu_shfl(sum, 8 * t)), m1 = s.y * static_cast<float>(gpu_shfl(sum, 8 * t + 4));
                    acc[n][0] -= a0.min * m0;
                    acc[n][1] -= a0.min * m1;
                    acc[n][2] -= a1.min * m0;
                    acc[n][3] -= a1.min * m1;
                }
            }
        }
        RF_UNROLL for (int k = 0; k < kBlocksPerStep; ++k) {
            cur[k][0] = next[k][0];
            cur[k][1] = next[k][1];
        }
    }

    if constexpr (kParts > 1) {  // the parts' sums, added in order
        if (part > 0)
            RF_UNROLL for (int i = 0; i < NT * 4; ++i) partial[part - 1][i][lane] = acc[i / 4][i % 4];
        __syncthreads();
        if (part > 0) return;
        RF_UNROLL for (int q = 0; q < kParts - 1; ++q)
            RF_UNROLL for (int i = 0; i < NT * 4; ++i) acc[i / 4][i % 4] += partial[q][i][lane];
    }
    RF_UNROLL for (int n = 0; n < NT; ++n)
        RF_UNROLL for (int e = 0; e < 4; ++e) {
            const int64_t r = row0 + g + 8 * (e / 2), y_row = tok0 + 8 * n + 2 * t + e % 2;
            if (r < p.rows && y_row < p.y_rows) {
                float& y = p.y[y_row * p.y_stride + r];
                y = p.accumulate ? y + acc[n][e] : acc[n][e];
            }
        }
}

// Enough CUDA blocks to fill a large GPU several times over: below that, the rows are split
// among fewer warps each and the input among the rest.
constexpr int64_t kWantedBlocks = 512;

template <TensorType T>
void launch_typed(gpuStream_t stream, const ProductParams& p, const int8_t* xq, const float* xd) {
    const auto launch = [&]<int NT, int RowGroups>() {
        const dim3 grid(static_cast<unsigned>((p.y_rows + 8 * NT - 1) / (8 * NT)),
                        static_cast<unsigned>((p.rows + 16 * RowGroups - 1) / (16 * RowGroups)));
        gpu_launch(int8_product_kernel<T, NT, RowGroups>, grid, kThreads, 0, stream, p, xq, xd);
    };
    const auto with_tokens = [&]<int NT>() {
        const int64_t tiles = (p.y_rows + 8 * NT - 1) / (8 * NT);
        if ((p.rows + 63) / 64 * tiles >= kWantedBlocks) launch.template operator()<NT, 4>();
        else launch.template operator()<NT, 1>();
    };
    if (p.y_rows <= 8) with_tokens.template operator()<1>();
    else with_tokens.template operator()<2>();
}

#define RF_INT8_FORMATS(X) X(Q4_0) X(Q8_0) X(Q4_K) X(Q6_K)

}  // namespace

bool int8_product_supports(TensorType type, const uint8_t* w, size_t row_bytes, size_t matrix_bytes, int64_t cols) {
    switch (type) {
#define RF_CASE(T) case TensorType::T:
        RF_INT8_FORMATS(RF_CASE)
#undef RF_CASE
        return gemv_supports(type, w, row_bytes, matrix_bytes, cols);
        default: return false;
    }
}

gpuError_t launch_int8_product(gpuStream_t stream, int64_t x_rows, const void* scratch, const ProductParams& p,
                               bool tiles, const SplitWorkspace& ws) {
    if (p.y_rows == 0) return gpuSuccess;
    if (p.ids || x_rows != p.y_rows || p.rows > kMaxGridRows * 16) return gpuErrorInvalidValue;
    const GemvInput in = gemv_input_view(scratch, x_rows, p.cols);
    const auto* xq = static_cast<const int8_t*>(in.values);
    if (tiles && int8_tiles_supports(p.type, p.w, p.row_bytes, p.cols)) return launch_int8_tiles(stream, xq, in.scales, p, ws);
    switch (p.type) {
#define RF_CASE(T) case TensorType::T: launch_typed<TensorType::T>(stream, p, xq, in.scales); break;
        RF_INT8_FORMATS(RF_CASE)
#undef RF_CASE
        default: return gpuErrorInvalidValue;
    }
    return gpuGetLastError();
}

}  // namespace rf::gpu
