// gemma2: embeddings scaled by sqrt(n_embd); each block's output is normalised again before it
// joins the residual stream; GELU (tanh) gate; soft-capped attention scores and logits; layers
// 0, 2, 4, ... attend only within a sliding window. The norm weights are used as stored (the
// GGUF conversion has already folded in gemma's "1 + weight").
#include <cmath>

#include "model/block_loading.h"
#include "model/registry.h"

namespace rf::model {

namespace {

struct Gemma2Layer {
    ParamVector attn_norm, post_attn_norm;  // (n_embd)
    AttentionWeights attention;
    ParamVector ffn_norm, post_ffn_norm;    // (n_embd)
    FeedForwardWeights ffn;
};

class Gemma2Model final : public Model {
public:
    Gemma2Model(HParams hp, AttentionOptions global) : Model(std::move(hp)), global_(global), local_(global) {
        local_.config.sliding_window = hp_.sliding_window;
    }

    Status forward(ForwardState& s) const override {
        RF_TRY(embed_tokens(s, embedding_, std::sqrt(static_cast<float>(hp_.n_embd))));
        for (int64_t il = 0; il < static_cast<int64_t>(layers_.size()); ++il) {
            RF_TRY(s.enter_layer(il));
            Backend& be = s.backend();
            const Act x = s.residual(), h = s.normed(), out = s.block_out();
            const Gemma2Layer& l = layers_[il];
            const bool sliding = il % 2 == 0;
            RF_TRY(rms_norm(s, x, l.attn_norm, hp_.norm_eps, h));
            RF_TRY(self_attention(s, l.attention, sliding ? local_ : global_, il, h, out));
            RF_TRY(rms_norm(s, out, l.post_attn_norm, hp_.norm_eps, out));
            RF_TRY(be.add(x, out, x));
            RF_TRY(rms_norm(s, x, l.ffn_norm, hp_.norm_eps, h));
            RF_TRY(feed_forward(s, l.ffn, h, out));
            RF_TRY(rms_norm(s, out, l.post_ffn_norm, hp_.norm_eps, out));
            RF_TRY(be.add(x, out, x));
        }
        return output_logits(s, head_, hp_.norm_eps);
    }

    AttentionOptions global_, local_;
    WeightMatrix embedding_;
    std::vector<Gemma2Layer> layers_;
    OutputHead head_;
};

}  // namespace

Result<std::unique_ptr<Model>> load_gemma2(const gguf::File& file, const Placement& placement, HParams hp) {
    if (hp.sliding_window <= 0)
        return make_error("{}: gemma2 needs {}", file.path(), hp.key("attention.sliding_window"));
    WeightLoader w(file, placement);
    auto model = std::make_unique<Gemma2Model>(hp, default_attention(hp, RopeStyle::Neox));
    RF_ASSIGN_OR_RETURN(model->embedding_, w.matrix(TensorName::TokenEmbd, -1, hp.n_embd, hp.n_vocab));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        Gemma2Layer l;
        RF_ASSIGN_OR_RETURN(l.attn_norm, w.vector(TensorName::AttnNorm, il, hp.n_embd));
        RF_ASSIGN_OR_RETURN(l.attention, load_attention(w, hp, il, {}));
        RF_ASSIGN_OR_RETURN(l.post_attn_norm, w.vector(TensorName::PostAttnNorm, il, hp.n_embd));
        RF_ASSIGN_OR_RETURN(l.ffn_norm, w.vector(TensorName::FfnNorm, il, hp.n_embd));
        RF_ASSIGN_OR_RETURN(l.ffn, load_feed_forward(w, hp, il, false, GatedActivation::GeluTanh));
        RF_ASSIGN_OR_RETURN(l.post_ffn_norm, w.vector(TensorName::PostFfnNorm, il, hp.n_embd));
        model->layers_.push_back(std::move(l));
    }
    RF_ASSIGN_OR_RETURN(model->head_, load_output_head(w, hp, model->embedding_));
    model->adopt_buffers(w.take_buffers());
    return std::unique_ptr<Model>(std::move(model));
}

}  // namespace rf::model
