// The llama decoder, which several architectures reuse with other weight layouts:
//   x = embed(tokens)
//   per layer: x += attention(rms_norm(x)); x += ffn_or_experts(rms_norm(x))
//   logits = output(rms_norm(x))
#pragma once

#include "model/block_loading.h"
#include "model/registry.h"

namespace rf::model {

struct LlamaVariant {
    RopeStyle rope = RopeStyle::Normal;
    AttentionLayout attention;
    bool fused_gate_up = false;
};

Result<std::unique_ptr<Model>> load_llama_variant(const gguf::File& file, const Placement& placement, HParams hp,
                                                  LlamaVariant variant);

}  // namespace rf::model
