// POST /v1/completions and /v1/chat/completions. Both answer through a chunked content provider
// so that the handler learns when the client has gone: a stream's write fails, and a plain
// request writes a space (JSON ignores leading whitespace) every second while it waits. Either way
// the requests are cancelled and their KV blocks freed.
#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "server/context_augment.h"
#include "server/generation.h"
#include "server/openai_response.h"
#include "server/recorder.h"
#include "server/server_impl.h"

namespace rf::server {

namespace {

constexpr auto kStreamPoll = std::chrono::milliseconds(250);
constexpr auto kHeartbeat = std::chrono::milliseconds(1000);
// How long a response's end waits for its cancelled requests to report their finish (the scheduler
// does at its next step).
constexpr auto kDrainAfterCancel = std::chrono::seconds(10);

struct Exchange {
    std::shared_ptr<Generation> generation;
    ResponseMeta meta;
    bool include_usage = false;
    std::unique_ptr<Recorder> recorder;
};

bool write(DataSink& sink, const std::string& data) { return sink.write(data); }

// A request that failed ends with an error; one cut by a timeout or by shutdown carries a message
// too, but ends like any cancelled one (its text so far and finish_reason "cancelled", nothing
// else; the message goes to its trace).

bool stream_events(Exchange& x, DataSink& sink) {
    Generation& g = *x.generation;
    std::vector<size_t> text_offsets(g.choices().size(), 0);
    std::vector<ToolCallReader> readers;  // chat with tools: one per choice
    if (x.meta.parse_tool_calls)
        for (size_t i = 0; i < g.choices().size(); ++i) readers.emplace_back(x.meta.tool_format, x.meta.tool_names);
    if (x.meta.endpoint == Endpoint::Chat)  // OpenAI opens each choice with the assistant role
        for (const Choice& c : g.choices())
            if (!write(sink, sse_event(stream_chunk(x.meta, c.index, "", {}, std::nullopt, true)))) return false;
    while (!g.finished()) {
        std::optional<TimedEvent> e = g.next(kStreamPoll);
        if (!e) {
            if (!sink.is_writable()) return false;
            continue;
        }
        Choice& c = g.apply(*e);
        x.recorder->observe(*e);
        const engine::RequestEvent& ev = e->event;
        const bool finished = ev.kind == engine::RequestEvent::Kind::Finished;
        std::span<const StepLogprob> steps;
        if (!finished && x.meta.logprobs != LogprobsMode::None) steps = {&c.logprobs.back(), 1};
        if (x.meta.parse_tool_calls) {  // content and calls as the reader settles them
            ToolCallReader& reader = readers[e->choice];
            std::vector<ToolCallEvent> events = reader.feed(ev.text);
            if (finished) std::ranges::move(reader.finish(), std::back_inserter(events));
            for (const ToolCallEvent& te : events)
                if (!write(sink, sse_event(tool_event_chunk(x.meta, c.index, te)))) return false;
            if (!finished) continue;
            const std::string last = stream_chunk(x.meta, c.index, "", {}, tool_finish_reason(ev.reason, reader.calls() > 0), false);
            if (!write(sink, sse_event(last))) return false;
            if (ev.failed && !write(sink, sse_event(error_body({.status = 500, .message = ev.error, .type = "server_error"}))))
                return false;
            continue;
        }
        if (!finished && ev.text.empty() && steps.empty()) continue;
        const std::string chunk =
            stream_chunk(x.meta, c.index, ev.text, steps,
                         finished ? std::optional<std::string_view>(finish_reason(ev.reason)) : std::nullopt, false,
                         text_offsets[e->choice]);
        text_offsets[e->choice] += ev.text.size();
        if (!write(sink, sse_event(chunk))) return false;
        if (finished && ev.failed &&
            !write(sink, sse_event(error_body({.status = 500, .message = ev.error, .type = "server_error"}))))
            return false;
    }
    if (x.include_usage && !write(sink, sse_event(usage_chunk(x.meta, total_usage(g.choices()))))) return false;
    if (!write(sink, std::string(kSseDone))) return false;
    sink.done();
    return true;
}

bool send_whole(Exchange& x, DataSink& sink) {
    Generation& g = *x.generation;
    Clock::time_point last_write = Clock::now();
    while (!g.finished()) {
        std::optional<TimedEvent> e = g.next(kHeartbeat);
        if (e) {
            g.apply(*e);
            x.recorder->observe(*e);
        }
        if (Clock::now() - last_write >= kHeartbeat) {
            if (!write(sink, " ")) return false;  // the second write to a closed socket fails
            last_write = Clock::now();
        }
    }
    // The status line has gone out already; a request that failed as a whole says so in the body.
    const auto& choices = g.choices();
    const bool all_failed = std::all_of(choices.begin(), choices.end(), [](const Choice& c) { return c.failed; });
    const std::string body = all_failed ? error_body({.status = 500, .message = choices[0].error, .type = "server_error"})
                                        : completion_body(x.meta, choices);
    if (!write(sink, body)) return false;
    sink.done();
    return true;
}

void handle(Server::Impl& s, const HttpRequest& req, HttpResponse& res, Endpoint endpoint) {
    auto recorder = std::make_unique<Recorder>(s, req, endpoint);
    res.set_header("traceresponse", recorder->trace().header());  // the trace id, for the caller's logs
    auto refuse = [&](const ApiError& e) {
        send_error(res, e);
        recorder->end(e.status, e.status >= 500 ? e.message : "");
    };
    if (!s.ready) return refuse(not_ready(s));
    // Chat with "context": the stored items go in as a system message (context_augment.h).
    std::shared_ptr<Augmentation> augmentation;
    if (endpoint == Endpoint::Chat && mentions_context(req.body)) {
        if (!s.options.context)
            return refuse(bad_request("'context' needs a server with a context store (serve --context)", "context"));
        auto augmented = augment_chat(req.body, *s.options.context, *s.model.tokenizer);
        if (auto* e = std::get_if<ApiError>(&augmented)) return refuse(*e);
        augmentation = std::make_shared<Augmentation>(std::move(std::get<Augmentation>(augmented)));
    }
    auto parsed = parse_request(endpoint, augmentation ? augmentation->body : req.body, s.model);
    if (auto* e = std::get_if<ApiError>(&parsed)) return refuse(*e);
    ParsedRequest& r = std::get<ParsedRequest>(parsed);
    r.options.timeout = s.options.request_timeout;
    auto started = Generation::start(*s.scheduler, r);
    if (auto* e = std::get_if<ApiError>(&started)) return refuse(*e);

    auto x = std::make_shared<Exchange>();
    x->generation = std::get<std::shared_ptr<Generation>>(std::move(started));
    const auto& ids = x->generation->ids();
    x->meta = {.id = fmt::format("{}-{}", endpoint == Endpoint::Chat ? "chatcmpl" : "cmpl", ids.front()),
               .model = s.options.model_id,
               .created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count(),
               .endpoint = endpoint,
               .logprobs = r.logprobs,
               .tokenizer = s.model.tokenizer,
               .parse_tool_calls = r.tools.parse_calls,
               .tool_format = r.tools.format,
               .tool_names = r.tools.names,
               .context = augmentation ? augmentation->report : nlohmann::json(nullptr)};
    x->include_usage = r.include_usage;
    recorder->started(*x->generation, r, x->meta.id);
    x->recorder = std::move(recorder);
    res.set_header("X-Request-Id", fmt::format("{}", fmt::join(ids, ",")));
    // The releaser runs however the response ends; a generation still running is cancelled, and
    // its requests' finishes are still recorded, so that every request that entered the scheduler
    // is counted once (metrics, traces), also when its client left.
    auto release = [x, augmentation, &s](bool sent) {
        Generation& g = *x->generation;
        if (!g.finished()) {
            g.cancel_all();
            const auto give_up = Clock::now() + kDrainAfterCancel;
            while (!g.finished() && Clock::now() < give_up)
                if (std::optional<TimedEvent> e = g.next(kStreamPoll)) {
                    g.apply(*e);
                    x->recorder->observe(*e);
                }
        }
        const auto& choices = g.choices();
        const bool all_failed = std::all_of(choices.begin(), choices.end(), [](const Choice& c) { return c.failed; });
        x->recorder->end(200, !sent         ? "the client went away before the response ended"
                              : all_failed ? choices[0].error
                                           : "");
        // The exchange is stored once the response went out whole (a failed store is only logged:
        // the client has its answer).
        if (augmentation && augmentation->store && sent && !choices[0].failed && choices[0].error.empty()) {
            if (Status stored = store_exchange(*s.options.context, *augmentation, choices[0].text); !stored.ok())
                x->recorder->log(LogLevel::Warning, "context: storing the exchange failed: " + stored.error().message);
        }
    };
    if (r.stream) {
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider(
            "text/event-stream", [x](DataSink& sink) { return stream_events(*x, sink); }, release);
    } else {
        res.set_chunked_content_provider(
            "application/json", [x](DataSink& sink) { return send_whole(*x, sink); }, release);
    }
}

}  // namespace

void add_generation_routes(Server::Impl& s) {
    s.http.Post("/v1/completions", [&s](const HttpRequest& req, HttpResponse& res) {
        handle(s, req, res, Endpoint::Completions);
    });
    s.http.Post("/v1/chat/completions", [&s](const HttpRequest& req, HttpResponse& res) {
        handle(s, req, res, Endpoint::Chat);
    });
}

}  // namespace rf::server
