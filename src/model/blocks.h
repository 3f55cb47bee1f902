// The building blocks architectures are composed from: token embedding, self-attention, gated
// feed-forward, mixture of experts and the output head. Each reads the rows of `in` and writes
// `out` through the backend; weights are described by small typed structs.
#pragma once

#include <variant>
#include <vector>

#include "backend/backend.h"
#include "model/forward_state.h"
#include "model/hparams.h"

namespace rf::model {

struct SeparateQkv {
    WeightMatrix q, k, v;                // (n_head * head_dim_k, n_embd), (n_head_kv * head_dim_k, n_embd), ...
    ParamVector q_bias, k_bias, v_bias;  // empty when the model has none
};
struct FusedQkv {
    WeightMatrix qkv;                    // rows: q, then k, then v
};

struct AttentionWeights {
    std::variant<SeparateQkv, FusedQkv> projection;
    ParamVector q_norm, k_norm;          // per-head RMSNorm before RoPE (head_dim_k); empty: none
    ParamVector rope_factors;            // per-pair rope frequency divisors (Llama 3); empty: none
    WeightMatrix output;                 // (n_embd, n_head * head_dim_v)
};

struct AttentionOptions {
    AttentionConfig config;
    RopeConfig rope;
    float norm_eps = 1e-5f;              // for q/k norms
};

// Derives the attention configuration every architecture shares (scale 1/sqrt(head_dim_k)).
AttentionOptions default_attention(const HParams& hp, RopeStyle style);

struct SeparateGateUp {
    WeightMatrix gate, up;               // (n_ff, n_embd) each
};
struct FusedGateUp {
    WeightMatrix gate_up;                // (2 * n_ff, n_embd): gate rows, then up rows
};
struct FeedForwardWeights {
    std::variant<SeparateGateUp, FusedGateUp> gate_up;
    WeightMatrix down;                   // (n_embd, n_ff)
    GatedActivation activation = GatedActivation::Silu;
};

struct MoeWeights {
    WeightMatrix router;                 // (n_expert, n_embd)
    WeightMatrix gate, up;               // n_expert stacked (n_ff, n_embd) matrices each
    WeightMatrix down;                   // n_expert stacked (n_embd, n_ff) matrices
    int64_t n_used = 0;
    bool normalize_weights = true;       // renormalise the chosen experts' probabilities
};

struct OutputHead {
    ParamVector norm;                    // final RMSNorm (n_embd)
    WeightMatrix output;                 // (n_vocab, n_embd); the embedding table when tied
    float softcap = 0.0f;
};

// residual = embedding rows of the batch tokens, times `scale`.
Status embed_tokens(ForwardState& s, const WeightMatrix& table, float scale = 1.0f);
Status rms_norm(ForwardState& s, const Act& in, ParamVector weight, float eps, const Act& out);
// Where a block's result goes: written to `out`, or added to it (out is the residual stream; the
// backend may fold the addition into the block's last product).
enum class Into { Write, Add };
// Uses scratch slots 0..3.
Status self_attention(ForwardState& s, const AttentionWeights& w, const AttentionOptions& o, int64_t layer,
                      const Act& in, const Act& out, Into into = Into::Write);
// Uses scratch slots 0..2.
Status feed_forward(ForwardState& s, const FeedForwardWeights& w, const Act& in, const Act& out,
                    Into into = Into::Write);
// Uses scratch slots 0..3.
Status mixture_of_experts(ForwardState& s, const MoeWeights& w, const Act& in, const Act& out);
// Final norm and logits of the rows the batch asks for (only the norm when it wants hidden rows).
Status output_logits(ForwardState& s, const OutputHead& head, float norm_eps);

}  // namespace rf::model
