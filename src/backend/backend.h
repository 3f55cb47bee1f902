// The backend interface: the few operations a transformer forward pass needs, over f32 activations
// that live in backend memory. The model composes these calls and never touches activation memory
// itself, so a GPU backend can implement the same interface (buffers are device pointers there).
//
// Token batches are flat: n_tokens rows, each with a position and a sequence id, so one call can
// serve several sequences at once. Keys and values live in a KV cache of fixed-size blocks; each
// sequence owns a block table (its logical block i lives in physical block table[i]).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "backend/weight_matrix.h"
#include "core/result.h"

namespace rf {

// `rows` rows of `cols` f32 values in backend memory, row r at data + r * stride.
struct Act {
    float* data = nullptr;
    int64_t rows = 0;
    int64_t cols = 0;
    int64_t stride = 0;  // floats between rows (>= cols)

    static Act of(const DeviceBuffer& buffer, int64_t rows, int64_t cols) {
        return {buffer.f32(), rows, cols, cols};
    }
    // Columns [first, first + count) of every row (e.g. the K part of a fused QKV projection).
    Act columns(int64_t first, int64_t count) const { return {data + first, rows, count, stride}; }
    Act first_rows(int64_t n) const { return {data, n, cols, stride}; }
};

// A vector of f32 parameters (norm weight, bias) in backend memory.
struct ParamVector {
    const float* data = nullptr;
    int64_t size = 0;
};

// Rotary position embedding. NORMAL rotates adjacent pairs (x[2i], x[2i+1]); NEOX rotates
// (x[i], x[i + n_dims/2]). Frequencies theta_i = pos * freq_scale * base^(-2i/n_dims), optionally
// divided per pair by `freq_factors` and corrected by YaRN when ext_factor > 0.
enum class RopeStyle { Normal, Neox };

struct RopeConfig {
    RopeStyle style = RopeStyle::Normal;
    int64_t n_dims = 0;         // rotated dimensions per head (<= head size)
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;    // 1 / linear scaling factor
    float ext_factor = 0.0f;    // YaRN mix; 0 disables it
    float attn_factor = 1.0f;   // YaRN magnitude scaling
    float beta_fast = 32.0f;
    float beta_slow = 1.0f;
    int64_t n_ctx_orig = 0;     // training context the YaRN correction is computed for
    ParamVector freq_factors = {};  // per-pair divisors (n_dims / 2), or empty
};

// The KV cache storage of one model: per layer, n_blocks blocks of block_size token slots, each
// slot holding n_kv_heads keys of head_dim_k and values of head_dim_v.
enum class KvType { F32, F16 };

struct KvCacheShape {
    int64_t n_layers = 0;
    int64_t n_kv_heads = 0;
    int64_t head_dim_k = 0;
    int64_t head_dim_v = 0;
    int64_t block_size = 16;
    int64_t n_blocks = 0;
    KvType type = KvType::F32;
};

class KvStorage {
public:
    virtual ~KvStorage() = default;
    virtual const KvCacheShape& shape() const = 0;
};

// The tokens of one forward step as the backend sees them (all arrays in backend memory).
struct BatchLayout {
    int64_t n_tokens = 0;
    int64_t n_seq_rows = 0;                 // rows of block_tables
    const int32_t* positions = nullptr;     // [n_tokens]
    const int32_t* seq_slots = nullptr;     // [n_tokens] row of block_tables for each token's sequence
    const int32_t* kv_slots = nullptr;      // [n_tokens] physical cache slot (block * block_size + offset)
    const int32_t* block_tables = nullptr;  // [n_seq_rows][max_blocks_per_seq] physical block ids
    int64_t max_blocks_per_seq = 0;
    int64_t max_position = -1;              // the largest of positions (known on the host: work sizing)
};

struct AttentionConfig {
    int64_t n_heads = 0;
    int64_t n_kv_heads = 0;      // n_heads is a multiple (grouped-query attention)
    int64_t head_dim_k = 0;
    int64_t head_dim_v = 0;
    float scale = 1.0f;          // applied to q.k
    float softcap = 0.0f;        // scores become softcap * tanh(score / softcap) when > 0
    int64_t sliding_window = 0;  // a key is visible when query pos - key pos < window (0: all)
};

enum class GatedActivation { Silu, GeluTanh };

// Memory the backend computes in: device memory on a GPU, the host's available memory on the CPU.
struct MemoryInfo {
    uint64_t free_bytes = 0;
    uint64_t total_bytes = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;         // "cpu", "cuda"
    virtual std::string device_name() const = 0;  // the processor or card, for reports
    virtual Result<MemoryInfo> memory() const = 0;

    // A forward step runs between these calls (a GPU backend may capture and replay it); every
    // result of the step is in backend memory once end_step returns.
    virtual Status begin_step() { return ok_status(); }
    virtual Status end_step() { return ok_status(); }

    // Memory. Buffers are uninitialised; upload/download copy between host and backend memory.
    virtual Result<DeviceBuffer> allocate(size_t bytes) = 0;
    virtual Status upload(const DeviceBuffer& dst, const void* src, size_t bytes) = 0;
    virtual Status download(void* dst, const float* src, size_t n_floats) = 0;
    // The rows of `src` into host memory, row r at dst + r * dst_stride (a tensor-parallel rank's
    // logits into its columns of the whole rows). A backend may copy them in one go.
    virtual Status download_rows(float* dst, int64_t dst_stride, const Act& src) {
        for (int64_t r = 0; r < src.rows; ++r)
            RF_TRY(download(dst + r * dst_stride, src.data + r * src.stride, static_cast<size_t>(src.cols)));
        return ok_status();
    }
    // Host memory that download fills fastest: ordinary memory here; a GPU backend's is
    // page-locked (worth it for what is downloaded every step, such as a batch's logits).
    virtual Result<HostBuffer> allocate_host(size_t bytes) {
        void* memory = std::malloc(std::max<size_t>(bytes, 1));
        if (!memory) return make_error("out of host memory: {} bytes wanted", bytes);
        return HostBuffer(std::shared_ptr<void>(memory, [](void* p) { std::free(p); }), bytes);
    }
    // Makes a weight stored on the host (the model file's bytes) usable by the backend. The CPU uses
    // it in place, and when `writable` (the file was read into this process's own memory, and
    // nothing else reads these bytes) may rearrange it there for its kernels; a GPU backend copies it.
    virtual Result<WeightMatrix> import_weight(const WeightMatrix& host, bool writable) = 0;
    // How import_weight would hold a matrix of `type` with rows of `cols` values: computed as
    // stored, converted once to `held_as` (a format this backend has kernels for), or not at all
    // (placement then keeps that part of the model on another backend).
    struct WeightSupport {
        bool supported = true;
        TensorType held_as = TensorType::F32;
    };
    virtual WeightSupport weight_support(TensorType type, int64_t cols) const {
        (void)cols;
        return {true, type};
    }
    // A stacked weight (count > 1) is imported whole.
    virtual Result<std::unique_ptr<KvStorage>> create_kv_storage(const KvCacheShape& shape) = 0;
    // Bytes one block of `shape` takes in this backend's storage (keys and values of every
    // layer, with the backend's padding); n_blocks is ignored.
    virtual int64_t kv_block_bytes(const KvCacheShape& shape) const = 0;

    // y[t][r] = sum_c W[r][c] * x[t][c], for the rows of x.
    virtual Status matmul(const WeightMatrix& w, const Act& x, const Act& y) = 0;
    // Products of one input by several matrices (Q, K and V; gate and up), each y as matmul writes
    // it; a backend may run them as one pass (a GPU: one launch for all).
    struct MatmulOutput {
        const WeightMatrix* w;
        Act y;
    };
    virtual Status matmuls(const Act& x, std::span<const MatmulOutput> products) {
        for (const MatmulOutput& p : products) RF_TRY(matmul(*p.w, x, p.y));
        return ok_status();
    }
    // y += W x (y the residual stream, apart from x): the sum y + (W x) that matmul and add would
    // give, which a backend may compute as the product's last step instead of a pass of its own.
    virtual Status matmul_add(const WeightMatrix& w, const Act& x, const Act& y) = 0;
    // Mixture of experts: for token t and slot j, y[t * k + j] = W[ids[t][j]] x[t or t * k + j]
    // (x has one row per token, or one per (token, slot) when x.rows == y.rows); `experts` is a
    // stack of `count` matrices and ids (in backend memory) pick among them.
    virtual Status matmul_experts(const WeightMatrix& experts, const int32_t* ids, int64_t k, const Act& x,
                                  const Act& y) = 0;
    // Picks the k largest of each row of softmax(logits), writes their ids and probabilities
    // (renormalised to sum 1 when `normalize`).
    virtual Status route_top_k(const Act& logits, int64_t k, bool normalize, int32_t* ids, float* weights) = 0;
    // out[t] = sum_j weights[t][j] * x[t * k + j].
    virtual Status combine_experts(const Act& x, const float* weights, int64_t k, const Act& out) = 0;

    // out[i] = x[rows[i]] (picks the rows whose logits are wanted).
    virtual Status gather_rows(const Act& x, const int32_t* rows, const Act& out) = 0;
    // out[t] = table row ids[t], dequantized.
    virtual Status embed(const WeightMatrix& table, const int32_t* ids, const Act& out) = 0;
    // out = x / rms(x) * weight per row (weight may be empty: no scaling). In place is allowed.
    virtual Status rms_norm(const Act& x, ParamVector weight, float eps, const Act& out) = 0;
    // Each row holds heads of `head_dim`; normalises each head separately (per-head q/k norms).
    virtual Status rms_norm_heads(const Act& x, int64_t head_dim, ParamVector weight, float eps) = 0;
    virtual Status rope(const Act& x, int64_t head_dim, const int32_t* positions, const RopeConfig& config) = 0;
    // out = a + b (elementwise; in place allowed), x += bias per row, x *= s.
    virtual Status add(const Act& a, const Act& b, const Act& out) = 0;
    virtual Status add_bias(const Act& x, ParamVector bias) = 0;
    virtual Status scale(const Act& x, float s) = 0;
    // x = cap * tanh(x / cap).
    virtual Status softcap(const Act& x, float cap) = 0;
    // out = act(gate) * up.
    virtual Status gated_activation(GatedActivation act, const Act& gate, const Act& up, const Act& out) = 0;
    virtual Status softmax_rows(const Act& x) = 0;

    // Writes the batch's keys and values of one layer into their cache slots.
    virtual Status store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v,
                            const BatchLayout& batch) = 0;
    // rope of q and of k (heads of head_dim, the batch's positions), then store_kv of k and v: a
    // layer's attention inputs made ready, which a backend may do in one pass.
    virtual Status rope_store_kv(KvStorage& cache, int64_t layer, const Act& q, const Act& k, const Act& v,
                                 int64_t head_dim, const RopeConfig& rope_config, const BatchLayout& batch) {
        RF_TRY(rope(q, head_dim, batch.positions, rope_config));
        RF_TRY(rope(k, head_dim, batch.positions, rope_config));
        return store_kv(cache, layer, k, v, batch);
    }
    // Causal attention of each query over the cached keys of its own sequence up to its position.
    virtual Status attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& config,
                             const BatchLayout& batch, const Act& out) = 0;
};

}  // namespace rf
