// The scheduler's record of one request: what was asked, where it stands (its sequence slot, the
// tokens so far and how many have keys and values in the cache) and its decode state. Internal
// to the scheduler; the loop thread owns everything but `cancel_requested`.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/decode_state.h"
#include "engine/scheduler.h"

namespace rf::engine {

using Clock = std::chrono::steady_clock;

struct Request {
    uint64_t id = 0;
    RequestOptions options;
    EventSink sink;
    Clock::time_point submitted, scheduled, first_token;
    std::optional<Clock::time_point> deadline;  // submission + timeout
    bool cancel_requested = false;  // under the scheduler's mutex

    // Loop thread only.
    RequestState state = RequestState::Queued;
    int32_t seq = -1;
    std::vector<int32_t> tokens;  // the prompt, then every generated token
    int64_t prompt_size = 0;
    int64_t computed = 0;         // leading tokens whose keys and values are in the cache
    int64_t cached = 0;           // of the prompt, reused from the prefix cache (first admission)
    bool started = false;         // admitted at least once
    int64_t preemptions = 0;
    int64_t prefill_chunks = 0;   // steps that computed prompt tokens before the first token
    std::optional<DecodeState> decode;
    std::vector<double> embedding_sum;  // an embedding request: its pooled rows so far
    std::vector<float> embedding;       // and, once its prompt is computed, the result
    bool finished = false;

    // Nothing before admission, when `tokens` does not hold the prompt yet.
    int64_t generated() const { return std::max<int64_t>(0, static_cast<int64_t>(tokens.size()) - prompt_size); }
    RequestUsage usage() const { return {prompt_size, cached, generated()}; }
    bool wants_logprobs() const { return options.logprobs || options.top_logprobs > 0; }
};
using RequestPtr = std::shared_ptr<Request>;

}  // namespace rf::engine
