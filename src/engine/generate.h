// The generation loop for one sequence: feed the prompt in batches, then sample, stream and feed
// one token at a time until a stop token, a stop string, the token limit, a full context or a
// cancel request.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/decode_options.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"

namespace rf::engine {

struct GenerateOptions : DecodeOptions {
    int64_t top_logits = 0;  // record the K best raw logits per position and step
    int32_t seq = 0;
};

using TopLogits = std::vector<std::pair<int32_t, float>>;

enum class StopReason { MaxTokens, EndOfGeneration, StopString, ContextFull, Cancelled };
std::string_view stop_reason_name(StopReason reason);

struct GenerateResult {
    std::vector<int32_t> prompt_tokens;
    std::vector<int32_t> tokens;  // generated, including a final end-of-generation token
    std::string text;             // what was streamed
    std::vector<TopLogits> prompt_top;
    std::vector<TopLogits> step_top;
    StopReason reason = StopReason::MaxTokens;
    double prompt_seconds = 0.0;
    double generate_seconds = 0.0;
};

// Receives streamed text (whole UTF-8 characters).
using TextSink = std::function<void(std::string_view)>;

// Appends `prompt` to the sequence (continuing from what the cache holds) and generates. Afterwards
// the cache holds the prompt and every generated token but the last (which was never fed).
Result<GenerateResult> generate(Engine& engine, const tokenizer::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                                const GenerateOptions& options, const TextSink& sink = {},
                                const std::atomic<bool>* cancel = nullptr);

// The k best (id, logit) pairs of a logit row, best first.
TopLogits top_logits(std::span<const float> logits, int64_t k);

}  // namespace rf::engine
