#include "model/blocks.h"

#include <cmath>

namespace rf::model {

AttentionOptions default_attention(const HParams& hp, RopeStyle style) {
    AttentionOptions o;
    o.config = AttentionConfig{.n_heads = hp.local_heads(),
                               .n_kv_heads = hp.local_kv_heads(),
                               .head_dim_k = hp.head_dim_k,
                               .head_dim_v = hp.head_dim_v,
                               .scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k)),
                               .softcap = hp.attn_softcap,
                               .sliding_window = 0};
    o.rope = hp.rope;
    o.rope.style = style;
    o.norm_eps = hp.norm_eps;
    return o;
}

Status embed_tokens(ForwardState& s, const WeightMatrix& table, float scale) {
    RF_TRY(s.backend().embed(table, s.tokens(), s.residual()));
    if (scale != 1.0f) RF_TRY(s.backend().scale(s.residual(), scale));
    return ok_status();
}

Status rms_norm(ForwardState& s, const Act& in, ParamVector weight, float eps, const Act& out) {
    return s.backend().rms_norm(in, weight, eps, out);
}

namespace {

struct QkvViews {
    Act q, k, v;
};

Result<QkvViews> project_qkv(ForwardState& s, const AttentionWeights& w, const AttentionConfig& c, const Act& in) {
    Backend& be = s.backend();
    const int64_t q_cols = c.n_heads * c.head_dim_k, k_cols = c.n_kv_heads * c.head_dim_k,
                  v_cols = c.n_kv_heads * c.head_dim_v;
    if (const auto* fused = std::get_if<FusedQkv>(&w.projection)) {
        RF_ASSIGN_OR_RETURN(Act qkv, s.scratch(0, q_cols + k_cols + v_cols));
        RF_TRY(be.matmul(fused->qkv, in, qkv));
        return QkvViews{qkv.columns(0, q_cols), qkv.columns(q_cols, k_cols), qkv.columns(q_cols + k_cols, v_cols)};
    }
    const auto& sep = std::get<SeparateQkv>(w.projection);
    QkvViews views;
    RF_ASSIGN_OR_RETURN(views.q, s.scratch(0, q_cols));
    RF_ASSIGN_OR_RETURN(views.k, s.scratch(1, k_cols));
    RF_ASSIGN_OR_RETURN(views.v, s.scratch(2, v_cols));
    const Backend::MatmulOutput products[] = {{&sep.q, views.q}, {&sep.k, views.k}, {&sep.v, views.v}};
    RF_TRY(be.matmuls(in, products));
    if (sep.q_bias.data) RF_TRY(be.add_bias(views.q, sep.q_bias));
    if (sep.k_bias.data) RF_TRY(be.add_bias(views.k, sep.k_bias));
    if (sep.v_bias.data) RF_TRY(be.add_bias(views.v, sep.v_bias));
    return views;
}

// A block's last product, written to out or added to it. On a tensor-parallel rank the product
// is partial (its heads, its share of the feed-forward width): rank 0 adds its part to the
// residual, the others write theirs over their copy of it, and the sum over the ranks leaves the
// whole result on every rank: one collective a block.
Status project_out(ForwardState& s, const WeightMatrix& w, const Act& in, const Act& out, Into into) {
    Backend& be = s.backend();
    const bool add = into == Into::Add && s.shard().rank == 0;
    RF_TRY(add ? be.matmul_add(w, in, out) : be.matmul(w, in, out));
    return s.all_reduce_sum(out);
}

}  // namespace

Status self_attention(ForwardState& s, const AttentionWeights& w, const AttentionOptions& o, int64_t layer,
                      const Act& in, const Act& out, Into into) {
    Backend& be = s.backend();
    const AttentionConfig& c = o.config;
    RF_ASSIGN_OR_RETURN(QkvViews qkv, project_qkv(s, w, c, in));
    if (w.q_norm.data) RF_TRY(be.rms_norm_heads(qkv.q, c.head_dim_k, w.q_norm, o.norm_eps));
    if (w.k_norm.data) RF_TRY(be.rms_norm_heads(qkv.k, c.head_dim_k, w.k_norm, o.norm_eps));
    RopeConfig rope = o.rope;
    if (w.rope_factors.data) rope.freq_factors = w.rope_factors;
    // The cache of this backend holds only its own layers.
    const int64_t kv_layer = s.kv_layer(layer);
    RF_TRY(be.rope_store_kv(s.kv(), kv_layer, qkv.q, qkv.k, qkv.v, c.head_dim_k, rope, s.layout()));
    RF_ASSIGN_OR_RETURN(Act heads, s.scratch(3, c.n_heads * c.head_dim_v));
    RF_TRY(be.attention(s.kv(), kv_layer, qkv.q, c, s.layout(), heads));
    return project_out(s, w.output, heads, out, into);
}

Status feed_forward(ForwardState& s, const FeedForwardWeights& w, const Act& in, const Act& out, Into into) {
    Backend& be = s.backend();
    const int64_t n_ff = w.down.cols;
    Act gate, up;
    if (const auto* fused = std::get_if<FusedGateUp>(&w.gate_up)) {
        RF_ASSIGN_OR_RETURN(Act both, s.scratch(0, 2 * n_ff));
        RF_TRY(be.matmul(fused->gate_up, in, both));
        gate = both.columns(0, n_ff);
        up = both.columns(n_ff, n_ff);
    } else {
        const auto& sep = std::get<SeparateGateUp>(w.gate_up);
        RF_ASSIGN_OR_RETURN(gate, s.scratch(0, n_ff));
        RF_ASSIGN_OR_RETURN(up, s.scratch(1, n_ff));
        const Backend::MatmulOutput products[] = {{&sep.gate, gate}, {&sep.up, up}};
        RF_TRY(be.matmuls(in, products));
    }
    RF_ASSIGN_OR_RETURN(Act hidden, s.scratch(2, n_ff));
    RF_TRY(be.gated_activation(w.activation, gate, up, hidden));
    return project_out(s, w.down, hidden, out, into);
}

Status mixture_of_experts(ForwardState& s, const MoeWeights& w, const Act& in, const Act& out) {
    Backend& be = s.backend();
    const int64_t k = w.n_used, n = in.rows;
    const int64_t n_ff = w.down.cols;
    RF_ASSIGN_OR_RETURN(Act router, s.scratch(0, w.router.rows));
    RF_TRY(be.matmul(w.router, in, router));
    RF_TRY(be.route_top_k(router, k, w.normalize_weights, s.expert_ids(), s.expert_weights()));
    RF_ASSIGN_OR_RETURN(Act gate, s.scratch(1, n_ff, n * k));
    RF_ASSIGN_OR_RETURN(Act up, s.scratch(2, n_ff, n * k));
    RF_TRY(be.matmul_experts(w.gate, s.expert_ids(), k, in, gate));
    RF_TRY(be.matmul_experts(w.up, s.expert_ids(), k, in, up));
    RF_TRY(be.gated_activation(GatedActivation::Silu, gate, up, gate));
    RF_ASSIGN_OR_RETURN(Act expert_out, s.scratch(3, in.cols, n * k));
    RF_TRY(be.matmul_experts(w.down, s.expert_ids(), k, gate, expert_out));
    RF_TRY(be.combine_experts(expert_out, s.expert_weights(), k, out));
    return s.all_reduce_sum(out);  // (a rank's experts hold its share of their width)
}

Status output_logits(ForwardState& s, const OutputHead& head, float norm_eps) {
    if (s.n_logit_rows() == 0) return ok_status();
    RF_TRY(s.enter_output());
    Backend& be = s.backend();
    const Act rows = s.logit_inputs();
    RF_TRY(be.gather_rows(s.residual(), s.logit_rows(), rows));
    RF_TRY(be.rms_norm(rows, head.norm, norm_eps, rows));
    if (s.n_vocab_rows() == 0) return ok_status();  // embeddings read the normed rows
    // The rows that want logits come first; the rest are embeddings.
    RF_TRY(be.matmul(head.output, {rows.data, s.n_vocab_rows(), rows.cols, rows.stride}, s.logits()));
    if (head.softcap > 0.0f) RF_TRY(be.softcap(s.logits(), head.softcap));
    return ok_status();
}

}  // namespace rf::model
