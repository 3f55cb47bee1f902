#include "model/hparams.h"

#include <cmath>
#include <limits>

namespace rf::model {

namespace {

Result<int64_t> required(const gguf::File& f, const HParams& hp, std::string_view name, int64_t limit) {
    if (!f.has(hp.key(name))) return make_error("{}: missing metadata key {}", f.path(), hp.key(name));
    RF_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(hp.key(name)));
    if (v == 0 || v > static_cast<uint64_t>(limit))
        return make_error("{}: {} = {} is not a usable value (1 to {})", f.path(), hp.key(name), v, limit);
    return static_cast<int64_t>(v);
}

Result<int64_t> optional(const gguf::File& f, const HParams& hp, std::string_view name, int64_t fallback,
                         int64_t limit) {
    RF_ASSIGN_OR_RETURN(uint64_t v, f.get_uint_or(hp.key(name), static_cast<uint64_t>(fallback)));
    if (v > static_cast<uint64_t>(limit))
        return make_error("{}: {} = {} is not a usable value (at most {})", f.path(), hp.key(name), v, limit);
    return static_cast<int64_t>(v);
}

// Checked against the f32 range, not just for finiteness: an f64 such as 1e300 has no f32 value.
Result<float> optional_float(const gguf::File& f, const HParams& hp, std::string_view name, double fallback) {
    RF_ASSIGN_OR_RETURN(double v, f.get_float_or(hp.key(name), fallback));
    if (!(std::abs(v) <= std::numeric_limits<float>::max()))
        return make_error("{}: {} = {} is not a finite f32", f.path(), hp.key(name), v);
    return static_cast<float>(v);
}

Status read_rope(const gguf::File& f, HParams& hp) {
    RopeConfig& r = hp.rope;
    RF_ASSIGN_OR_RETURN(r.n_dims, optional(f, hp, "rope.dimension_count", hp.head_dim_k, kMaxHeadSize));
    RF_ASSIGN_OR_RETURN(r.freq_base, optional_float(f, hp, "rope.freq_base", 10000.0));
    RF_ASSIGN_OR_RETURN(std::string type, f.get_string_or(hp.key("rope.scaling.type"), "none"));
    RF_ASSIGN_OR_RETURN(float factor, optional_float(f, hp, "rope.scaling.factor", 0.0));
    RF_ASSIGN_OR_RETURN(r.n_ctx_orig, optional(f, hp, "rope.scaling.original_context_length", hp.n_ctx_train, kMaxContext));
    if (r.n_dims <= 0 || r.n_dims > hp.head_dim_k || r.n_dims % 2 != 0)
        return make_error("{}: {} = {} does not fit heads of {}", f.path(), hp.key("rope.dimension_count"), r.n_dims,
                          hp.head_dim_k);
    if (!(r.freq_base > 0.0f)) return make_error("{}: {} must be positive", f.path(), hp.key("rope.freq_base"));
    if (type == "none") return ok_status();
    r.freq_scale = 1.0f / factor;
    if (!(factor > 0.0f) || !std::isfinite(r.freq_scale))  // a subnormal factor has no f32 inverse
        return make_error("{}: rope scaling '{}' needs a positive {} (got {})", f.path(), type,
                          hp.key("rope.scaling.factor"), factor);
    if (type == "linear") return ok_status();
    if (type == "yarn") {
        r.ext_factor = 1.0f;
        RF_ASSIGN_OR_RETURN(r.beta_fast, optional_float(f, hp, "rope.scaling.yarn_beta_fast", 32.0));
        RF_ASSIGN_OR_RETURN(r.beta_slow, optional_float(f, hp, "rope.scaling.yarn_beta_slow", 1.0));
        return ok_status();
    }
    return make_error("{}: rope scaling type '{}' is not supported (linear and yarn are)", f.path(), type);
}

}  // namespace

Result<HParams> read_hparams(const gguf::File& f) {
    HParams hp;
    hp.arch = f.architecture();
    if (hp.arch.empty()) return make_error("{}: general.architecture is missing", f.path());
    RF_ASSIGN_OR_RETURN(hp.n_ctx_train, required(f, hp, "context_length", kMaxContext));
    RF_ASSIGN_OR_RETURN(hp.n_embd, required(f, hp, "embedding_length", kMaxWidth));
    RF_ASSIGN_OR_RETURN(hp.n_layer, required(f, hp, "block_count", kMaxCount));
    RF_ASSIGN_OR_RETURN(hp.n_ff, required(f, hp, "feed_forward_length", kMaxWidth));
    RF_ASSIGN_OR_RETURN(hp.n_head, required(f, hp, "attention.head_count", kMaxCount));
    RF_ASSIGN_OR_RETURN(hp.n_head_kv, optional(f, hp, "attention.head_count_kv", hp.n_head, kMaxCount));
    if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
        return make_error("{}: {} heads cannot be grouped over {} KV heads", f.path(), hp.n_head, hp.n_head_kv);
    const int64_t default_head = hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 0;
    RF_ASSIGN_OR_RETURN(hp.head_dim_k, optional(f, hp, "attention.key_length", default_head, kMaxHeadSize));
    RF_ASSIGN_OR_RETURN(hp.head_dim_v, optional(f, hp, "attention.value_length", hp.head_dim_k, kMaxHeadSize));
    if (hp.head_dim_k <= 0 || hp.head_dim_v <= 0)
        return make_error("{}: head size unknown: {} does not divide by {} heads and {} is absent", f.path(),
                          hp.n_embd, hp.n_head, hp.key("attention.key_length"));
    RF_ASSIGN_OR_RETURN(hp.norm_eps, optional_float(f, hp, "attention.layer_norm_rms_epsilon", 1e-5));
    if (!(hp.norm_eps > 0.0f)) return make_error("{}: the norm epsilon must be positive", f.path());
    RF_ASSIGN_OR_RETURN(hp.n_expert, optional(f, hp, "expert_count", 0, kMaxCount));
    RF_ASSIGN_OR_RETURN(hp.n_expert_used, optional(f, hp, "expert_used_count", 0, kMaxCount));
    if (hp.n_expert > 0 && (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert))
        return make_error("{}: {} = {} must be 1 to {} = {}", f.path(), hp.key("expert_used_count"),
                          hp.n_expert_used, hp.key("expert_count"), hp.n_expert);
    // The forward state sizes its rows by the experts used, so a dense model must use none (as in llama.cpp).
    if (hp.n_expert == 0 && hp.n_expert_used != 0)
        return make_error("{}: {} = {} but the model has no experts ({} is 0 or absent)", f.path(),
                          hp.key("expert_used_count"), hp.n_expert_used, hp.key("expert_count"));
    RF_ASSIGN_OR_RETURN(hp.attn_softcap, optional_float(f, hp, "attn_logit_softcapping", 0.0));
    RF_ASSIGN_OR_RETURN(hp.final_softcap, optional_float(f, hp, "final_logit_softcapping", 0.0));
    RF_ASSIGN_OR_RETURN(hp.sliding_window, optional(f, hp, "attention.sliding_window", 0, kMaxContext));
    RF_TRY(read_rope(f, hp));
    return hp;
}

}  // namespace rf::model
