// Request traces over OTLP, over a fake scheduler, against a receiver in this process: the payload's
// shape, the parent/child links and attributes of every span under 32 concurrent requests, the
// caller's trace joined through traceparent, a collector that is down, failing or slow costing no
// request, and JSON log lines carrying the trace ids.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "fake_scheduler.h"
#include "harness.h"
#include "model_fixture.h"
#include "otlp_receiver.h"

namespace rf::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::otlp_int;
using test::otlp_string;
using test::otlp_strings;
using test::otlp_time;
using test::parse_json;

constexpr const char* kCallerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kCallerSpan = "00f067aa0ba902b7";

// Quick batches, so that tests need not wait long for spans.
OtlpOptions fast_export(const std::string& base_url) {
    return {.traces_url = base_url + "/v1/traces", .timeout = 2000ms, .schedule_delay = 20ms};
}

class OtlpTest : public ::testing::Test {
protected:
    void SetUp() override {
        RF_REQUIRE_SHARED();
        ASSERT_NE(test::shared_tokenizer(), nullptr);
    }
    void start(ServerOptions options) {
        options.model_id = "tiny";
        scheduler = std::make_unique<test::FakeScheduler>(1ms);
        harness = std::make_unique<test::ServerHarness>(*scheduler, test::model_context(), options);
    }
    void TearDown() override {
        harness.reset();
        scheduler.reset();
    }
    httplib::Result complete(const std::string& body, const httplib::Headers& headers = {}) {
        return harness->client().Post("/v1/completions", headers, body, "application/json");
    }
    // A counter of /metrics (the whole line's name, labels included); -1 when missing.
    double metric(const std::string& name) {
        auto res = harness->client().Get("/metrics");
        if (!res) return -1;
        const size_t at = res->body.find("\n" + name + " ");
        return at == std::string::npos ? -1 : std::stod(res->body.substr(at + name.size() + 2));
    }
    // Polls a metric until it reaches `value`; the last value read.
    double wait_metric(const std::string& name, double value) {
        double v = -1;
        for (int i = 0; i < 400 && (v = metric(name)) < value; ++i) std::this_thread::sleep_for(25ms);
        return v;
    }
    std::unique_ptr<test::FakeScheduler> scheduler;
    std::unique_ptr<test::ServerHarness> harness;
};

std::map<std::string, std::vector<json>> by_trace(const std::vector<json>& spans) {
    std::map<std::string, std::vector<json>> out;
    for (const json& s : spans) out[s["traceId"]].push_back(s);
    return out;
}

const json* named(const std::vector<json>& spans, const std::string& name) {
    for (const json& s : spans)
        if (s["name"] == name) return &s;
    return nullptr;
}

// "00-TRACE-SPAN-FLAGS" -> its parts.
std::vector<std::string> header_parts(const std::string& header) {
    std::vector<std::string> parts;
    for (size_t start = 0; start <= header.size();) {
        size_t end = header.find('-', start);
        if (end == std::string::npos) end = header.size();
        parts.push_back(header.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

TEST_F(OtlpTest, ThirtyTwoConcurrentRequestsGiveOneLinkedTraceEach) {
    test::OtlpReceiver receiver;
    start({.otlp = fast_export(receiver.endpoint())});
    constexpr int kRequests = 32;
    struct Answer {
        std::string id, traceresponse;
        bool chat = false;
    };
    std::vector<Answer> answers(kRequests);
    std::vector<std::thread> clients;
    for (int i = 0; i < kRequests; ++i)
        clients.emplace_back([&, i] {
            const bool chat = i % 2 == 1;
            const json body = chat ? json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 3}}
                                   : json{{"prompt", "hello"}, {"max_tokens", 3}, {"stream", i % 4 == 0}};
            auto res = harness->client().Post(chat ? "/v1/chat/completions" : "/v1/completions", body.dump(),
                                              "application/json");
            ASSERT_TRUE(res);
            ASSERT_EQ(res->status, 200) << res->body;
            answers[i].chat = chat;
            answers[i].traceresponse = res->get_header_value("traceresponse");
            answers[i].id = res->get_header_value("X-Request-Id");
        });
    for (auto& t : clients) t.join();

    // Five spans a request: the server span, the generation, queue, prefill, decode.
    ASSERT_TRUE(receiver.wait_for([&](const std::vector<json>& s) { return s.size() >= 5 * kRequests; }))
        << receiver.spans().size();
    EXPECT_EQ(wait_metric("rocmforge_otlp_spans_exported_total", 5 * kRequests), 5 * kRequests);
    EXPECT_EQ(metric("rocmforge_otlp_spans_dropped_total{reason=\"queue_full\"}"), 0);
    EXPECT_EQ(metric("rocmforge_otlp_spans_dropped_total{reason=\"export_failed\"}"), 0);
    for (const std::string& type : receiver.content_types()) EXPECT_EQ(type, "application/json");
    for (const json& body : receiver.bodies()) {
        const json& resource = body["resourceSpans"][0]["resource"];
        EXPECT_EQ(resource["attributes"], json::parse(R"([{"key":"service.name","value":{"stringValue":"rocmforge"}}])"));
        EXPECT_EQ(body["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"], "rocmforge.server");
    }

    const std::vector<json> spans = receiver.spans();
    ASSERT_EQ(spans.size(), 5u * kRequests);
    std::set<std::string> span_ids;
    for (const json& s : spans) {
        EXPECT_EQ(s["traceId"].get<std::string>().size(), 32u);
        EXPECT_EQ(s["spanId"].get<std::string>().size(), 16u);
        span_ids.insert(s["spanId"]);
        EXPECT_LE(otlp_time(s, "startTimeUnixNano"), otlp_time(s, "endTimeUnixNano")) << s.dump();
        EXPECT_FALSE(s.contains("status")) << s.dump();  // nothing failed
    }
    EXPECT_EQ(span_ids.size(), spans.size());
    const auto traces = by_trace(spans);
    ASSERT_EQ(traces.size(), static_cast<size_t>(kRequests));
    for (const Answer& a : answers) {
        const std::vector<std::string> header = header_parts(a.traceresponse);
        ASSERT_EQ(header.size(), 4u) << a.traceresponse;
        EXPECT_EQ(header[0], "00");
        EXPECT_EQ(header[3], "01");
        ASSERT_TRUE(traces.contains(header[1])) << a.traceresponse;
        const std::vector<json>& t = traces.at(header[1]);
        ASSERT_EQ(t.size(), 5u);
        const std::string path = a.chat ? "/v1/chat/completions" : "/v1/completions";
        const std::string operation = a.chat ? "chat" : "text_completion";
        const json* server = named(t, "POST " + path);
        const json* generation = named(t, operation + " tiny");
        ASSERT_TRUE(server && generation) << json(t).dump();
        EXPECT_EQ((*server)["spanId"], header[2]);  // the response names the server span
        EXPECT_FALSE(server->contains("parentSpanId"));
        EXPECT_EQ((*server)["kind"], 2);
        EXPECT_EQ(otlp_string(*server, "http.request.method"), "POST");
        EXPECT_EQ(otlp_string(*server, "http.route"), path);
        EXPECT_EQ(otlp_int(*server, "http.response.status_code"), 200);
        EXPECT_EQ(otlp_string(*server, "gen_ai.operation.name"), operation);
        EXPECT_EQ(otlp_string(*server, "gen_ai.request.model"), "tiny");
        EXPECT_EQ(otlp_int(*server, "gen_ai.request.max_tokens"), 3);
        EXPECT_EQ(otlp_string(*server, "gen_ai.response.id"), (a.chat ? "chatcmpl-" : "cmpl-") + a.id);
        EXPECT_EQ(otlp_int(*server, "gen_ai.usage.output_tokens"), 3);
        EXPECT_GT(otlp_int(*server, "gen_ai.usage.input_tokens"), 0);
        EXPECT_EQ(otlp_strings(*server, "gen_ai.response.finish_reasons"), std::vector<std::string>{"length"});

        EXPECT_EQ((*generation)["parentSpanId"], (*server)["spanId"]);
        EXPECT_EQ((*generation)["kind"], 1);
        EXPECT_EQ(otlp_int(*generation, "rocmforge.request.id"), std::stoll(a.id));
        EXPECT_EQ(otlp_int(*generation, "gen_ai.usage.output_tokens"), 3);
        EXPECT_EQ(otlp_int(*generation, "gen_ai.usage.input_tokens"), otlp_int(*server, "gen_ai.usage.input_tokens"));
        EXPECT_TRUE(test::otlp_attribute(*generation, "gen_ai.latency.time_to_first_token").contains("doubleValue"));
        for (const char* phase : {"queue", "prefill", "decode"}) {
            const json* p = named(t, phase);
            ASSERT_TRUE(p) << phase;
            EXPECT_EQ((*p)["parentSpanId"], (*generation)["spanId"]) << phase;
            // Children lie within their parents.
            EXPECT_GE(otlp_time(*p, "startTimeUnixNano"), otlp_time(*generation, "startTimeUnixNano")) << phase;
            EXPECT_LE(otlp_time(*p, "endTimeUnixNano"), otlp_time(*generation, "endTimeUnixNano")) << phase;
        }
        EXPECT_EQ(otlp_int(*named(t, "prefill"), "rocmforge.prefill.chunks"), 1);
        EXPECT_EQ(otlp_int(*named(t, "decode"), "gen_ai.usage.output_tokens"), 3);
        EXPECT_GE(otlp_time(*generation, "startTimeUnixNano"), otlp_time(*server, "startTimeUnixNano"));
        EXPECT_LE(otlp_time(*generation, "endTimeUnixNano"), otlp_time(*server, "endTimeUnixNano"));
    }
    harness->stop();  // nothing was left to send
    EXPECT_EQ(receiver.spans().size(), 5u * kRequests);
}

TEST_F(OtlpTest, TraceparentJoinsTheCallersTrace) {
    test::OtlpReceiver receiver;
    start({.otlp = fast_export(receiver.endpoint())});
    const std::string traceparent = std::string("00-") + kCallerTrace + "-" + kCallerSpan + "-01";
    auto res = complete(R"({"prompt":"x","max_tokens":2})", {{"traceparent", traceparent}, {"tracestate", "congo=t61rcWkgMzE"}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    const std::vector<std::string> header = header_parts(res->get_header_value("traceresponse"));
    ASSERT_EQ(header.size(), 4u);
    EXPECT_EQ(header[1], kCallerTrace);
    EXPECT_NE(header[2], kCallerSpan);  // our span, a child of the caller's
    EXPECT_EQ(header[3], "01");

    // A caller that does not record its trace: joined, answered, not exported.
    auto unsampled = complete(R"({"prompt":"x","max_tokens":2})",
                              {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}});
    ASSERT_TRUE(unsampled);
    EXPECT_EQ(unsampled->get_header_value("traceresponse").substr(0, 36), "00-0af7651916cd43dd8448eb211c80319c-");
    EXPECT_TRUE(unsampled->get_header_value("traceresponse").ends_with("-00"));

    // Malformed headers start a trace of our own (upper case, zero ids, version ff, extra fields in 00).
    std::set<std::string> own;
    for (const std::string bad : {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                                  "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                  "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                                  "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "garbage"}) {
        auto r = complete(R"({"prompt":"x","max_tokens":1})", {{"traceparent", bad}});
        ASSERT_TRUE(r);
        const std::vector<std::string> h = header_parts(r->get_header_value("traceresponse"));
        ASSERT_EQ(h.size(), 4u) << bad;
        EXPECT_NE(h[1], kCallerTrace) << bad;
        EXPECT_EQ(h[3], "01") << bad;
        own.insert(h[1]);
    }
    EXPECT_EQ(own.size(), 6u);  // each a new trace
    // A later version may carry more fields: its first four are read.
    const std::string later_trace = "11111111111111111111111111111111";
    auto future = complete(R"({"prompt":"x","max_tokens":1})",
                           {{"traceparent", "01-" + later_trace + "-" + kCallerSpan + "-01-what-next"}});
    ASSERT_TRUE(future);
    EXPECT_EQ(header_parts(future->get_header_value("traceresponse"))[1], later_trace);
    // /traces names each request's trace.
    const json listed = parse_json(harness->client().Get("/traces?limit=1")->body)["traces"];
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["trace_id"], later_trace);

    harness->stop();  // sends what is queued
    const auto traces = by_trace(receiver.spans());
    EXPECT_FALSE(traces.contains("0af7651916cd43dd8448eb211c80319c"));
    ASSERT_TRUE(traces.contains(kCallerTrace));
    const std::vector<json>& joined = traces.at(kCallerTrace);
    ASSERT_EQ(joined.size(), 5u);
    const json* server = named(joined, "POST /v1/completions");
    ASSERT_TRUE(server);
    EXPECT_EQ((*server)["parentSpanId"], kCallerSpan);
    EXPECT_EQ((*server)["spanId"], header[2]);
    for (const json& s : joined) EXPECT_EQ(s["traceState"], "congo=t61rcWkgMzE") << s.dump();
    ASSERT_TRUE(traces.contains(later_trace));
    EXPECT_EQ((*named(traces.at(later_trace), "POST /v1/completions"))["parentSpanId"], kCallerSpan);
    for (const auto& [id, spans] : traces) {  // the malformed ones: roots of their own
        if (own.contains(id)) {
            EXPECT_FALSE(named(spans, "POST /v1/completions")->contains("parentSpanId"));
        }
    }
    EXPECT_EQ(traces.size(), 2u + own.size());
}

// No collector listening, or one answering 500: every request is served as without export, the
// spans are counted as dropped, and the log says so once.
TEST_F(OtlpTest, ACollectorThatIsDownOrFailingCostsNoRequest) {
    for (const bool down : {true, false}) {
        SCOPED_TRACE(down ? "down" : "answering 500");
        auto failing = std::make_unique<test::OtlpReceiver>(test::OtlpReceiver::Options{.status = 500});
        const std::string endpoint = failing->endpoint();
        if (down) failing.reset();  // the port closes
        std::vector<std::string> lines;
        std::mutex lines_mutex;
        auto log = std::make_shared<const Logger>(LogFormat::Json, "", [&](const std::string& line) {
            std::lock_guard lock(lines_mutex);
            lines.push_back(line);
        });
        start({.log = log, .otlp = fast_export(endpoint)});
        constexpr int kRequests = 6;
        for (int i = 0; i < kRequests; ++i) {
            const auto begun = std::chrono::steady_clock::now();
            auto res = complete(R"({"prompt":"x","max_tokens":2})");
            ASSERT_TRUE(res);
            EXPECT_EQ(res->status, 200) << res->body;
            EXPECT_LT(std::chrono::steady_clock::now() - begun, 1s);
            std::this_thread::sleep_for(30ms);  // let batches go out (and fail) in between
        }
        EXPECT_EQ(wait_metric("rocmforge_otlp_spans_dropped_total{reason=\"export_failed\"}", 5 * kRequests),
                  5 * kRequests);
        EXPECT_EQ(metric("rocmforge_otlp_spans_exported_total"), 0);
        if (!down) {
            EXPECT_GT(failing->posts(), 0u);
            EXPECT_TRUE(failing->spans().empty());
        }
        TearDown();
        size_t warnings = 0;
        for (const std::string& line : lines) {
            const json j = parse_json(line);
            if (j.value("message", "").find("OTLP export failed") == std::string::npos) continue;
            ++warnings;
            EXPECT_EQ(j["level"], "warning");
            EXPECT_NE(j["reason"].get<std::string>().find(down ? "no answer" : "answered 500"), std::string::npos)
                << line;
        }
        EXPECT_EQ(warnings, 1u);  // one line per outage, not one per batch
    }
}

// A collector that takes its time: requests do not wait for it; spans beyond the bounded queue are
// dropped and counted, and every span is accounted for once the server stops.
TEST_F(OtlpTest, ASlowCollectorNeverSlowsRequests) {
    test::OtlpReceiver slow({.hold = true});
    OtlpOptions otlp = fast_export(slow.endpoint());
    otlp.timeout = 10s;
    otlp.max_queue_spans = 10;
    otlp.max_batch_spans = 5;
    start({.otlp = otlp});
    ASSERT_TRUE(complete(R"({"prompt":"x","max_tokens":1})"));  // its spans are now held by the collector
    for (int i = 0; i < 100 && slow.posts() == 0; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(slow.posts(), 1u);
    constexpr int kRequests = 20;
    const auto begun = std::chrono::steady_clock::now();
    for (int i = 0; i < kRequests; ++i) {
        auto res = complete(R"({"prompt":"x","max_tokens":1})");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - begun, 5s);  // the held export is 10 s long
    // The last spans are handed over just after their response has gone out: poll.
    EXPECT_EQ(wait_metric("rocmforge_otlp_spans_dropped_total{reason=\"queue_full\"}", 5 * kRequests - 10),
              5 * kRequests - 10);
    slow.release();
    const double queue_full = metric("rocmforge_otlp_spans_dropped_total{reason=\"queue_full\"}");
    harness->stop();
    // Every span was either exported or counted as dropped (the first request's five held above).
    EXPECT_EQ(slow.spans().size() + queue_full, 5.0 * (kRequests + 1));
}

// Refused requests are traced too: the server span alone, with its status; 5xx marks an error.
TEST_F(OtlpTest, RefusedRequestsGetAServerSpan) {
    test::OtlpReceiver receiver;
    start({.otlp = fast_export(receiver.endpoint())});
    auto bad = complete(R"({"prompt":"x","max_tokens":-1})");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    harness->server().set_ready(false);
    auto not_ready = complete(R"({"prompt":"x"})");
    ASSERT_TRUE(not_ready);
    EXPECT_EQ(not_ready->status, 503);
    harness->stop();
    const auto traces = by_trace(receiver.spans());
    ASSERT_EQ(traces.size(), 2u);
    for (const auto& [id, spans] : traces) {
        ASSERT_EQ(spans.size(), 1u);
        const json& s = spans[0];
        const int64_t status = otlp_int(s, "http.response.status_code");
        EXPECT_TRUE(status == 400 || status == 503) << s.dump();
        // A client's mistake is not the server's error; a 503 is.
        EXPECT_EQ(s.contains("status"), status == 503) << s.dump();
        if (status == 503) {
            EXPECT_EQ(s["status"]["code"], 2);
            EXPECT_NE(s["status"]["message"].get<std::string>().find("not loaded"), std::string::npos);
        }
    }
}

// With JSON logging, a request's line carries its trace id, the server span's id and the flags;
// the text format carries them too.
TEST_F(OtlpTest, LogLinesCarryTheTraceIds) {
    for (const LogFormat format : {LogFormat::Json, LogFormat::Text}) {
        std::vector<std::string> lines;
        std::mutex lines_mutex;
        start({.log = std::make_shared<const Logger>(format, "serve: ", [&](const std::string& line) {
            std::lock_guard lock(lines_mutex);
            lines.push_back(line);
        })});  // no exporter: the ids are logged all the same
        const std::string traceparent = std::string("00-") + kCallerTrace + "-" + kCallerSpan + "-01";
        auto res = complete(R"({"prompt":"x","max_tokens":2})", {{"traceparent", traceparent}});
        ASSERT_TRUE(res);
        const std::string id = res->get_header_value("X-Request-Id");
        const std::string span = header_parts(res->get_header_value("traceresponse"))[2];
        TearDown();
        ASSERT_EQ(lines.size(), 1u);
        if (format == LogFormat::Text) {
            EXPECT_EQ(lines[0].rfind("serve: request ", 0), 0u) << lines[0];
            EXPECT_NE(lines[0].find(std::string(" trace_id=") + kCallerTrace), std::string::npos) << lines[0];
            EXPECT_NE(lines[0].find(" span_id=" + span), std::string::npos) << lines[0];
            continue;
        }
        const json j = parse_json(lines[0]);
        ASSERT_TRUE(j.is_object()) << lines[0];
        EXPECT_EQ(j["level"], "info");
        EXPECT_EQ(j["message"], "request");
        EXPECT_TRUE(j["time"].get<std::string>().ends_with("Z"));
        EXPECT_EQ(j["trace_id"], kCallerTrace);
        EXPECT_EQ(j["span_id"], span);
        EXPECT_EQ(j["trace_flags"], "01");
        EXPECT_EQ(j["status"], 200);
        EXPECT_EQ(j["path"], "/v1/completions");
        EXPECT_EQ(j["request_ids"], json::array({std::stoull(id)}));
        EXPECT_EQ(j["completion_tokens"], 2);
        EXPECT_EQ(j["finish_reasons"], json::array({"length"}));
    }
}

// At debug level a request logs its arrival, its submission and its end, and every one of those
// lines carries the same request_id: the server span's id, which the caller has from traceresponse.
TEST_F(OtlpTest, EveryLineOfARequestCarriesItsRequestId) {
    std::vector<std::string> lines;
    std::mutex lines_mutex;
    start({.log = std::make_shared<const Logger>(LogFormat::Json, "serve: ",
                                                 [&](const std::string& line) {
                                                     std::lock_guard lock(lines_mutex);
                                                     lines.push_back(line);
                                                 },
                                                 LogLevel::Debug)});
    auto first = complete(R"({"prompt":"x","max_tokens":2})");
    auto second = complete(R"({"prompt":"y","max_tokens":1})");
    ASSERT_TRUE(first && second);
    const std::string first_id = header_parts(first->get_header_value("traceresponse"))[2];
    const std::string second_id = header_parts(second->get_header_value("traceresponse"))[2];
    EXPECT_NE(first_id, second_id);
    TearDown();
    std::vector<std::string> first_messages;
    size_t second_lines = 0;
    for (const std::string& line : lines) {
        const json j = parse_json(line);
        ASSERT_TRUE(j.is_object()) << line;
        ASSERT_TRUE(j.contains("time") && j.contains("level") && j.contains("message")) << line;
        ASSERT_TRUE(j.contains("request_id")) << line;
        if (j["request_id"] == first_id) first_messages.push_back(j["message"]);
        else if (j["request_id"] == second_id) ++second_lines;
        else ADD_FAILURE() << "a line of no request: " << line;
    }
    EXPECT_EQ(first_messages, (std::vector<std::string>{"request received", "request submitted", "request"}));
    EXPECT_EQ(second_lines, 3u);
}

// At the default level (info) a request writes one line; at warn, none.
TEST_F(OtlpTest, TheLogLevelDropsLessSevereLines) {
    for (const LogLevel least : {LogLevel::Info, LogLevel::Warning}) {
        std::vector<std::string> lines;
        std::mutex lines_mutex;
        start({.log = std::make_shared<const Logger>(LogFormat::Text, "serve: ",
                                                     [&](const std::string& line) {
                                                         std::lock_guard lock(lines_mutex);
                                                         lines.push_back(line);
                                                     },
                                                     least)});
        auto res = complete(R"({"prompt":"x","max_tokens":1})");
        ASSERT_TRUE(res);
        const std::string id = header_parts(res->get_header_value("traceresponse"))[2];
        TearDown();
        if (least == LogLevel::Warning) {
            EXPECT_TRUE(lines.empty()) << lines.front();
            continue;
        }
        ASSERT_EQ(lines.size(), 1u);
        EXPECT_EQ(lines[0].rfind("serve: request request_id=" + id + " ", 0), 0u) << lines[0];
    }
}

}  // namespace
}  // namespace rf::server
