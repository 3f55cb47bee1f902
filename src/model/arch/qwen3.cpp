// qwen3: the llama decoder with per-head RMSNorm of queries and keys before NEOX rope; the head
// size comes from attention.key_length and need not equal n_embd / n_head.
#include "model/arch/llama.h"

namespace rf::model {

Result<std::unique_ptr<Model>> load_qwen3(const gguf::File& file, const Placement& placement, HParams hp) {
    LlamaVariant variant;
    variant.rope = RopeStyle::Neox;
    variant.attention.qk_norm = true;
    return load_llama_variant(file, placement, std::move(hp), variant);
}

}  // namespace rf::model
