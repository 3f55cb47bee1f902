#include "backend/instrumented_backend.h"

namespace rf {

std::string_view backend_op_name(BackendOp op) {
    static constexpr std::array<std::string_view, kBackendOpCount> kNames = {
        "matmul",  "matmul_experts", "route_top_k", "combine_experts", "gather_rows",      "embed",
        "rms_norm", "rms_norm_heads", "rope",       "add",             "add_bias",         "scale",
        "softcap", "gated_activation", "softmax_rows", "store_kv",     "attention",
    };
    return kNames[static_cast<size_t>(op)];
}

Status InstrumentedBackend::matmul(const WeightMatrix& w, const Act& x, const Act& y) {
    RF_TRY(enter(BackendOp::Matmul));
    return inner_->matmul(w, x, y);
}
Status InstrumentedBackend::matmuls(const Act& x, std::span<const MatmulOutput> products) {
    for (size_t i = 0; i < products.size(); ++i) RF_TRY(enter(BackendOp::Matmul));
    return inner_->matmuls(x, products);
}
Status InstrumentedBackend::matmul_add(const WeightMatrix& w, const Act& x, const Act& y) {
    RF_TRY(enter(BackendOp::Matmul));
    RF_TRY(enter(BackendOp::Add));
    return inner_->matmul_add(w, x, y);
}
Status InstrumentedBackend::matmul_experts(const WeightMatrix& experts, const int32_t* ids, int64_t k, const Act& x,
                                       const Act& y) {
    RF_TRY(enter(BackendOp::MatmulExperts));
    return inner_->matmul_experts(experts, ids, k, x, y);
}
Status InstrumentedBackend::route_top_k(const Act& logits, int64_t k, bool normalize, int32_t* ids, float* weights) {
    RF_TRY(enter(BackendOp::RouteTopK));
    return inner_->route_top_k(logits, k, normalize, ids, weights);
}
Status InstrumentedBackend::combine_experts(const Act& x, const float* weights, int64_t k, const Act& out) {
    RF_TRY(enter(BackendOp::CombineExperts));
    return inner_->combine_experts(x, weights, k, out);
}
Status InstrumentedBackend::gather_rows(const Act& x, const int32_t* rows, const Act& out) {
    RF_TRY(enter(BackendOp::GatherRows));
    return inner_->gather_rows(x, rows, out);
}
Status InstrumentedBackend::embed(const WeightMatrix& table, const int32_t* ids, const Act& out) {
    RF_TRY(enter(BackendOp::Embed));
    return inner_->embed(table, ids, out);
}
Status InstrumentedBackend::rms_norm(const Act& x, ParamVector weight, float eps, const Act& out) {
    RF_TRY(enter(BackendOp::RmsNorm));
    return inner_->rms_norm(x, weight, eps, out);
}
Status InstrumentedBackend::rms_norm_heads(const Act& x, int64_t head_dim, ParamVector weight, float eps) {
    RF_TRY(enter(BackendOp::RmsNormHeads));
    return inner_->rms_norm_heads(x, head_dim, weight, eps);
}
Status InstrumentedBackend::rope(const Act& x, int64_t head_dim, const int32_t* positions, const RopeConfig& config) {
    RF_TRY(enter(BackendOp::Rope));
    return inner_->rope(x, head_dim, positions, config);
}
Status InstrumentedBackend::add(const Act& a, const Act& b, const Act& out) {
    RF_TRY(enter(BackendOp::Add));
    return inner_->add(a, b, out);
}
Status InstrumentedBackend::add_bias(const Act& x, ParamVector bias) {
    RF_TRY(enter(BackendOp::AddBias));
    return inner_->add_bias(x, bias);
}
Status InstrumentedBackend::scale(const Act& x, float s) {
    RF_TRY(enter(BackendOp::Scale));
    return inner_->scale(x, s);
}
Status InstrumentedBackend::softcap(const Act& x, float cap) {
    RF_TRY(enter(BackendOp::Softcap));
    return inner_->softcap(x, cap);
}
Status InstrumentedBackend::gated_activation(GatedActivation act, const Act& gate, const Act& up, const Act& out) {
    RF_TRY(enter(BackendOp::GatedActivation));
    return inner_->gated_activation(act, gate, up, out);
}
Status InstrumentedBackend::softmax_rows(const Act& x) {
    RF_TRY(enter(BackendOp::SoftmaxRows));
    return inner_->softmax_rows(x);
}
Status InstrumentedBackend::store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v,
                                 const BatchLayout& batch) {
    RF_TRY(enter(BackendOp::StoreKv));
    return inner_->store_kv(cache, layer, k, v, batch);
}
Status InstrumentedBackend::rope_store_kv(KvStorage& cache, int64_t layer, const Act& q, const Act& k, const Act& v,
                                          int64_t head_dim, const RopeConfig& rope_config, const BatchLayout& batch) {
    RF_TRY(enter(BackendOp::Rope));
    RF_TRY(enter(BackendOp::Rope));
    RF_TRY(enter(BackendOp::StoreKv));
    return inner_->rope_store_kv(cache, layer, q, k, v, head_dim, rope_config, batch);
}
Status InstrumentedBackend::attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& config,
                                  const BatchLayout& batch, const Act& out) {
    RF_TRY(enter(BackendOp::Attention));
    return inner_->attention(cache, layer, q, config, batch, out);
}

}  // namespace rf
