#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace rf::engine {

Status validate(const SamplerParams& p) {
    auto finite = [](float v) { return std::isfinite(v); };
    if (!finite(p.temperature) || p.temperature < 0.0f || p.temperature > 100.0f)
        return make_error("temperature must be in [0, 100], got {}", p.temperature);
    if (!finite(p.top_p) || p.top_p <= 0.0f || p.top_p > 1.0f) return make_error("top-p must be in (0, 1], got {}", p.top_p);
    if (!finite(p.min_p) || p.min_p < 0.0f || p.min_p > 1.0f) return make_error("min-p must be in [0, 1], got {}", p.min_p);
    if (!finite(p.typical_p) || p.typical_p <= 0.0f || p.typical_p > 1.0f)
        return make_error("typical-p must be in (0, 1], got {}", p.typical_p);
    if (!finite(p.repeat_penalty) || p.repeat_penalty <= 0.0f || p.repeat_penalty > 100.0f)
        return make_error("repeat penalty must be in (0, 100], got {}", p.repeat_penalty);
    if (!finite(p.frequency_penalty) || std::abs(p.frequency_penalty) > 100.0f)
        return make_error("frequency penalty must be in [-100, 100], got {}", p.frequency_penalty);
    if (!finite(p.presence_penalty) || std::abs(p.presence_penalty) > 100.0f)
        return make_error("presence penalty must be in [-100, 100], got {}", p.presence_penalty);
    if (p.penalty_window < 0 || p.penalty_window > (1 << 20))
        return make_error("penalty window must be in [0, 1048576], got {}", p.penalty_window);
    if (p.top_k < 0) return make_error("top-k must not be negative, got {}", p.top_k);
    for (const auto& [id, bias] : p.logit_bias)
        if (!std::isfinite(bias) && bias != -INFINITY) return make_error("logit bias for token {} is not a number", id);
    return ok_status();
}

Sampler::Sampler(SamplerParams params) : params_(std::move(params)), rng_(params_.seed) {}

void Sampler::reset() {
    recent_.clear();
    rng_.seed(params_.seed);
}

void Sampler::accept(int32_t token) {
    if (params_.penalty_window <= 0) return;
    recent_.push_back(token);
    while (static_cast<int64_t>(recent_.size()) > params_.penalty_window) recent_.pop_front();
}

void Sampler::prepare(std::span<float> logits) {
    apply_logit_bias(logits, params_.logit_bias);
    recent_flat_.assign(recent_.begin(), recent_.end());
    apply_penalties(logits, recent_flat_, params_.repeat_penalty, params_.frequency_penalty, params_.presence_penalty,
                    penalty_scratch_);
}

bool Sampler::untruncated() const {
    return params_.temperature <= 0.0f ||
           (params_.top_k <= 0 && params_.top_p >= 1.0f && params_.min_p <= 0.0f && params_.typical_p >= 1.0f);
}

int32_t Sampler::draw(std::span<const float> logits) {
    if (params_.temperature <= 0.0f)
        return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (untruncated()) return draw_from_all(logits);

    make_candidates(logits, candidates_, params_.top_k);  // includes top-k
    typical_p(candidates_, params_.typical_p);
    top_p(candidates_, params_.top_p);
    min_p(candidates_, params_.min_p);
    apply_temperature(candidates_, params_.temperature);

    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    double r = uniform(rng_), mass = 0.0;
    for (const auto& c : candidates_) {
        mass += c.p;
        if (r < mass) return c.id;
    }
    return candidates_.back().id;
}

// The whole distribution at the temperature, without sorting it (the stages above need the order;
// a draw from everything does not): one pass for the weights, one to find where the draw falls.
// O(n), where sorting cost milliseconds a row for a 32k vocabulary. A logit of -infinity (a banned
// or masked token) has weight 0 and is never drawn.
int32_t Sampler::draw_from_all(std::span<const float> logits) {
    const float max = *std::max_element(logits.begin(), logits.end());
    if (!std::isfinite(max)) return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const float inverse_t = 1.0f / params_.temperature;
    weights_.resize(logits.size());
    double sum = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) sum += weights_[i] = std::exp((logits[i] - max) * inverse_t);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const double r = uniform(rng_) * sum;
    double mass = 0.0;
    size_t last = 0;
    for (size_t i = 0; i < weights_.size(); ++i) {
        if (weights_[i] <= 0.0f) continue;
        mass += weights_[i];
        last = i;
        if (r < mass) return static_cast<int32_t>(i);
    }
    return static_cast<int32_t>(last);  // rounding left r at the very end
}

}  // namespace rf::engine
