// How a request generates, whichever loop runs it (generate for one sequence, the scheduler for
// many): the token limit, the sampler's parameters and where to stop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/sampler.h"

namespace rf::engine {

struct DecodeOptions {
    int64_t max_tokens = 128;
    SamplerParams sampling;
    std::vector<std::string> stop_strings = {};
    bool stop_at_end_of_generation = true;  // EOS / end-of-turn tokens of the vocabulary
};

}  // namespace rf::engine
