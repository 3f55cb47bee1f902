#include "server/recorder.h"

#include <fmt/format.h>

namespace rf::server {

namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double unix_now() { return seconds(std::chrono::system_clock::now().time_since_epoch()); }

}  // namespace

Recorder::Recorder(Server::Impl& server, const HttpRequest& req, Endpoint endpoint) : server_(server) {
    // A repeated traceparent is invalid (the specification): the request starts its own trace.
    const std::string traceparent = req.get_header_value("traceparent");
    std::string tracestate;
    for (size_t i = 0; i < req.get_header_value_count("tracestate"); ++i) {
        if (i > 0) tracestate += ',';
        tracestate += req.get_header_value("tracestate", i);
    }
    const bool one_traceparent = req.get_header_value_count("traceparent") == 1;
    x_.context = join_or_start_trace(one_traceparent ? std::optional<std::string_view>(traceparent) : std::nullopt,
                                     tracestate);
    x_.method = req.method;
    x_.path = req.path;
    x_.start_unix = unix_now();
    x_.operation = endpoint == Endpoint::Chat ? "chat" : "text_completion";
    x_.model = server.options.model_id;
    log(LogLevel::Debug, "request received", {{"method", x_.method}, {"path", x_.path}});
}

void Recorder::log(LogLevel level, std::string_view message, nlohmann::ordered_json fields) const {
    const Logger* logger = server_.options.log.get();
    if (!logger || !logger->enabled(level)) return;
    nlohmann::ordered_json line{{"request_id", request_id()}};
    line.update(fields);
    logger->log(level, message, line);
}

void Recorder::started(const Generation& g, const ParsedRequest& request, std::string response_id) {
    g_ = &g;
    last_token_.assign(g.choices().size(), std::nullopt);
    ids_ = g.ids();
    // Submission on the wall clock, from the steady clock the events are timed with.
    submitted_unix_ = unix_now() - seconds(Clock::now() - g.submitted());
    x_.response_id = std::move(response_id);
    x_.max_tokens = request.options.max_tokens;
    log(LogLevel::Debug, "request submitted",
        {{"request_ids", ids_}, {"choices", g.choices().size()}, {"max_tokens", x_.max_tokens ? nlohmann::ordered_json(*x_.max_tokens) : nlohmann::ordered_json()}});
}

void Recorder::observe(const TimedEvent& e) {
    const engine::RequestEvent& ev = e.event;
    auto& last = last_token_[e.choice];
    if (ev.kind == engine::RequestEvent::Kind::Token) {
        if (last)
            server_.metrics.observe_inter_token_latency(seconds(e.at - *last));
        else
            server_.metrics.observe_time_to_first_token(seconds(e.at - g_->submitted()));
        last = e.at;
        return;
    }
    server_.metrics.count_finished(finish_reason(ev.reason));
    server_.metrics.count_tokens(ev.usage.prompt_tokens, ev.usage.completion_tokens);
    server_.metrics.observe_request_duration(seconds(e.at - g_->submitted()));
    Trace t{.request = ev.request,
            .endpoint = x_.path,
            .trace_id = x_.context.trace_id,
            .start_unix = submitted_unix_,
            .timings = ev.timings,
            .usage = ev.usage,
            .finish_reason = std::string(finish_reason(ev.reason)),
            .error = ev.error,
            .failed = ev.failed};
    server_.traces.add(t);
    if (server_.exporter) x_.requests.push_back(std::move(t));
}

void Recorder::end(int status, std::string error) {
    if (ended_) return;
    ended_ = true;
    x_.status = status;
    x_.error = std::move(error);
    x_.end_unix = unix_now();
    if (g_) x_.usage = total_usage(g_->choices());
    {
        nlohmann::ordered_json fields{{"method", x_.method}, {"path", x_.path}, {"status", status}};
        if (g_) {
            std::vector<std::string> reasons;
            for (const Choice& c : g_->choices()) reasons.emplace_back(finish_reason(c.reason));
            fields.update({{"request_ids", ids_},
                           {"prompt_tokens", x_.usage.prompt_tokens},
                           {"completion_tokens", x_.usage.completion_tokens},
                           {"finish_reasons", reasons}});
        }
        fields.update({{"duration_s", x_.end_unix - x_.start_unix},
                       {"trace_id", x_.context.trace_id},
                       {"span_id", x_.context.span_id},
                       {"trace_flags", fmt::format("{:02x}", x_.context.flags)}});
        if (!x_.error.empty()) fields["error"] = x_.error;
        log(LogLevel::Info, "request", std::move(fields));
    }
    if (server_.exporter && x_.context.sampled()) server_.exporter->enqueue(exchange_spans(x_));
}

}  // namespace rf::server
