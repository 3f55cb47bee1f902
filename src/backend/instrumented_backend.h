// A backend that hands every call to the backend it wraps, counting the operations it runs (the
// "what ran where" telemetry of a model whose parts run on several backends: /metrics shows the
// counts per operation and backend) and failing calls on purpose when given a fault plan
// (fault_injection.h). A count is one relaxed atomic increment per call, nothing next to the work
// of the call.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string_view>

#include "backend/backend.h"
#include "backend/fault_injection.h"

namespace rf {

enum class BackendOp {
    Matmul, MatmulExperts, RouteTopK, CombineExperts, GatherRows, Embed, RmsNorm, RmsNormHeads, Rope, Add,
    AddBias, Scale, Softcap, GatedActivation, SoftmaxRows, StoreKv, Attention,
};
inline constexpr int kBackendOpCount = static_cast<int>(BackendOp::Attention) + 1;
std::string_view backend_op_name(BackendOp op);  // "matmul", "rms_norm", ...

class InstrumentedBackend : public Backend {
public:
    explicit InstrumentedBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

    uint64_t count(BackendOp op) const { return counts_[static_cast<size_t>(op)].load(std::memory_order_relaxed); }
    Backend& inner() const { return *inner_; }
    // From now on, calls fail as `plan` says.
    void inject_faults(const FaultInjector& plan) { faults_ = plan; }
    uint64_t injected_faults() const { return faults_.injected(); }

    std::string name() const override { return inner_->name(); }
    std::string device_name() const override { return inner_->device_name(); }
    Result<MemoryInfo> memory() const override { return inner_->memory(); }
    Status begin_step() override { return inner_->begin_step(); }
    Status end_step() override { return inner_->end_step(); }

    Result<DeviceBuffer> allocate(size_t bytes) override {
        RF_TRY(faults_.check(FaultKind::Alloc));
        return inner_->allocate(bytes);
    }
    Status upload(const DeviceBuffer& dst, const void* src, size_t bytes) override {
        RF_TRY(faults_.check(FaultKind::Copy));
        return inner_->upload(dst, src, bytes);
    }
    Status download(void* dst, const float* src, size_t n_floats) override {
        RF_TRY(faults_.check(FaultKind::Copy));
        return inner_->download(dst, src, n_floats);
    }
    Status download_rows(float* dst, int64_t dst_stride, const Act& src) override {
        RF_TRY(faults_.check(FaultKind::Copy));
        return inner_->download_rows(dst, dst_stride, src);
    }
    Result<HostBuffer> allocate_host(size_t bytes) override {
        RF_TRY(faults_.check(FaultKind::Alloc));
        return inner_->allocate_host(bytes);
    }
    Result<WeightMatrix> import_weight(const WeightMatrix& host, bool writable) override {
        RF_TRY(faults_.check(FaultKind::Alloc));
        return inner_->import_weight(host, writable);
    }
    WeightSupport weight_support(TensorType type, int64_t cols) const override {
        return inner_->weight_support(type, cols);
    }
    Result<std::unique_ptr<KvStorage>> create_kv_storage(const KvCacheShape& shape) override {
        return inner_->create_kv_storage(shape);
    }
    int64_t kv_block_bytes(const KvCacheShape& shape) const override { return inner_->kv_block_bytes(shape); }

    Status matmul(const WeightMatrix& w, const Act& x, const Act& y) override;
    Status matmuls(const Act& x, std::span<const MatmulOutput> products) override;  // counted as matmuls
    Status matmul_add(const WeightMatrix& w, const Act& x, const Act& y) override;     // counted as matmul and add
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
    // Counted as two ropes and a store_kv.
    Status rope_store_kv(KvStorage& cache, int64_t layer, const Act& q, const Act& k, const Act& v, int64_t head_dim,
                         const RopeConfig& rope_config, const BatchLayout& batch) override;
    Status attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& config,
                     const BatchLayout& batch, const Act& out) override;

private:
    Status enter(BackendOp op) {
        counts_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
        return faults_.check(FaultKind::Op);
    }

    std::unique_ptr<Backend> inner_;
    std::array<std::atomic<uint64_t>, kBackendOpCount> counts_{};
    FaultInjector faults_;
};

}  // namespace rf
