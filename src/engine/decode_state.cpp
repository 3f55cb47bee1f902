#include "engine/decode_state.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rf::engine {

DecodeState::DecodeState(const tokenizer::Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(&tokenizer),
      options_(std::move(options)),
      sampler_(options_.sampling),
      decoder_(tokenizer, {.show_special = false, .strip_space_prefix = false}),
      stops_(options_.stop_strings) {
    if (options_.grammar) {
        std::vector<int32_t> ends;
        const tokenizer::SpecialIds& sp = tokenizer.special();
        for (int32_t id : {sp.eos, sp.eot, sp.eom})
            if (id != tokenizer::kNoToken && tokenizer.is_end_of_generation(id)) ends.push_back(id);
        constraint_.emplace(options_.grammar, grammar::TokenTrie::for_tokenizer(tokenizer), std::move(ends));
    }
}

void DecodeState::accept_prompt(std::span<const int32_t> prompt) {
    for (int32_t t : prompt) sampler_.accept(t);
}

int32_t DecodeState::draw_constrained(std::span<float> logits) {
    grammar::TokenConstraint& c = *constraint_;
    sampler_.prepare(logits);
    if (sampler_.untruncated()) {
        const int32_t first = sampler_.draw(logits);
        if (c.allows(first)) return first;
    }
    const std::vector<uint64_t>& mask = c.mask();
    bool any = false;
    for (size_t i = 0; i < logits.size(); ++i) {
        const bool allowed = i / 64 < mask.size() && ((mask[i / 64] >> (i % 64)) & 1);
        if (!allowed) logits[i] = -INFINITY;
        any = any || allowed;
    }
    if (!any) return -1;
    const int32_t token = sampler_.draw(logits);
    return c.allows(token) ? token : -1;  // not allowed: every allowed logit was -infinity
}

DecodeState::Step DecodeState::sample(std::span<float> logits) {
    Step s;
    if (constraint_) {
        s.token = draw_constrained(logits);
        const bool drawn = s.token >= 0;
        if (!drawn || !constraint_->accept(s.token).ok()) {
            // A drawn token passed the single-token check; refusing it now means the matcher cut
            // the state at its limits (kMaxHeads) differently on the way: also too ambiguous.
            s.error = !constraint_->error().empty() ? constraint_->error()
                      : drawn ? "the grammar is too ambiguous to follow here (its state reached the matcher's limits)"
                              : "the grammar allows no token of the vocabulary here";
            s.token = -1;
            return s;
        }
        if (constraint_->is_end_token(s.token)) {  // allowed only where the grammar is complete
            sampler_.accept(s.token);
            ++generated_;
            s.stop = StopReason::EndOfGeneration;
            return s;
        }
    } else {
        s.token = sampler_.sample(logits);
    }
    sampler_.accept(s.token);
    ++generated_;
    if (options_.stop_at_end_of_generation && tokenizer_->is_end_of_generation(s.token)) {
        s.stop = StopReason::EndOfGeneration;  // its text is not shown
        return s;
    }
    auto out = stops_.push(decoder_.push(s.token));
    s.text = std::move(out.text);
    if (out.stopped) s.stop = StopReason::StopString;
    else if (constraint_ && constraint_->finished()) s.stop = StopReason::EndOfGeneration;  // nothing may follow
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
