// What one request carries from step to step while it generates: its sampler (own seed and
// penalty window), the streaming detokenizer, the stop-string matcher and the limits. Shared by
// the single-sequence loop (generate) and the scheduler, so both stop and stream the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/decode_options.h"
#include "engine/generate.h"
#include "engine/sampler.h"
#include "engine/stop_matcher.h"
#include "grammar/token_constraint.h"
#include "tokenizer/stream_decoder.h"

namespace rf::engine {

class DecodeState {
public:
    DecodeState(const tokenizer::Tokenizer& tokenizer, DecodeOptions options);

    // Records the prompt for the penalties.
    void accept_prompt(std::span<const int32_t> prompt);
    // True when max_tokens are generated (checked before sampling another).
    bool at_limit() const { return generated_ >= options_.max_tokens; }
    int64_t generated() const { return generated_; }

    struct Step {
        int32_t token = -1;
        std::string text;                 // released text (may be empty)
        std::optional<StopReason> stop;   // EndOfGeneration or StopString when this token ends it
        std::string error;                // the step failed (no token): the grammar allows none
    };
    // Samples the next token from raw logits (modified in place by bias, penalties and the
    // grammar's mask).
    Step sample(std::span<float> logits);
    // Ends the stream: the text still held back (none after a stop string).
    std::string finish(StopReason reason);

    // The grammar's counters (masks computed, answered from cache), when there is one.
    const grammar::TokenConstraint* constraint() const { return constraint_ ? &*constraint_ : nullptr; }

private:
    // A token the grammar allows, drawn from the prepared logits; -1 when there is none.
    int32_t draw_constrained(std::span<float> logits);

    const tokenizer::Tokenizer* tokenizer_;
    DecodeOptions options_;
    Sampler sampler_;
    tokenizer::StreamDecoder decoder_;
    StopMatcher stops_;
    std::optional<grammar::TokenConstraint> constraint_;
    int64_t generated_ = 0;
};

// log-softmax of raw logits: the log-probability of `token` and the k most likely tokens.
struct LogProbs {
    float logprob = 0.0f;
    std::vector<std::pair<int32_t, float>> top;
};
LogProbs log_probs(std::span<const float> logits, int32_t token, int64_t k);

}  // namespace rf::engine
