#include "model/tensor_names.h"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace rf::model {

namespace {
struct Entry {
    TensorName name;
    std::string_view text;
    bool per_layer;
};

constexpr std::array kTable = {
    Entry{TensorName::TokenEmbd, "token_embd.weight", false},
    Entry{TensorName::OutputNorm, "output_norm.weight", false},
    Entry{TensorName::Output, "output.weight", false},
    Entry{TensorName::RopeFreqs, "rope_freqs.weight", false},
    Entry{TensorName::AttnNorm, "attn_norm.weight", true},
    Entry{TensorName::AttnQ, "attn_q.weight", true},
    Entry{TensorName::AttnK, "attn_k.weight", true},
    Entry{TensorName::AttnV, "attn_v.weight", true},
    Entry{TensorName::AttnQkv, "attn_qkv.weight", true},
    Entry{TensorName::AttnOut, "attn_output.weight", true},
    Entry{TensorName::AttnQBias, "attn_q.bias", true},
    Entry{TensorName::AttnKBias, "attn_k.bias", true},
    Entry{TensorName::AttnVBias, "attn_v.bias", true},
    Entry{TensorName::AttnQNorm, "attn_q_norm.weight", true},
    Entry{TensorName::AttnKNorm, "attn_k_norm.weight", true},
    Entry{TensorName::PostAttnNorm, "post_attention_norm.weight", true},
    Entry{TensorName::FfnNorm, "ffn_norm.weight", true},
    Entry{TensorName::FfnGate, "ffn_gate.weight", true},
    Entry{TensorName::FfnUp, "ffn_up.weight", true},
    Entry{TensorName::FfnDown, "ffn_down.weight", true},
    Entry{TensorName::PostFfnNorm, "post_ffw_norm.weight", true},
    Entry{TensorName::FfnGateInp, "ffn_gate_inp.weight", true},
    Entry{TensorName::FfnGateExps, "ffn_gate_exps.weight", true},
    Entry{TensorName::FfnUpExps, "ffn_up_exps.weight", true},
    Entry{TensorName::FfnDownExps, "ffn_down_exps.weight", true},
};

const Entry& entry(TensorName name) {
    for (const Entry& e : kTable)
        if (e.name == name) return e;
    return kTable[0];  // unreachable: every enumerator has an entry
}
}  // namespace

std::string_view tensor_base_name(TensorName name) { return entry(name).text; }
bool is_layer_tensor(TensorName name) { return entry(name).per_layer; }

std::string tensor_name(TensorName name, int64_t layer) {
    const Entry& e = entry(name);
    if (!e.per_layer) return std::string(e.text);
    return fmt::format("blk.{}.{}", layer, e.text);
}

}  // namespace rf::model
