// POST /v1/completions and /v1/chat/completions. Both answer through a chunked content provider
// so that the handler learns when the client has gone: a stream's write fails, and a plain
// request writes a space (JSON ignores leading whitespace) every second while it waits. Either way
// the requests are cancelled and their KV blocks freed.
#include <fmt/format.h>

#include "server/generation.h"
#include "server/openai_response.h"
#include "server/server_impl.h"

namespace rf::server {

namespace {

constexpr auto kStreamPoll = std::chrono::milliseconds(250);
constexpr auto kHeartbeat = std::chrono::milliseconds(1000);
// How long a response's end waits for its cancelled requests to report their finish (the scheduler
// does at its next step).
constexpr auto kDrainAfterCancel = std::chrono::seconds(10);

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Records a generation's metrics and traces as its events arrive.
class Recorder {
public:
    Recorder(Server::Impl& server, const Generation& g, std::string endpoint)
        : server_(server), g_(g), endpoint_(std::move(endpoint)), last_token_(g.choices().size()),
          start_unix_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {}

    void observe(const TimedEvent& e) {
        const engine::RequestEvent& ev = e.event;
        auto& last = last_token_[e.choice];
        if (ev.kind == engine::RequestEvent::Kind::Token) {
            if (last)
                server_.metrics.observe_inter_token_latency(seconds(e.at - *last));
            else
                server_.metrics.observe_time_to_first_token(seconds(e.at - g_.submitted()));
            last = e.at;
            return;
        }
        server_.metrics.count_finished(finish_reason(ev.reason));
        server_.metrics.count_tokens(ev.usage.prompt_tokens, ev.usage.completion_tokens);
        server_.metrics.observe_request_duration(seconds(e.at - g_.submitted()));
        server_.traces.add({.request = ev.request,
                            .endpoint = endpoint_,
                            .start_unix = start_unix_,
                            .timings = ev.timings,
                            .usage = ev.usage,
                            .finish_reason = std::string(finish_reason(ev.reason)),
                            .error = ev.error});
    }

private:
    Server::Impl& server_;
    const Generation& g_;
    std::string endpoint_;
    std::vector<std::optional<Clock::time_point>> last_token_;
    double start_unix_;
};

struct Exchange {
    std::shared_ptr<Generation> generation;
    ResponseMeta meta;
    bool include_usage = false;
    std::unique_ptr<Recorder> recorder;
};

bool write(httplib::DataSink& sink, const std::string& data) { return sink.write(data.data(), data.size()); }

// A request that failed ends with an error; one cut by a timeout or by shutdown carries a message
// too, but ends like any cancelled one (its text so far and finish_reason "cancelled", nothing
// else; the message goes to its trace).

bool stream_events(Exchange& x, httplib::DataSink& sink) {
    Generation& g = *x.generation;
    std::vector<size_t> text_offsets(g.choices().size(), 0);
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
        if (!finished && ev.text.empty() && steps.empty()) continue;
        const std::string chunk =
            stream_chunk(x.meta, c.index, ev.text, steps,
                         finished ? std::optional<engine::StopReason>(ev.reason) : std::nullopt, false,
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

bool send_whole(Exchange& x, httplib::DataSink& sink) {
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

void handle(Server::Impl& s, const httplib::Request& req, httplib::Response& res, Endpoint endpoint) {
    if (!s.ready) return send_error(res, not_ready(s));
    auto parsed = parse_request(endpoint, req.body, s.model);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
    ParsedRequest& r = std::get<ParsedRequest>(parsed);
    r.options.timeout = s.options.request_timeout;
    auto started = Generation::start(*s.scheduler, r);
    if (auto* e = std::get_if<ApiError>(&started)) return send_error(res, *e);

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
               .tokenizer = s.model.tokenizer};
    x->include_usage = r.include_usage;
    x->recorder = std::make_unique<Recorder>(s, *x->generation, req.path);
    res.set_header("X-Request-Id", fmt::format("{}", fmt::join(ids, ",")));
    // The releaser runs however the response ends; a generation still running is cancelled, and
    // its requests' finishes are still recorded, so that every request that entered the scheduler
    // is counted once (metrics, traces), also when its client left.
    auto release = [x](bool) {
        Generation& g = *x->generation;
        if (g.finished()) return;
        g.cancel_all();
        const auto give_up = Clock::now() + kDrainAfterCancel;
        while (!g.finished() && Clock::now() < give_up)
            if (std::optional<TimedEvent> e = g.next(kStreamPoll)) {
                g.apply(*e);
                x->recorder->observe(*e);
            }
    };
    if (r.stream) {
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider(
            "text/event-stream", [x](size_t, httplib::DataSink& sink) { return stream_events(*x, sink); }, release);
    } else {
        res.set_chunked_content_provider(
            "application/json", [x](size_t, httplib::DataSink& sink) { return send_whole(*x, sink); }, release);
    }
}

}  // namespace

void add_generation_routes(Server::Impl& s) {
    s.http.Post("/v1/completions", [&s](const httplib::Request& req, httplib::Response& res) {
        handle(s, req, res, Endpoint::Completions);
    });
    s.http.Post("/v1/chat/completions", [&s](const httplib::Request& req, httplib::Response& res) {
        handle(s, req, res, Endpoint::Chat);
    });
}

}  // namespace rf::server
