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
    };
    // Samples the next token from raw logits (modified in place by bias and penalties).
    Step sample(std::span<float> logits);
    // Ends the stream: the text still held back (none after a stop string).
    std::string finish(StopReason reason);

private:
    const tokenizer::Tokenizer* tokenizer_;
    DecodeOptions options_;
    Sampler sampler_;
    tokenizer::StreamDecoder decoder_;
    StopMatcher stops_;
    int64_t generated_ = 0;
};

// log-softmax of raw logits: the log-probability of `token` and the k most likely tokens.
struct LogProbs {
    float logprob = 0.0f;
    std::vector<std::pair<int32_t, float>> top;
};
LogProbs log_probs(std::span<const float> logits, int32_t token, int64_t k);

}  // namespace rf::engine
