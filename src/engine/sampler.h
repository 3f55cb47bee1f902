// The sampler chain: logit bias -> penalties over a window of recent tokens -> (greedy when the
// temperature is 0) -> top-k -> typical-p -> top-p -> min-p -> temperature -> a seeded draw.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "core/result.h"
#include "engine/sampler_stages.h"

namespace rf::engine {

struct SamplerParams {
    float temperature = 0.8f;     // <= 0: greedy
    int64_t top_k = 40;           // <= 0: off
    float top_p = 0.95f;          // 1: off
    float min_p = 0.05f;          // 0: off
    float typical_p = 1.0f;       // 1: off
    float repeat_penalty = 1.0f;  // 1: off
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    int64_t penalty_window = 64;  // recent tokens the penalties look at
    std::vector<std::pair<int32_t, float>> logit_bias = {};
    uint64_t seed = 0;
};

// An Error naming the first parameter out of its range.
Status validate(const SamplerParams& params);

class Sampler {
public:
    explicit Sampler(SamplerParams params);

    // Picks the next token from raw logits (modified in place by bias and penalties).
    int32_t sample(std::span<float> logits) {
        prepare(logits);
        return draw(logits);
    }
    // The two halves of sample(): bias and penalties applied in place, then the pick. Drawing
    // again from the same prepared logits (less some tokens) is how a grammar constrains a step.
    void prepare(std::span<float> logits);
    int32_t draw(std::span<const float> logits);
    // Greedy, or sampling from the whole distribution (no top-k/top-p/min-p/typical-p): then a
    // draw that happens to pick an allowed token is already a draw from the allowed tokens, and
    // a grammar need not compute its mask for that step.
    bool untruncated() const;
    // Records a token of the context (prompt or generated) for the penalties.
    void accept(int32_t token);
    void reset();

    const SamplerParams& params() const { return params_; }

private:
    int32_t draw_from_all(std::span<const float> logits);

    SamplerParams params_;
    std::mt19937_64 rng_;
    std::deque<int32_t> recent_;
    std::vector<int32_t> recent_flat_, penalty_scratch_;
    std::vector<Candidate> candidates_;
    std::vector<float> weights_;  // draw_from_all's
};

}  // namespace rf::engine
