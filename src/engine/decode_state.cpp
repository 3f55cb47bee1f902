#include "engine/decode_state.h"

#include <algorithm>
#include <cmath>

namespace rf::engine {

DecodeState::DecodeState(const tokenizer::Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(&tokenizer),
      options_(std::move(options)),
      sampler_(options_.sampling),
      decoder_(tokenizer, {.show_special = false, .strip_space_prefix = false}),
      stops_(options_.stop_strings) {}

void DecodeState::accept_prompt(std::span<const int32_t> prompt) {
    for (int32_t t : prompt) sampler_.accept(t);
}

DecodeState::Step DecodeState::sample(std::span<float> logits) {
    Step s;
    s.token = sampler_.sample(logits);
    sampler_.accept(s.token);
    ++generated_;
    if (options_.stop_at_end_of_generation && tokenizer_->is_end_of_generation(s.token)) {
        s.stop = StopReason::EndOfGeneration;  // its text is not shown
        return s;
    }
    auto out = stops_.push(decoder_.push(s.token));
    s.text = std::move(out.text);
    if (out.stopped) s.stop = StopReason::StopString;
    return s;
}

std::string DecodeState::finish(StopReason reason) {
    if (reason == StopReason::StopString) return {};
    return stops_.push(decoder_.finish()).text + stops_.flush();
}

LogProbs log_probs(std::span<const float> logits, int32_t token, int64_t k) {
    LogProbs r;
    if (logits.empty()) return r;
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
    const float lse = max + static_cast<float>(std::log(sum));
    if (token >= 0 && static_cast<size_t>(token) < logits.size()) r.logprob = logits[token] - lse;
    for (auto [id, logit] : top_logits(logits, k)) r.top.emplace_back(id, logit - lse);
    return r;
}

}  // namespace rf::engine
