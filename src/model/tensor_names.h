// The GGUF tensor names every architecture uses, in one table, referred to by enum.
#pragma once

#include <string>
#include <string_view>

namespace rf::model {

enum class TensorName {
    TokenEmbd, OutputNorm, Output, RopeFreqs,
    // per layer ("blk.N.")
    AttnNorm, AttnQ, AttnK, AttnV, AttnQkv, AttnOut, AttnQBias, AttnKBias, AttnVBias, AttnQNorm, AttnKNorm,
    PostAttnNorm, FfnNorm, FfnGate, FfnUp, FfnDown, PostFfnNorm,
    FfnGateInp, FfnGateExps, FfnUpExps, FfnDownExps,
};

// The name without the "blk.N." prefix, e.g. "attn_q.weight".
std::string_view tensor_base_name(TensorName name);
bool is_layer_tensor(TensorName name);
// The full tensor name: "output_norm.weight", or "blk.3.attn_q.weight" for layer 3.
std::string tensor_name(TensorName name, int64_t layer = -1);

}  // namespace rf::model
