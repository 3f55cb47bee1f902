// Loading the weights of the shared blocks, with every shape derived from the hyper-parameters.
#pragma once

#include "model/blocks.h"
#include "model/weight_loader.h"

namespace rf::model {

struct AttentionLayout {
    bool fused_qkv = false;  // one attn_qkv matrix instead of attn_q/k/v
    bool qkv_bias = false;   // attn_q/k/v.bias required
    bool qk_norm = false;    // attn_q_norm/attn_k_norm required
};

Result<AttentionWeights> load_attention(WeightLoader& w, const HParams& hp, int64_t layer, AttentionLayout layout);
Result<FeedForwardWeights> load_feed_forward(WeightLoader& w, const HParams& hp, int64_t layer, bool fused_gate_up,
                                             GatedActivation activation);
Result<MoeWeights> load_experts(WeightLoader& w, const HParams& hp, int64_t layer);
// output.weight, or the embedding table when the model ties them.
Result<OutputHead> load_output_head(WeightLoader& w, const HParams& hp, const WeightMatrix& embedding);

}  // namespace rf::model
