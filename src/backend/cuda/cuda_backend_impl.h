// The CUDA backend: activations, weights (in their file format) and the KV cache in device
// memory, every operation a kernel launched on one stream. The host only enqueues work; it waits
// for the device in download() alone, which also reports what kernels found wrong with their
// inputs (an expert id or cache slot out of range) through a device-side error word.
//
// Host code only: cuda_backend.cpp (memory, weights, KV storage) and cuda_ops.cpp (shape checks
// and launches); the kernels are in the .cu files behind kernels.h.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "backend/backend.h"
#include "backend/cuda/gpu_blas.h"
#include "backend/cuda/gpu_runtime.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/nccl_library.h"
#include "backend/cuda/step_graph.h"
#include "backend/cuda/step_profile.h"

namespace rf::gpu {

// "GPU: <what> failed: <runtime message>", or ok.
Status gpu_check(gpuError_t err, std::string_view what);
// The launch error of the kernel just enqueued for `op`, if any.
Status launch_check(std::string_view op);

class CudaKvStorage final : public KvStorage {
public:
    CudaKvStorage(const KvCacheShape& shape, DeviceBuffer memory);
    const KvCacheShape& shape() const override { return shape_; }
    // Per layer: keys [slot][kv head][head_dim_k], then values [slot][kv head][head_dim_v].
    uint8_t* keys(int64_t layer) const { return memory_.bytes() + layer * layer_bytes(); }
    uint8_t* values(int64_t layer) const { return keys(layer) + key_bytes(); }
    int64_t elem_bytes() const { return shape_.type == KvType::F16 ? 2 : 4; }
    int64_t slots() const { return shape_.n_blocks * shape_.block_size; }
    static int64_t bytes_per_block(const KvCacheShape& shape);

private:
    int64_t key_bytes() const { return slots() * shape_.n_kv_heads * shape_.head_dim_k * elem_bytes(); }
    int64_t layer_bytes() const { return slots() * shape_.n_kv_heads * (shape_.head_dim_k + shape_.head_dim_v) * elem_bytes(); }

    KvCacheShape shape_;
    DeviceBuffer memory_;
};

class CudaBackend final : public Backend {
public:
    // batch_invariant: products take the direct kernels at every batch size (see cuda_ops.cpp).
    static Result<std::unique_ptr<CudaBackend>> create(int device, bool batch_invariant);
    ~CudaBackend() override;

    std::string name() const override { return "cuda"; }
    int device() const { return device_; }
    // x summed over the ranks of `comm`'s group, in place, on this backend's stream (a tensor-
    // parallel rank's Collective calls it; nccl_collective.cpp).
    Status all_reduce_sum(const NcclLibrary& nccl, ncclComm_t comm, const Act& x);
    std::string device_name() const override { return device_name_; }
    Result<MemoryInfo> memory() const override;

    // The step may run on another thread than the one that loaded the model: select our device
    // there; and a fault that a failed step left unread must not be blamed on this one.
    Status begin_step() override;
    Status end_step() override;

    Result<DeviceBuffer> allocate(size_t bytes) override;
    Result<HostBuffer> allocate_host(size_t bytes) override;  // page-locked
    Status upload(const DeviceBuffer& dst, const void* src, size_t bytes) override;
    Status download(void* dst, const float* src, size_t n_floats) override;
    Status download_rows(float* dst, int64_t dst_stride, const Act& src) override;
    Result<WeightMatrix> import_weight(const WeightMatrix& host, bool writable) override;
    WeightSupport weight_support(TensorType type, int64_t cols) const override;
    Result<std::unique_ptr<KvStorage>> create_kv_storage(const KvCacheShape& shape) override;
    int64_t kv_block_bytes(const KvCacheShape& shape) const override { return CudaKvStorage::bytes_per_block(shape); }

    Status matmul(const WeightMatrix& w, const Act& x, const Act& y) override;
    Status matmuls(const Act& x, std::span<const MatmulOutput> products) override;
    Status matmul_add(const WeightMatrix& w, const Act& x, const Act& y) override;
    Status matmul_experts(const WeightMatrix& experts, const int32_t* ids, int64_t k, const Act& x,
                          const Act& y) override;
    Status route_top_k(const Act& logits, int64_t k, bool normalize, int32_t* ids, float* weights) override;
    Status combine_experts(const Act& x, const float* weights, int64_t k, const Act& out) override;

    Status gather_rows(const Act& x, const int32_t* rows, const Act& out) override;
    Status embed(const WeightMatrix& table, const int32_t* ids, const Act& out) override;
    Status rms_norm(const Act& x, ParamVector weight, float eps, const Act& out) override;
    Status rms_norm_heads(const Act& x, int64_t head_dim, ParamVector weight, float eps) override;
    Status rope(const Act& x, int64_t head_dim, const int32_t* positions, const RopeConfig& config) override;
    Status add(const Act& a, const Act& b, const Act& out) override;
    Status add_bias(const Act& x, ParamVector bias) override;
    Status scale(const Act& x, float s) override;
    Status softcap(const Act& x, float cap) override;
    Status gated_activation(GatedActivation act, const Act& gate, const Act& up, const Act& out) override;
    Status softmax_rows(const Act& x) override;

    Status store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v, const BatchLayout& batch) override;
    Status rope_store_kv(KvStorage& cache, int64_t layer, const Act& q, const Act& k, const Act& v, int64_t head_dim,
                         const RopeConfig& rope_config, const BatchLayout& batch) override;
    Status attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& config,
                     const BatchLayout& batch, const Act& out) override;

private:
    CudaBackend(int device, std::string device_name, gpuStream_t stream, gpublasHandle_t blas, DeviceBuffer error_word);
    // Scratch slots of at least `bytes`, kept between calls: the prepared input of the products (0:
    // quantized, or 16-bit with alpha and beta for the BLAS path), either a chunk of decoded
    // weight rows for the BLAS path or attention's partial results (1), the BLAS product that
    // matmul_add then adds (2), and the int8 tiles' partial sums (3).
    Result<void*> scratch(int slot, size_t bytes);
    // Room for the partial sums of an int8 tiles product of rows x cols by `tokens` (none where it
    // is not split), with the tiles' counters (zeroed once, at their first use).
    Result<SplitWorkspace> split_workspace(int64_t rows, int64_t tokens, int64_t cols);
    int* fault_word() const { return reinterpret_cast<int*>(error_word_.bytes()); }
    // The stream an op enqueues its kernels on: inside a step, the first op starts capturing it.
    gpuStream_t op_stream() {
        graph_.before_op(stream_);
        return stream_;
    }
    // The status of a kernel launch for `op` (and, profiling, the op's end marked on the stream).
    Status launched(gpuError_t err, std::string_view op) {
        quantized_.reset();  // the op may have written the remembered input
        if (profile_.on()) profile_.op_done(stream_, op);
        RF_TRY(gpu_check(err, op));
        return graph_.after_op(stream_);
    }
    // Waits for the stream and turns a fault a kernel recorded into an Error.
    Status synchronize(std::string_view during);
    // Which kernel a product of `tokens` rows through w takes (cuda_ops.cpp says why).
    enum class ProductPath { Int8, Blas, Gemv, Generic };
    ProductPath product_path(const WeightMatrix& w, bool expert_ids, int64_t tokens) const;
    // The kernels' description of the product y = W x (ids: the expert of each y row, or null).
    ProductParams product_params(const WeightMatrix& w, const int32_t* ids, int64_t k, const Act& y) const;
    // Matrix products: y rows from x rows through W (or, with ids, the expert each row picks),
    // written to y or, accumulating, added to it.
    Status product(const WeightMatrix& w, const int32_t* ids, int64_t k, const Act& x, const Act& y,
                   bool accumulate = false);
    // x quantized for the direct kernels of `type` in scratch slot 0 (or already there).
    Result<void*> gemv_input(const Act& x, TensorType type);
    // y = W x for a prompt-sized x through the BLAS library: tensor-core products of 16-bit
    // operands (quantized W decoded to f16 in chunks of rows), or f32 for F32 weights.
    Status blas_product(const WeightMatrix& w, const Act& x, const Act& y);

    int device_;
    std::string device_name_;
    gpuStream_t stream_;
    gpublasHandle_t blas_;
    DeviceBuffer error_word_;  // one int, KernelFault
    DeviceBuffer scratch_[4];
    DeviceBuffer split_counters_;  // SplitWorkspace::counters, kSplitCounters of them
    bool batch_invariant_ = false;
    // Plain products of 2 to this many tokens of the int8 formats take the int8 tensor cores
    // (cuda_ops.cpp); ROCMFORGE_GPU_INT8_MAX_TOKENS sets it (0: never), to measure the crossover.
    int64_t int8_max_tokens_ = count_from_env("ROCMFORGE_GPU_INT8_MAX_TOKENS", kInt8MaxTokens);
    // Q4_K products there take the int8 tiles (cuda_int8_tiles.cu), measured faster
    // (docs/performance.md); ROCMFORGE_GPU_INT8_TILES=0 keeps them on the untiled kernel.
    bool int8_tiles_ = count_from_env("ROCMFORGE_GPU_INT8_TILES", 1) != 0;
    // How the direct products lay out their work (cuda_gemv.cu; kernels.h's GemvOptions).
    GemvOptions gemv_options_{
        .split_long_rows = count_from_env("ROCMFORGE_GPU_GEMV_SPLIT", 0) != 0,
        .rows_per_group = static_cast<int>(std::min<int64_t>(count_from_env("ROCMFORGE_GPU_GEMV_ROWS", 1), 64))};
    // Attention of steps of up to this many tokens takes the decode kernel (cuda_decode_attention.cu);
    // ROCMFORGE_GPU_DECODE_ATTENTION_TOKENS sets it.
    int64_t decode_attention_max_tokens_ = count_from_env("ROCMFORGE_GPU_DECODE_ATTENTION_TOKENS", kDecodeAttentionMaxTokens);
    // A tensor-parallel rank's all-reduce is captured into the step's graph chunks with the kernels
    // around it where ROCMFORGE_GPU_NCCL_GRAPHS=1; by default it runs between chunks (see
    // all_reduce_sum), until a card has shown that updating a chunk with NCCL in it works.
    bool nccl_in_graphs_ = count_from_env("ROCMFORGE_GPU_NCCL_GRAPHS", 0) != 0;
    static constexpr int64_t kInt8MaxTokens = 64, kDecodeAttentionMaxTokens = 64;
    // A count from the environment (a whole number >= 0; off/false/no are 0, on/true/yes 1), else
    // `fallback` (with a line on stderr where the variable is set to something else).
    static int64_t count_from_env(const char* name, int64_t fallback);
    StepProfile profile_;
    StepGraph graph_{!profile_.on()};
    // The input that scratch slot 0 holds prepared for the products (format: gemv_input_format or
    // half_input_format). Q, K and V (gate and up) are products of one input: the second and third
    // reuse the first one's preparation. Any other op or upload, a product writing over the input,
    // or a new scratch buffer forgets it.
    struct QuantizedInput {
        Mat x;
        int format;
        bool operator==(const QuantizedInput& o) const {
            return x.data == o.x.data && x.rows == o.x.rows && x.cols == o.x.cols && x.stride == o.x.stride &&
                   format == o.format;
        }
    };
    std::optional<QuantizedInput> quantized_;
    // The input format the direct products last read each activation buffer in, by rows and
    // columns (a decode step's shapes repeat): RMSNorm and gated activations writing such a buffer
    // pack it in that format in the same launch, so the product that follows finds its input
    // ready (one launch fewer each). A stale guess costs only the packing.
    struct InputHint {
        int64_t rows, cols;
        int format;
    };
    std::unordered_map<const float*, InputHint> input_hints_;
    // The hint for an op writing `out`, when it can pack in that format.
    std::optional<int> packing_hint(const Act& out) const;
    // After an op packed `out` (in scratch slot 0): the products find it there.
    Status launched_packed(gpuError_t err, std::string_view op, const Act& out, int format);
    std::mutex import_mutex_;
    // Weights imported so far, by host bytes, so that a table used twice (tied embeddings) is copied
    // once. The entries do not keep device memory alive: once the model lets go, a new import copies.
    struct Imported {
        WeightMatrix matrix;  // without storage
        std::weak_ptr<void> storage;
    };
    std::unordered_map<const uint8_t*, Imported> imported_;
    // The weights of each product of the step, in order, and those of the step before: a decode
    // step's products follow its small kernels in the same order every step, so the kernel before
    // product i asks for product i's first bytes in L2 (kernels.h: L2Prefetch). An entry holds no
    // memory alive; one whose weights are gone, or of a step of another size (whose products may
    // be grouped otherwise), is not prefetched. Off unless ROCMFORGE_GPU_PREFETCH=1.
    struct ProductWeights {
        std::weak_ptr<void> owners[L2Prefetch::kRanges];
        L2Prefetch ranges;
        int64_t rows;  // the product's rows (tokens)
    };
    std::vector<ProductWeights> step_products_, last_step_products_;
    bool in_step_ = false;  // products are recorded between begin_step and end_step only
    bool prefetch_on_ = prefetch_from_env();
    static bool prefetch_from_env();
    // Records a step's product of `rows` rows through these weights (none: not worth prefetching).
    void note_product(std::span<const WeightMatrix* const> weights, int64_t rows);
    // What a small kernel of `rows` rows launched now prefetches: the next product's weights.
    L2Prefetch next_product_prefetch(int64_t rows) const;
};

}  // namespace rf::gpu
