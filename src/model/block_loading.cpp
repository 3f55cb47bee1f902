#include "model/block_loading.h"

namespace rf::model {

Result<AttentionWeights> load_attention(WeightLoader& w, const HParams& hp, int64_t layer, AttentionLayout layout) {
    const int64_t q = hp.n_head * hp.head_dim_k, k = hp.n_head_kv * hp.head_dim_k, v = hp.n_head_kv * hp.head_dim_v;
    AttentionWeights a;
    if (layout.fused_qkv) {
        const int64_t groups[] = {q, k, v};
        RF_ASSIGN_OR_RETURN(WeightMatrix qkv, w.matrix(TensorName::AttnQkv, layer, hp.n_embd, q + k + v, groups));
        a.projection = FusedQkv{qkv};
    } else {
        SeparateQkv sep;
        RF_ASSIGN_OR_RETURN(sep.q, w.matrix(TensorName::AttnQ, layer, hp.n_embd, q));
        RF_ASSIGN_OR_RETURN(sep.k, w.matrix(TensorName::AttnK, layer, hp.n_embd, k));
        RF_ASSIGN_OR_RETURN(sep.v, w.matrix(TensorName::AttnV, layer, hp.n_embd, v));
        if (layout.qkv_bias) {
            RF_ASSIGN_OR_RETURN(sep.q_bias, w.vector(TensorName::AttnQBias, layer, q));
            RF_ASSIGN_OR_RETURN(sep.k_bias, w.vector(TensorName::AttnKBias, layer, k));
            RF_ASSIGN_OR_RETURN(sep.v_bias, w.vector(TensorName::AttnVBias, layer, v));
        }
        a.projection = sep;
    }
    if (layout.qk_norm) {
        RF_ASSIGN_OR_RETURN(a.q_norm, w.vector(TensorName::AttnQNorm, layer, hp.head_dim_k));
        RF_ASSIGN_OR_RETURN(a.k_norm, w.vector(TensorName::AttnKNorm, layer, hp.head_dim_k));
    }
    // Llama 3 stores per-pair rope frequency divisors, one table for every layer.
    RF_ASSIGN_OR_RETURN(a.rope_factors, w.optional_shared_vector(TensorName::RopeFreqs, layer, hp.rope.n_dims / 2));
    RF_ASSIGN_OR_RETURN(a.output, w.matrix(TensorName::AttnOut, layer, hp.n_head * hp.head_dim_v, hp.n_embd));
    return a;
}

Result<FeedForwardWeights> load_feed_forward(WeightLoader& w, const HParams& hp, int64_t layer, bool fused_gate_up,
                                             GatedActivation activation) {
    FeedForwardWeights f;
    f.activation = activation;
    if (fused_gate_up) {
        const int64_t groups[] = {hp.n_ff, hp.n_ff};
        RF_ASSIGN_OR_RETURN(WeightMatrix both, w.matrix(TensorName::FfnUp, layer, hp.n_embd, 2 * hp.n_ff, groups));
        f.gate_up = FusedGateUp{both};
    } else {
        SeparateGateUp sep;
        RF_ASSIGN_OR_RETURN(sep.gate, w.matrix(TensorName::FfnGate, layer, hp.n_embd, hp.n_ff));
        RF_ASSIGN_OR_RETURN(sep.up, w.matrix(TensorName::FfnUp, layer, hp.n_embd, hp.n_ff));
        f.gate_up = sep;
    }
    RF_ASSIGN_OR_RETURN(f.down, w.matrix(TensorName::FfnDown, layer, hp.n_ff, hp.n_embd));
    return f;
}

Result<MoeWeights> load_experts(WeightLoader& w, const HParams& hp, int64_t layer) {
    MoeWeights m;
    m.n_used = hp.n_expert_used;
    RF_ASSIGN_OR_RETURN(m.router, w.matrix(TensorName::FfnGateInp, layer, hp.n_embd, hp.n_expert));
    RF_ASSIGN_OR_RETURN(m.gate, w.stacked(TensorName::FfnGateExps, layer, hp.n_embd, hp.n_ff, hp.n_expert));
    RF_ASSIGN_OR_RETURN(m.up, w.stacked(TensorName::FfnUpExps, layer, hp.n_embd, hp.n_ff, hp.n_expert));
    RF_ASSIGN_OR_RETURN(m.down, w.stacked(TensorName::FfnDownExps, layer, hp.n_ff, hp.n_embd, hp.n_expert));
    return m;
}

Result<OutputHead> load_output_head(WeightLoader& w, const HParams& hp, const WeightMatrix& embedding) {
    OutputHead head;
    RF_ASSIGN_OR_RETURN(head.norm, w.vector(TensorName::OutputNorm, -1, hp.n_embd));
    if (w.has(TensorName::Output)) {
        RF_ASSIGN_OR_RETURN(head.output, w.matrix(TensorName::Output, -1, hp.n_embd, hp.n_vocab));
    } else {
        RF_ASSIGN_OR_RETURN(head.output, w.tied_output(embedding, hp.n_embd, hp.n_vocab));
    }
    head.softcap = hp.final_softcap;
    return head;
}

}  // namespace rf::model
