// What is recorded of each finished generation request, and its two views: the spans of recent
// requests (queue, prefill, decode) kept in a ring buffer for GET /traces, and the OTLP spans of a
// whole HTTP exchange for a collector.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/scheduler.h"
#include "server/otlp_exporter.h"
#include "server/trace_context.h"

namespace rf::server {

// One scheduler request (a choice of an HTTP request).
struct Trace {
    uint64_t request = 0;
    std::string endpoint;        // "/v1/completions" ...
    std::string trace_id = {};   // the W3C trace of the HTTP request it served
    double start_unix = 0.0;     // submission, seconds since the epoch
    engine::RequestTimings timings;
    engine::RequestUsage usage;
    std::string finish_reason = {};
    std::string error = {};
    bool failed = false;         // could not run to its end (engine::RequestEvent::failed)
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

// One HTTP generation request from arrival to the end of its response.
struct ExchangeTrace {
    TraceContext context;
    std::string method, path;
    int status = 0;
    std::string error = {};          // why it failed as a whole (5xx, every choice failed, client gone)
    double start_unix = 0.0, end_unix = 0.0;
    std::string operation;           // GenAI operation: "chat" or "text_completion"
    std::string model;
    std::string response_id = {};    // "chatcmpl-ID", once submitted
    std::optional<int64_t> max_tokens = {};
    engine::RequestUsage usage = {}; // of the whole response (prompts counted once)
    std::vector<Trace> requests = {};  // its finished scheduler requests
};

// The server span (the HTTP handling, GenAI attributes of the whole response) and below it, per
// scheduler request, a generation span with its queue, prefill and decode spans.
std::vector<OtlpSpan> exchange_spans(const ExchangeTrace& x);

}  // namespace rf::server
