// How a request generates, whichever loop runs it (generate for one sequence, the scheduler for
// many): the token limit, the sampler's parameters, where to stop and an optional grammar.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "grammar/grammar.h"

namespace rf::engine {

struct DecodeOptions {
    int64_t max_tokens = 128;
    SamplerParams sampling;
    std::vector<std::string> stop_strings = {};
    bool stop_at_end_of_generation = true;  // EOS / end-of-turn tokens of the vocabulary
    // When set, every token is one the grammar allows, the output ends when the grammar is
    // complete and nothing more may follow, and an end token is allowed only where it is complete.
    std::shared_ptr<const grammar::Grammar> grammar = {};
};

}  // namespace rf::engine
