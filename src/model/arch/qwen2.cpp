// qwen2: the llama decoder with q/k/v biases and NEOX rope.
#include "model/arch/llama.h"

namespace rf::model {

Result<std::unique_ptr<Model>> load_qwen2(const gguf::File& file, const Placement& placement, HParams hp) {
    LlamaVariant variant;
    variant.rope = RopeStyle::Neox;
    variant.attention.qkv_bias = true;
    return load_llama_variant(file, placement, std::move(hp), variant);
}

}  // namespace rf::model
