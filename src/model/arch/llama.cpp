// llama (Llama 1-3, Mistral, Yi, TinyLlama) and, with expert_count set, Mixtral-style MoE.
#include "model/arch/llama.h"

namespace rf::model {

namespace {

struct LlamaLayer {
    ParamVector attn_norm;                               // (n_embd)
    AttentionWeights attention;
    ParamVector ffn_norm;                                // (n_embd)
    std::variant<FeedForwardWeights, MoeWeights> ffn;    // dense, or experts when n_expert > 0
};

class LlamaModel final : public Model {
public:
    LlamaModel(HParams hp, AttentionOptions attention) : Model(std::move(hp)), attention_(attention) {}

    Status forward(ForwardState& s) const override {
        RF_TRY(embed_tokens(s, embedding_));
        for (int64_t il = 0; il < static_cast<int64_t>(layers_.size()); ++il) {
            RF_TRY(s.enter_layer(il));
            Backend& be = s.backend();
            const Act x = s.residual(), h = s.normed(), out = s.block_out();
            const LlamaLayer& l = layers_[il];
            RF_TRY(rms_norm(s, x, l.attn_norm, hp_.norm_eps, h));
            RF_TRY(self_attention(s, l.attention, attention_, il, h, x, Into::Add));
            RF_TRY(rms_norm(s, x, l.ffn_norm, hp_.norm_eps, h));
            if (const auto* dense = std::get_if<FeedForwardWeights>(&l.ffn)) {
                RF_TRY(feed_forward(s, *dense, h, x, Into::Add));
            } else {
                RF_TRY(mixture_of_experts(s, std::get<MoeWeights>(l.ffn), h, out));
                RF_TRY(be.add(x, out, x));
            }
        }
        return output_logits(s, head_, hp_.norm_eps);
    }

    AttentionOptions attention_;
    WeightMatrix embedding_;
    std::vector<LlamaLayer> layers_;
    OutputHead head_;
    friend Result<std::unique_ptr<Model>> rf::model::load_llama_variant(const gguf::File&, const Placement&, HParams,
                                                                        LlamaVariant);
};

}  // namespace

Result<std::unique_ptr<Model>> load_llama_variant(const gguf::File& file, const Placement& placement, HParams hp,
                                                  LlamaVariant variant) {
    WeightLoader w(file, placement);
    auto model = std::make_unique<LlamaModel>(hp, default_attention(hp, variant.rope));
    RF_ASSIGN_OR_RETURN(model->embedding_, w.matrix(TensorName::TokenEmbd, -1, hp.n_embd, hp.n_vocab));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        LlamaLayer l;
        RF_ASSIGN_OR_RETURN(l.attn_norm, w.vector(TensorName::AttnNorm, il, hp.n_embd));
        RF_ASSIGN_OR_RETURN(l.attention, load_attention(w, hp, il, variant.attention));
        RF_ASSIGN_OR_RETURN(l.ffn_norm, w.vector(TensorName::FfnNorm, il, hp.n_embd));
        if (hp.n_expert > 0) {
            RF_ASSIGN_OR_RETURN(l.ffn, load_experts(w, hp, il));
        } else {
            RF_ASSIGN_OR_RETURN(l.ffn, load_feed_forward(w, hp, il, variant.fused_gate_up, GatedActivation::Silu));
        }
        model->layers_.push_back(std::move(l));
    }
    RF_ASSIGN_OR_RETURN(model->head_, load_output_head(w, hp, model->embedding_));
    model->adopt_buffers(w.take_buffers());
    return std::unique_ptr<Model>(std::move(model));
}

Result<std::unique_ptr<Model>> load_llama(const gguf::File& file, const Placement& placement, HParams hp) {
    return load_llama_variant(file, placement, std::move(hp), LlamaVariant{});
}

}  // namespace rf::model
