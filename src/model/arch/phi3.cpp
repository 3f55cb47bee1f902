// phi3: the llama decoder with one fused q/k/v projection, one fused gate+up projection and NEOX rope.
#include "model/arch/llama.h"

namespace rf::model {

Result<std::unique_ptr<Model>> load_phi3(const gguf::File& file, const Placement& placement, HParams hp) {
    LlamaVariant variant;
    variant.rope = RopeStyle::Neox;
    variant.attention.fused_qkv = true;
    variant.fused_gate_up = true;
    return load_llama_variant(file, placement, std::move(hp), variant);
}

}  // namespace rf::model
