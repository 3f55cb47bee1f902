// The CUDA backend's kernel launchers: plain functions over device pointers that enqueue one
// kernel family on a stream and return the launch error. Defined in the .cu files (device code);
// the backend's methods (.cpp, host code) check shapes, call these and turn codes into Errors.
// Only this header and gpu_runtime.h are shared by host and device code.
#pragma once

#include <cstdint>

#include "backend/cuda/gpu_runtime.h"
#include "gguf/tensor_type.h"

namespace rf::gpu {

// `rows` rows of `cols` f32 values in device memory, row r at data + r * stride.
struct Mat {
    float* data;
    int64_t rows, cols, stride;
};

// Weight bytes that a small kernel asks the memory system to bring into L2 while it runs: those of
// the product that follows it, so that the kernel's time (and the launch gap after it) also moves
// the product's first bytes, where the memory would otherwise idle. Up to three ranges (Q, K and V
// in one launch). A hint: it changes nothing but time. The CUDA backend learns which product
// follows which kernel from the step before (cuda_ops.cpp).
struct L2Prefetch {
    static constexpr int kRanges = 3;
    const void* data[kRanges];
    int64_t bytes[kRanges];
};

// Codes kernels leave in the backend's fault word (the first one set wins).
enum KernelFault : int {
    kFaultNone = 0,
    kFaultTokenId = 1,    // embed: id outside the table
    kFaultExpertId = 2,   // expert product: id outside the stack
    kFaultCacheSlot = 3,  // store_kv / attention: slot or block outside the cache
    kFaultRow = 4,        // gather_rows: row outside the input
};

// Kernels that take one row per grid row take at most this many rows.
inline constexpr int64_t kMaxGridRows = 65535;
// Attention keeps a head's output in registers: head sizes up to this many values.
inline constexpr int64_t kMaxHeadDim = 512;

// ---- cuda_elementwise.cu ----
enum class MapOp { Add, AddBias, Scale, Softcap, Silu, GeluTanh };
// out = op(a, b): a + b, a + bias[col] (b.data is the bias), a * s, s * tanh(a / s), act(a) * b.
gpuError_t launch_map(gpuStream_t stream, MapOp op, Mat a, Mat b, float s, Mat out);
gpuError_t launch_softmax(gpuStream_t stream, Mat x);
// The gated activation (Silu, GeluTanh) of launch_map that also packs `out` as launch_rms_norm_packed does.
gpuError_t launch_gated_packed(gpuStream_t stream, MapOp op, Mat gate, Mat up, Mat out, int format, void* scratch,
                               const L2Prefetch& prefetch);
gpuError_t launch_gather(gpuStream_t stream, Mat x, const int32_t* rows, Mat out, int* fault);

// ---- cuda_norm_rope.cu ----
// Each row of x is `groups` groups of n values, each normalized on its own.
gpuError_t launch_rms_norm(gpuStream_t stream, Mat x, int64_t groups, int64_t n, const float* weight, float eps, Mat out);
struct RopeParams {
    int64_t n_heads, head_dim, half;
    bool neox;
    float theta_scale, freq_scale, ext_factor, mscale, ramp_low, ramp_high;
    const float* freq_factors;
};
gpuError_t launch_rope(gpuStream_t stream, Mat x, const int32_t* positions, const RopeParams& p);

// launch_rms_norm of whole rows that also leaves `out` in `scratch` as launch_gemv_quantize would
// for weights of input format `format` (gemv_input_format), in the same launch.
gpuError_t launch_rms_norm_packed(gpuStream_t stream, Mat x, const float* weight, float eps, Mat out, int format, void* scratch,
                                  const L2Prefetch& prefetch);

// ---- cuda_attention.cu ----
gpuError_t launch_store_kv(gpuStream_t stream, bool f16, Mat k, Mat v, void* keys, void* values, const int32_t* slots,
                           int64_t n_slots, int* fault);
// launch_rope of q (p.n_heads heads) and of k (k.cols / p.head_dim heads), then launch_store_kv,
// in one launch.
gpuError_t launch_rope_store_kv(gpuStream_t stream, bool f16, Mat q, Mat k, Mat v, const int32_t* positions,
                                const RopeParams& p, void* keys, void* values, const int32_t* slots, int64_t n_slots,
                                int* fault);
struct AttentionParams {
    const float* q;
    int64_t q_stride;
    float* out;
    int64_t out_stride;
    int64_t n_tokens, n_heads, n_kv_heads, head_dim_k, head_dim_v;
    float scale, softcap;
    int64_t sliding_window;
    const int32_t* positions;
    const int32_t* seq_rows;
    const int32_t* block_tables;
    int64_t n_seq_rows, max_blocks_per_seq, block_size, n_blocks;
};
// How the keys are cut: `splits` ranges of `keys` positions each; with more than one split,
// `partial` holds n_tokens * n_heads * splits * (head_dim_v + 2) floats.
struct AttentionSplit {
    int64_t splits, keys;
    float* partial;
};
inline constexpr int64_t kMaxAttentionSplits = 64;  // what the merge kernel takes
// The split for tokens whose positions are below max_keys (partial left for the caller to set).
AttentionSplit attention_split(int64_t n_tokens, int64_t n_heads, int64_t max_keys);
gpuError_t launch_attention(gpuStream_t stream, bool f16, const AttentionParams& p, const void* keys, const void* values,
                            const AttentionSplit& split, int* fault);
#if defined(__CUDACC__) || defined(__HIPCC__)
// The block's share of `pf`, in pieces of 64 KiB spread over the grid's blocks, each piece one
// bulk prefetch into L2 by the block's first thread (Hopper's cp.async.bulk; elsewhere nothing).
// The instruction takes 16-byte aligned addresses and sizes: each range is trimmed to those.
__device__ inline void prefetch_to_l2(const L2Prefetch& pf) {
#if !defined(ROCMFORGE_USE_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (threadIdx.x + threadIdx.y + threadIdx.z != 0) return;
    constexpr int64_t kPiece = 64 * 1024;
    const int64_t blocks = int64_t{gridDim.x} * gridDim.y * gridDim.z;
    int64_t piece = blockIdx.x + int64_t{gridDim.x} * (blockIdx.y + int64_t{gridDim.y} * blockIdx.z);
    for (int r = 0; r < L2Prefetch::kRanges; ++r) {
        const auto start = reinterpret_cast<uintptr_t>(pf.data[r]), skip = (16 - start % 16) % 16;
        const int64_t bytes = pf.bytes[r] > static_cast<int64_t>(skip) ? (pf.bytes[r] - skip) / 16 * 16 : 0;
        const int64_t pieces = (bytes + kPiece - 1) / kPiece;
        for (; piece < pieces; piece += blocks) {
            const auto n = static_cast<unsigned>(min(kPiece, bytes - piece * kPiece));
            const char* at = reinterpret_cast<const char*>(start + skip) + piece * kPiece;
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(__cvta_generic_to_global(at)), "r"(n)
                         : "memory");
        }
        piece -= pieces;  // numbered from the next range's start
    }
#else
    (void)pf;
#endif
}

// The keys [first, last] that token t sees in split blockIdx.z (of split_keys positions each),
// and its sequence's block table; false for a position past the splits' reach (past what the host
// said the batch's last position is, or past the block table) or a bad sequence row, which
// thread 0 reports as a cache fault, as a missing block would be.
struct KeyRange {
    int64_t first, last;
    const int32_t* table;
};
__device__ inline bool key_range(const AttentionParams& p, int64_t t, int64_t split_keys, int* fault, KeyRange& r) {
    const int64_t pos = p.positions[t], seq_row = p.seq_rows[t];
    if (pos < 0 || pos >= gridDim.z * split_keys || seq_row < 0 || (p.n_seq_rows > 0 && seq_row >= p.n_seq_rows)) {
        if (threadIdx.x == 0) atomicCAS(fault, kFaultNone, kFaultCacheSlot);
        return false;
    }
    const int64_t window_first = p.sliding_window > 0 ? max(int64_t{0}, pos - p.sliding_window + 1) : 0;
    r.table = p.block_tables + seq_row * p.max_blocks_per_seq;
    r.first = max(window_first, blockIdx.z * split_keys);
    r.last = min(pos, (blockIdx.z + 1) * split_keys - 1);
    return true;
}
#endif
// The splits' partial results (n_tokens x n_heads x splits, at most kMaxAttentionSplits) merged into p.out.
gpuError_t launch_merge_attention_splits(gpuStream_t stream, const AttentionParams& p, int64_t splits, const float* partial);

// ---- cuda_decode_attention.cu ----
// Attention for the few tokens of a decode step: one block per (token, KV head, split) for all the
// query heads that share the KV head (at most kDecodeMaxGroup), tiles of keys copied to shared
// memory. Takes head sizes that are multiples of 8 and a 16-byte aligned cache.
inline constexpr int64_t kDecodeMaxGroup = 8;
bool decode_attention_supports(bool f16, const AttentionParams& p, const void* keys, const void* values);
AttentionSplit decode_attention_split(bool f16, const AttentionParams& p, int64_t max_keys);
gpuError_t launch_decode_attention(gpuStream_t stream, bool f16, const AttentionParams& p, const void* keys,
                                   const void* values, const AttentionSplit& split, int* fault,
                                   const L2Prefetch& prefetch);

// ---- cuda_experts.cu ----
gpuError_t launch_route(gpuStream_t stream, Mat logits, int64_t k, bool normalize, int32_t* ids, float* weights);
gpuError_t launch_combine(gpuStream_t stream, Mat x, const float* weights, int64_t k, Mat out);

// ---- cuda_matmul.cu ----
// The formats with kernels; every other type is converted at load (cuda_backend.cpp).
#define RF_GPU_QUANTIZED_FORMATS(X) \
    X(Q4_0) X(Q4_1) X(Q5_0) X(Q5_1) X(Q8_0) X(Q2_K) X(Q3_K) X(Q4_K) X(Q5_K) X(Q6_K) X(IQ4_NL) X(IQ4_XS) X(MXFP4)
#define RF_GPU_FORMATS(X) X(F32) X(F16) X(BF16) RF_GPU_QUANTIZED_FORMATS(X)
// Whether products and lookups read `type` directly (others are converted at load).
bool has_gpu_kernel(TensorType type);
// Values per activation-rounding block for weights of `type` (1, 32 or 256).
int rounding_block(TensorType type);
struct ProductParams {
    TensorType type;
    const uint8_t* w;
    size_t row_bytes, matrix_bytes;
    int64_t rows, cols, count;
    float* y;
    int64_t y_rows, y_stride;
    const int32_t* ids;  // expert per y row, or null
    int64_t k;           // y rows per token (experts)
    int* fault;
    bool accumulate = false;  // y += W x (the sum y + (W x) of an add after the product)
};
#if defined(__CUDACC__) || defined(__HIPCC__)
// The matrix that y row y reads: W itself, or with expert ids the matrix of the stack the row's id
// picks; null for an id outside the stack, which `report` records as a fault.
__device__ inline const uint8_t* product_matrix(const ProductParams& p, int64_t y, bool report) {
    if (!p.ids) return p.w;
    const int32_t e = p.ids[y];
    if (e < 0 || e >= p.count) {
        if (report) atomicCAS(p.fault, kFaultNone, kFaultExpertId);
        return nullptr;
    }
    return p.w + e * p.matrix_bytes;
}
#endif
// Rounds x into `packed` (x.rows * x.cols floats) as the CPU rounds activations for `p.type`
// weights, then y = W x (with ids: each y row through the matrix of the stack its id picks, from
// x row i when x has a row per y row, else i / k).
gpuError_t launch_product(gpuStream_t stream, Mat x, float* packed, const ProductParams& p);
// x rounded as launch_product rounds it, into `packed` (x.rows * x.cols floats).
gpuError_t launch_round(gpuStream_t stream, TensorType weight_type, Mat x, float* packed);
gpuError_t launch_embed(gpuStream_t stream, TensorType type, const uint8_t* table, size_t row_bytes, int64_t n_rows,
                        const int32_t* ids, Mat out, int* fault);

// ---- cuda_half_products.cu ----
// Prompt-sized products go through the BLAS library's tensor-core products (cuda_ops.cpp): 16-bit
// operands, f32 sums, y = alpha * W x. The activations are rounded as launch_round rounds them,
// then stored as bf16 for BF16 weights (exact) or else as f16 scaled by a power of two for the
// whole batch (largest value in [2^14, 2^15); alpha undoes it). Quantized weights are decoded to
// f16 rows; F16 and BF16 weights are used as stored.
enum class HalfInput { ScaledF16, BF16 };
HalfInput half_input_kind(TensorType weight_type);
// Which 16-bit input a weight type's products read (by its activation rounding): equal for two
// types, one launch_half_input serves both. Negative, so never equal to a gemv_input_format.
int half_input_format(TensorType weight_type);
// Scratch bytes launch_half_input needs for an x of rows x cols.
size_t half_input_bytes(int64_t rows, int64_t cols);
// Where launch_half_input leaves, in its scratch, the 16-bit x (rows x cols values, dense) and
// {alpha, beta} for the product.
struct HalfInputView {
    const void* x;
    const float* alpha_beta;
};
HalfInputView half_input_view(void* scratch, int64_t rows, int64_t cols);
gpuError_t launch_half_input(gpuStream_t stream, TensorType weight_type, Mat x, void* scratch);
// Rows [first_row, first_row + n_rows) of a quantized W as f16, n_rows x cols (cols whole units of 32).
gpuError_t launch_decode_rows_half(gpuStream_t stream, TensorType type, const uint8_t* w, size_t row_bytes,
                                   int64_t first_row, int64_t n_rows, int64_t cols, void* out);

// ---- cuda_gemv.cu ----
// Whether launch_gemv takes this weight matrix: F16, BF16, Q4_0, Q8_0, Q4_K or Q6_K, whole blocks
// per row, aligned for the format's loads.
bool gemv_supports(TensorType type, const uint8_t* w, size_t row_bytes, size_t matrix_bytes, int64_t cols);
size_t gemv_scratch_bytes(int64_t x_rows, int64_t cols);
// Which quantization of the input a weight type's products read: equal for two types, one
// launch_gemv_quantize serves both.
int gemv_input_format(TensorType type);
// How launch_gemv lays out its work (the backend's settings; the products benchmark compares them).
struct GemvOptions {
    // Rows of 8,192 values or more of Q4_K, F16 and BF16 each shared by four groups of lanes: the
    // same products, summed in another (fixed) order (ROCMFORGE_GPU_GEMV_SPLIT=1: on; off until
    // measured on a card).
    bool split_long_rows = false;
    // One token's rows of up to 4,096 Q4_K values taken this many at a time by a group of lanes,
    // the next row's loads in flight while the current one is summed (1: a row a group; the same
    // sums either way). ROCMFORGE_GPU_GEMV_ROWS sets it (at most 64).
    int rows_per_group = 1;
};
// The product of launch_product on the same rounded values, for few tokens at the memory
// bandwidth (the sums are exact integers scaled per block, so the bits differ from
// launch_product's: choose per matrix, never per batch), in two launches: x quantized into
// `scratch` (gemv_scratch_bytes) as int8 levels with block scales (or 16-bit values), then integer
// dot products over the quantized x of x_rows rows.
gpuError_t launch_gemv_quantize(gpuStream_t stream, TensorType type, Mat x, void* scratch);
gpuError_t launch_gemv(gpuStream_t stream, int64_t x_rows, const void* scratch, const ProductParams& p,
                       const GemvOptions& options);
// launch_gemv of n (at most kMaxGemvGroup) products of the same input in one launch: one weight
// type, width and token count, no expert ids; each y gets what launch_gemv would write.
inline constexpr int kMaxGemvGroup = 3;
gpuError_t launch_gemv_group(gpuStream_t stream, int64_t x_rows, const void* scratch, const ProductParams* ps, int n,
                             const GemvOptions& options);
// Where launch_gemv_quantize leaves the int8 levels (x_rows x cols, dense) and the scale of each
// rounding block (x_rows x cols / block) in its scratch.
struct GemvInput {
    const void* values;
    const float* scales;
};
GemvInput gemv_input_view(const void* scratch, int64_t x_rows, int64_t cols);
// Whether ops that write a product's input can also pack it in this input format (the int8
// ones: Q8_0 and Q8_K blocks) for rows of `cols` values.
bool packable_format(int format, int64_t cols);

// Where a product's inputs are split among blocks (too few tiles of rows to fill the card), room
// for their partial sums and a counter per tile: zero before the first launch, and each launch
// leaves them zero. Without room enough, a launch does not split.
struct SplitWorkspace {
    float* partials = nullptr;
    size_t partial_floats = 0;
    int* counters = nullptr;
    int64_t n_counters = 0;
};
// Tiles of a split launch, at most (a launch is split only where its tiles are fewer than the
// blocks the card runs at once).
inline constexpr int64_t kSplitCounters = 1024;

// ---- cuda_int8_products.cu ----
// Whether launch_int8_product takes this weight matrix: Q4_0, Q8_0, Q4_K or Q6_K as gemv_supports
// takes them.
bool int8_product_supports(TensorType type, const uint8_t* w, size_t row_bytes, size_t matrix_bytes, int64_t cols);
// y = W x on int8 tensor cores over the input launch_gemv_quantize left in `scratch` (x_rows =
// p.y_rows, no expert ids): the gemv's integer sums, the weights read from memory once per launch.
// With `tiles` (the default; ROCMFORGE_GPU_INT8_TILES=0 and the products benchmark compare), Q4_K takes the
// tiles of cuda_int8_tiles.cu (with `ws`) where int8_tiles_supports; the rest the kernel here
// (tiles of 16 tokens sharing the weights through L2).
gpuError_t launch_int8_product(gpuStream_t stream, int64_t x_rows, const void* scratch, const ProductParams& p,
                               bool tiles, const SplitWorkspace& ws);

// ---- cuda_int8_tiles.cu ----
// The floats of partial sums a product of rows x cols by y_rows tokens needs (0: it is not split).
size_t int8_tiles_partial_floats(int64_t rows, int64_t y_rows, int64_t cols);
// Whether launch_int8_tiles takes this weight matrix: Q4_K, rows of whole blocks 16-byte aligned.
bool int8_tiles_supports(TensorType type, const uint8_t* w, size_t row_bytes, int64_t cols);
// y = W x for a Q4_K W over the gemv's Q8_K input (levels xq, scales xd) in tiles of 64 rows by up
// to 64 tokens: each weight byte read and unpacked once, the gemv's integer sums per block.
gpuError_t launch_int8_tiles(gpuStream_t stream, const int8_t* xq, const float* xd, const ProductParams& p,
                             const SplitWorkspace& ws);

// ---- self_test.cu ----
gpuError_t launch_self_test(int* out, int n);

}  // namespace rf::gpu
