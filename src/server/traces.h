// The spans of recently finished requests (queue, prefill, decode), kept in a ring buffer for
// GET /traces.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/scheduler.h"

namespace rf::server {

struct Trace {
    uint64_t request = 0;
    std::string endpoint;        // "/v1/completions" ...
    double start_unix = 0.0;     // submission, seconds since the epoch
    engine::RequestTimings timings;
    engine::RequestUsage usage;
    std::string finish_reason = {};
    std::string error = {};
};

class TraceBuffer {
public:
    explicit TraceBuffer(size_t capacity) : capacity_(capacity) {}
    void add(Trace trace);
    // {"traces": [...]}, newest first, at most `limit`.
    nlohmann::json to_json(size_t limit) const;

private:
    size_t capacity_;
    mutable std::mutex mutex_;
    std::deque<Trace> traces_;
};

}  // namespace rf::server
