#include "server/traces.h"

namespace rf::server {

void TraceBuffer::add(Trace trace) {
    std::lock_guard lock(mutex_);
    traces_.push_back(std::move(trace));
    while (traces_.size() > capacity_) traces_.pop_front();
}

nlohmann::json TraceBuffer::to_json(size_t limit) const {
    using nlohmann::json;
    json list = json::array();
    std::lock_guard lock(mutex_);
    for (auto it = traces_.rbegin(); it != traces_.rend() && list.size() < limit; ++it) {
        const Trace& t = *it;
        const engine::RequestTimings& s = t.timings;
        // Span starts are offsets from submission, in seconds.
        json spans = json::array({
            {{"name", "queue"}, {"start", 0.0}, {"duration", s.queued}},
            {{"name", "prefill"}, {"start", s.queued}, {"duration", s.prefill}},
            {{"name", "decode"}, {"start", s.queued + s.prefill}, {"duration", s.decode}},
        });
        json entry{{"id", t.request},
                   {"endpoint", t.endpoint},
                   {"start_unix", t.start_unix},
                   {"time_to_first_token", s.time_to_first_token},
                   {"prompt_tokens", t.usage.prompt_tokens},
                   {"cached_prompt_tokens", t.usage.cached_prompt_tokens},
                   {"completion_tokens", t.usage.completion_tokens},
                   {"finish_reason", t.finish_reason},
                   {"spans", spans}};
        if (!t.error.empty()) entry["error"] = t.error;
        list.push_back(std::move(entry));
    }
    return json{{"traces", list}};
}

}  // namespace rf::server
