#include "backend/counting_backend.h"

namespace rf {

std::string_view backend_op_name(BackendOp op) {
    static constexpr std::array<std::string_view, kBackendOpCount> kNames = {
        "matmul",  "matmul_experts", "route_top_k", "combine_experts", "gather_rows",      "embed",
        "rms_norm", "rms_norm_heads", "rope",       "add",             "add_bias",         "scale",
        "softcap", "gated_activation", "softmax_rows", "store_kv",     "attention",
    };
    return kNames[static_cast<size_t>(op)];
}

Status CountingBackend::matmul(const WeightMatrix& w, const Act& x, const Act& y) {
    tick(BackendOp::Matmul);
    return inner_->matmul(w, x, y);
}
Status CountingBackend::matmul_experts(const WeightMatrix& experts, const int32_t* ids, int64_t k, const Act& x,
                                       const Act& y) {
    tick(BackendOp::MatmulExperts);
    return inner_->matmul_experts(experts, ids, k, x, y);
}
Status CountingBackend::route_top_k(const Act& logits, int64_t k, bool normalize, int32_t* ids, float* weights) {
    tick(BackendOp::RouteTopK);
    return inner_->route_top_k(logits, k, normalize, ids, weights);
}
Status CountingBackend::combine_experts(const Act& x, const float* weights, int64_t k, const Act& out) {
    tick(BackendOp::CombineExperts);
    return inner_->combine_experts(x, weights, k, out);
}
Status CountingBackend::gather_rows(const Act& x, const int32_t* rows, const Act& out) {
    tick(BackendOp::GatherRows);
    return inner_->gather_rows(x, rows, out);
}
Status CountingBackend::embed(const WeightMatrix& table, const int32_t* ids, const Act& out) {
    tick(BackendOp::Embed);
    return inner_->embed(table, ids, out);
}
Status CountingBackend::rms_norm(const Act& x, ParamVector weight, float eps, const Act& out) {
    tick(BackendOp::RmsNorm);
    return inner_->rms_norm(x, weight, eps, out);
}
Status CountingBackend::rms_norm_heads(const Act& x, int64_t head_dim, ParamVector weight, float eps) {
    tick(BackendOp::RmsNormHeads);
    return inner_->rms_norm_heads(x, head_dim, weight, eps);
}
Status CountingBackend::rope(const Act& x, int64_t head_dim, const int32_t* positions, const RopeConfig& config) {
    tick(BackendOp::Rope);
    return inner_->rope(x, head_dim, positions, config);
}
Status CountingBackend::add(const Act& a, const Act& b, const Act& out) {
    tick(BackendOp::Add);
    return inner_->add(a, b, out);
}
Status CountingBackend::add_bias(const Act& x, ParamVector bias) {
    tick(BackendOp::AddBias);
    return inner_->add_bias(x, bias);
}
Status CountingBackend::scale(const Act& x, float s) {
    tick(BackendOp::Scale);
    return inner_->scale(x, s);
}
Status CountingBackend::softcap(const Act& x, float cap) {
    tick(BackendOp::Softcap);
    return inner_->softcap(x, cap);
}
Status CountingBackend::gated_activation(GatedActivation act, const Act& gate, const Act& up, const Act& out) {
    tick(BackendOp::GatedActivation);
    return inner_->gated_activation(act, gate, up, out);
}
Status CountingBackend::softmax_rows(const Act& x) {
    tick(BackendOp::SoftmaxRows);
    return inner_->softmax_rows(x);
}
Status CountingBackend::store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v,
                                 const BatchLayout& batch) {
    tick(BackendOp::StoreKv);
    return inner_->store_kv(cache, layer, k, v, batch);
}
Status CountingBackend::attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& config,
                                  const BatchLayout& batch, const Act& out) {
    tick(BackendOp::Attention);
    return inner_->attention(cache, layer, q, config, batch, out);
}

}  // namespace rf
