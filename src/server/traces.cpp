#include "server/traces.h"

#include <cmath>

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
            {{"name", "prefill"}, {"start", s.queued}, {"duration", s.prefill}, {"chunks", s.prefill_chunks}},
            {{"name", "decode"}, {"start", s.queued + s.prefill}, {"duration", s.decode}},
        });
        json entry{{"id", t.request},
                   {"endpoint", t.endpoint},
                   {"trace_id", t.trace_id},
                   {"start_unix", t.start_unix},
                   {"time_to_first_token", s.time_to_first_token},
                   {"prompt_tokens", t.usage.prompt_tokens},
                   {"cached_prompt_tokens", t.usage.cached_prompt_tokens},
                   {"completion_tokens", t.usage.completion_tokens},
                   {"preemptions", s.preemptions},
                   {"finish_reason", t.finish_reason},
                   {"spans", spans}};
        if (!t.error.empty()) entry["error"] = t.error;
        list.push_back(std::move(entry));
    }
    return json{{"traces", list}};
}

namespace {

uint64_t unix_ns(double seconds) { return static_cast<uint64_t>(std::llround(seconds * 1e9)); }

OtlpSpan child_of(const OtlpSpan& parent, std::string name, double start, double end) {
    return {.trace_id = parent.trace_id,
            .span_id = random_hex_id(8),
            .parent_span_id = parent.span_id,
            .trace_state = parent.trace_state,
            .name = std::move(name),
            .start_unix_ns = unix_ns(start),
            .end_unix_ns = unix_ns(end)};
}

// A scheduler request: its generation span, then the phases it reached.
void add_request_spans(const ExchangeTrace& x, const OtlpSpan& server, const Trace& t, std::vector<OtlpSpan>& out) {
    const engine::RequestTimings& s = t.timings;
    const double scheduled = t.start_unix + s.queued, first_token = scheduled + s.prefill;
    OtlpSpan generation = child_of(server, x.operation + " " + x.model, t.start_unix, first_token + s.decode);
    generation.set("gen_ai.operation.name", x.operation)
        .set("gen_ai.request.model", x.model)
        .set("rocmforge.request.id", static_cast<int64_t>(t.request))
        .set("gen_ai.usage.input_tokens", t.usage.prompt_tokens)
        .set("gen_ai.usage.output_tokens", t.usage.completion_tokens)
        .set("gen_ai.usage.cache_read.input_tokens", t.usage.cached_prompt_tokens)
        .set("gen_ai.response.finish_reasons", std::vector<std::string>{t.finish_reason})
        .set("rocmforge.preemptions", s.preemptions);
    if (t.usage.completion_tokens > 0) generation.set("gen_ai.latency.time_to_first_token", s.time_to_first_token);
    if (t.failed) {
        generation.error = true;
        generation.status_message = t.error;
    } else if (!t.error.empty()) {  // cut short (timeout, shutdown): a cancellation, not a fault
        generation.set("rocmforge.cancel_reason", t.error);
    }
    out.push_back(child_of(generation, "queue", t.start_unix, scheduled));
    if (s.prefill_chunks > 0) {
        out.push_back(child_of(generation, "prefill", scheduled, first_token));
        out.back()
            .set("rocmforge.prefill.chunks", s.prefill_chunks)
            .set("rocmforge.prefill.computed_tokens", t.usage.prompt_tokens - t.usage.cached_prompt_tokens);
    }
    if (t.usage.completion_tokens > 0) {
        out.push_back(child_of(generation, "decode", first_token, first_token + s.decode));
        out.back().set("gen_ai.usage.output_tokens", t.usage.completion_tokens);
    }
    out.push_back(std::move(generation));
}

}  // namespace

std::vector<OtlpSpan> exchange_spans(const ExchangeTrace& x) {
    OtlpSpan server{.trace_id = x.context.trace_id,
                    .span_id = x.context.span_id,
                    .parent_span_id = x.context.parent_span_id,
                    .trace_state = x.context.tracestate,
                    .name = x.method + " " + x.path,
                    .kind = OtlpSpan::Kind::Server,
                    .start_unix_ns = unix_ns(x.start_unix),
                    .end_unix_ns = unix_ns(x.end_unix)};
    server.set("http.request.method", x.method)
        .set("http.route", x.path)
        .set("url.path", x.path)
        .set("http.response.status_code", static_cast<int64_t>(x.status))
        .set("gen_ai.operation.name", x.operation)
        .set("gen_ai.request.model", x.model);
    if (x.max_tokens) server.set("gen_ai.request.max_tokens", *x.max_tokens);
    // A server span's 4xx is the client's doing (HTTP conventions): only 5xx and failures are errors.
    if (x.status >= 500 || !x.error.empty()) {
        server.error = true;
        server.status_message = x.error;
    }
    std::vector<OtlpSpan> out;
    if (!x.requests.empty()) {
        std::vector<std::string> reasons;
        for (const Trace& t : x.requests) {
            reasons.push_back(t.finish_reason);
            add_request_spans(x, server, t, out);
        }
        server.set("gen_ai.response.id", x.response_id)
            .set("gen_ai.response.model", x.model)
            .set("gen_ai.usage.input_tokens", x.usage.prompt_tokens)
            .set("gen_ai.usage.output_tokens", x.usage.completion_tokens)
            .set("gen_ai.response.finish_reasons", reasons);
    }
    out.push_back(std::move(server));
    return out;
}

}  // namespace rf::server
