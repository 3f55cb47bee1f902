// The pieces of request tracing, without a server: W3C traceparent parsing and trace ids, the
// OTLP settings read from the flag and the OpenTelemetry environment variables, the OTLP/JSON
// export body, the spans of one exchange, and the log line formats.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "server/log.h"
#include "server/otlp_config.h"
#include "server/otlp_exporter.h"
#include "server/trace_context.h"
#include "server/traces.h"
#include "otlp_receiver.h"

namespace rf::server {
namespace {

using nlohmann::json;

TEST(TraceContext, ParsesValidTraceparentsAndRefusesTheRest) {
    auto p = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(p->parent_id, "00f067aa0ba902b7");
    EXPECT_EQ(p->flags, 1);
    EXPECT_TRUE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-later"));
    for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
                            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"})
        EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(TraceContext, JoinsOrStartsATrace) {
    const TraceContext joined = join_or_start_trace(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    EXPECT_EQ(joined.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(joined.parent_span_id, "00f067aa0ba902b7");
    EXPECT_EQ(joined.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    EXPECT_EQ(joined.flags, 1);  // unknown flag bits are not passed on
    EXPECT_EQ(joined.header(), "00-4bf92f3577b34da6a3ce929d0e0e4736-" + joined.span_id + "-01");
    // A tracestate that breaks the rules is dropped, the parent kept.
    EXPECT_EQ(join_or_start_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "no-equals").tracestate, "");
    EXPECT_EQ(join_or_start_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", std::string(600, 'a') + "=b")
                  .tracestate,
              "");
    const TraceContext own = join_or_start_trace(std::nullopt, "congo=t61rcWkgMzE");
    EXPECT_TRUE(own.parent_span_id.empty());
    EXPECT_TRUE(own.tracestate.empty());  // meaningless without the caller's parent
    EXPECT_TRUE(own.sampled());
}

TEST(TraceContext, RandomIdsAreHexAndDistinct) {
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = random_hex_id(8);
        ASSERT_EQ(id.size(), 16u);
        ASSERT_TRUE(parse_traceparent("00-" + random_hex_id(16) + "-" + id + "-01")) << id;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 1000u);
}

Environment env_of(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        return it == vars.end() ? std::nullopt : std::optional(it->second);
    };
}

Result<OtlpOptions> options(const std::string& flag, std::map<std::string, std::string> vars,
                            std::vector<std::string>* notes_out = nullptr) {
    std::vector<std::string> notes;
    auto o = otlp_options(flag, env_of(std::move(vars)), notes);
    if (notes_out) *notes_out = notes;
    return o;
}

TEST(OtlpConfig, EndpointsAsTheSpecificationJoinsThem) {
    EXPECT_EQ(options("", {})->traces_url, "");  // nothing asked: no export
    EXPECT_EQ(options("http://c:4318", {})->traces_url, "http://c:4318/v1/traces");
    EXPECT_EQ(options("http://c:4318/", {})->traces_url, "http://c:4318/v1/traces");
    EXPECT_EQ(options("http://c:4318/v1/traces", {})->traces_url, "http://c:4318/v1/traces");
    EXPECT_EQ(options("", {{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c/otlp"}})->traces_url, "https://c/otlp/v1/traces");
    // The traces variable is taken as it is and wins over the general one; the flag wins over both.
    const std::map<std::string, std::string> both{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                                                  {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9/custom"}};
    EXPECT_EQ(options("", both)->traces_url, "http://b:9/custom");
    EXPECT_EQ(options("http://flag:1", both)->traces_url, "http://flag:1/v1/traces");
    EXPECT_EQ(options("", {{"OTEL_EXPORTER_OTLP_ENDPOINT", " "}})->traces_url, "");  // empty counts as unset
    auto bad = options("collector:4318", {});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("http://"), std::string::npos);
    EXPECT_FALSE(options("http://", {}));
}

TEST(OtlpConfig, ReadsTheOtherVariables) {
    const auto o = options("http://c:4318", {{"OTEL_SERVICE_NAME", "forge"},
                                             {"OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored, deployment.environment=prod%2Ceu ,team=a%3Db"},
                                             {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,x-tenant=t%201"},
                                             {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"},
                                             {"OTEL_BSP_SCHEDULE_DELAY", "100"},
                                             {"OTEL_BSP_MAX_QUEUE_SIZE", "64"},
                                             {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"}});
    ASSERT_TRUE(o) << o.error().message;
    EXPECT_EQ(o->resource, (KeyValues{{"service.name", "forge"}, {"deployment.environment", "prod,eu"}, {"team", "a=b"}}));
    EXPECT_EQ(o->headers, (KeyValues{{"api-key", "secret"}, {"x-tenant", "t 1"}}));
    EXPECT_EQ(o->timeout.count(), 2500);
    EXPECT_EQ(o->schedule_delay.count(), 100);
    EXPECT_EQ(o->max_queue_spans, 64u);
    EXPECT_EQ(o->max_batch_spans, 64u);  // no larger than the queue
    EXPECT_EQ(options("http://c", {{"OTEL_RESOURCE_ATTRIBUTES", "service.name=svc"}})->resource,
              (KeyValues{{"service.name", "svc"}}));
    EXPECT_EQ(options("http://c", {})->resource, (KeyValues{{"service.name", "rocmforge"}}));
}

TEST(OtlpConfig, BadValuesAreErrorsNamingTheVariable) {
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"OTEL_EXPORTER_OTLP_HEADERS", "novalue"},
             {"OTEL_RESOURCE_ATTRIBUTES", "a=%zz"},
             {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"},
             {"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
             {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
             {"OTEL_TRACES_EXPORTER", "zipkin"}}) {
        auto o = options("http://c", {{name, value}});
        ASSERT_FALSE(o) << name;
        EXPECT_TRUE(o.error().message.find(name) != std::string::npos ||
                    o.error().message.find("gRPC") != std::string::npos)
            << o.error().message;
    }
    std::vector<std::string> notes;
    EXPECT_TRUE(options("http://c", {{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"}}, &notes));
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("http/json"), std::string::npos);
    EXPECT_EQ(options("http://c", {{"OTEL_SDK_DISABLED", "TRUE"}}, &notes)->traces_url, "");
    EXPECT_EQ(options("http://c", {{"OTEL_TRACES_EXPORTER", "none"}})->traces_url, "");
}

TEST(OtlpConfig, SplitsUrlsForTheClient) {
    auto u = parse_http_url("https://collector.example:4318/otlp/v1/traces");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->scheme_host_port, "https://collector.example:4318");
    EXPECT_EQ(u->path, "/otlp/v1/traces");
    EXPECT_EQ(parse_http_url("http://c:4318")->path, "/");
    EXPECT_FALSE(parse_http_url("ftp://c/x"));
    EXPECT_FALSE(parse_http_url("http://c/a b"));
}

// The body an OTLP/HTTP receiver expects: resourceSpans > scopeSpans > spans, ids in hex, times
// and 64-bit integers as decimal strings, enums as numbers.
TEST(OtlpExport, BodyFollowsTheOtlpJsonSchema) {
    OtlpSpan span{.trace_id = std::string(32, 'a'),
                  .span_id = std::string(16, 'b'),
                  .parent_span_id = std::string(16, 'c'),
                  .trace_state = "k=v",
                  .name = "POST /v1/completions",
                  .kind = OtlpSpan::Kind::Server,
                  .start_unix_ns = 1'700'000'000'000'000'001,
                  .end_unix_ns = 1'700'000'000'500'000'000};
    span.set("s", "text").set("i", int64_t{1} << 60).set("d", 0.25).set("b", true).set("l", std::vector<std::string>{"x", "y"});
    span.error = true;
    span.status_message = "boom";
    const json body = json::parse(otlp_export_body({{"service.name", "forge"}}, {span}));
    const json& rs = body["resourceSpans"][0];
    EXPECT_EQ(rs["resource"]["attributes"], json::parse(R"([{"key":"service.name","value":{"stringValue":"forge"}}])"));
    EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "rocmforge.server");
    const json& s = rs["scopeSpans"][0]["spans"][0];
    EXPECT_EQ(s["traceId"], std::string(32, 'a'));
    EXPECT_EQ(s["spanId"], std::string(16, 'b'));
    EXPECT_EQ(s["parentSpanId"], std::string(16, 'c'));
    EXPECT_EQ(s["traceState"], "k=v");
    EXPECT_EQ(s["kind"], 2);
    EXPECT_EQ(s["startTimeUnixNano"], "1700000000000000001");
    EXPECT_EQ(s["endTimeUnixNano"], "1700000000500000000");
    EXPECT_EQ(s["status"], json::parse(R"({"code":2,"message":"boom"})"));
    EXPECT_EQ(s["attributes"], json::parse(R"([
        {"key":"s","value":{"stringValue":"text"}},
        {"key":"i","value":{"intValue":"1152921504606846976"}},
        {"key":"d","value":{"doubleValue":0.25}},
        {"key":"b","value":{"boolValue":true}},
        {"key":"l","value":{"arrayValue":{"values":[{"stringValue":"x"},{"stringValue":"y"}]}}}])"));
    // Text that is not UTF-8 (a client's) does not make the body unwritable.
    span.name = "bad \xff byte";
    EXPECT_TRUE(json::accept(otlp_export_body({}, {span})));
}

// Two choices of one request: a server span over two generation spans, each over its phases; a
// request cancelled in the queue has no prefill or decode span, and a failed one is an error.
TEST(OtlpExport, ExchangeSpansLinkAndTimeTheirPhases) {
    ExchangeTrace x{.context = join_or_start_trace(std::nullopt, ""),
                    .method = "POST",
                    .path = "/v1/chat/completions",
                    .status = 200,
                    .start_unix = 1000.0,
                    .end_unix = 1003.0,
                    .operation = "chat",
                    .model = "tiny",
                    .response_id = "chatcmpl-7",
                    .max_tokens = 20,
                    .usage = {.prompt_tokens = 100, .cached_prompt_tokens = 0, .completion_tokens = 20}};
    x.requests.push_back({.request = 7, .endpoint = x.path, .start_unix = 1000.25,
                          .timings = {.queued = 0.5, .prefill = 1.0, .decode = 1.0, .time_to_first_token = 1.5,
                                      .prefill_chunks = 2, .preemptions = 0},
                          .usage = {.prompt_tokens = 100, .cached_prompt_tokens = 36, .completion_tokens = 20},
                          .finish_reason = "length"});
    x.requests.push_back({.request = 8, .endpoint = x.path, .start_unix = 1000.25,
                          .timings = {.queued = 0.75}, .usage = {.prompt_tokens = 100},
                          .finish_reason = "cancelled", .error = "KV cache full", .failed = true});
    const std::vector<OtlpSpan> spans = exchange_spans(x);
    ASSERT_EQ(spans.size(), 1u + 4u + 2u);
    std::map<std::string, const OtlpSpan*> by_id;
    for (const OtlpSpan& s : spans) by_id[s.span_id] = &s;
    EXPECT_EQ(by_id.size(), spans.size());
    const OtlpSpan& server = spans.back();
    EXPECT_EQ(server.span_id, x.context.span_id);
    EXPECT_EQ(server.name, "POST /v1/chat/completions");
    EXPECT_EQ(server.start_unix_ns, 1'000'000'000'000u);
    const auto body = json::parse(otlp_export_body({}, spans))["resourceSpans"][0]["scopeSpans"][0]["spans"];
    std::map<std::string, std::vector<json>> named;
    for (const json& s : body) {
        EXPECT_EQ(s["traceId"], x.context.trace_id);
        named[s["name"]].push_back(s);
        if (s["spanId"] == server.span_id) continue;
        const std::string parent = s["parentSpanId"];  // every other span hangs below the server span
        ASSERT_TRUE(by_id.contains(parent));
        if (parent != server.span_id) {
            EXPECT_EQ(by_id[parent]->name, "chat tiny");
        }
    }
    ASSERT_EQ(named["chat tiny"].size(), 2u);
    ASSERT_EQ(named["queue"].size(), 2u);
    ASSERT_EQ(named["prefill"].size(), 1u);
    ASSERT_EQ(named["decode"].size(), 1u);
    const json& prefill = named["prefill"][0];
    EXPECT_EQ(prefill["startTimeUnixNano"], "1000750000000");
    EXPECT_EQ(prefill["endTimeUnixNano"], "1001750000000");
    EXPECT_EQ(test::otlp_int(prefill, "rocmforge.prefill.chunks"), 2);
    EXPECT_EQ(test::otlp_int(prefill, "rocmforge.prefill.computed_tokens"), 64);
    EXPECT_EQ(named["decode"][0]["startTimeUnixNano"], prefill["endTimeUnixNano"]);
    EXPECT_EQ(named["decode"][0]["endTimeUnixNano"], "1002750000000");
    const json& whole = named["POST /v1/chat/completions"].at(0);
    EXPECT_EQ(test::otlp_strings(whole, "gen_ai.response.finish_reasons"), (std::vector<std::string>{"length", "cancelled"}));
    EXPECT_EQ(test::otlp_int(whole, "gen_ai.usage.input_tokens"), 100);
    EXPECT_EQ(test::otlp_int(whole, "gen_ai.request.max_tokens"), 20);
    EXPECT_EQ(test::otlp_string(whole, "gen_ai.response.id"), "chatcmpl-7");
    // The failed choice: an error with its message, a queue span and nothing more.
    size_t errors = 0;
    for (const OtlpSpan& s : spans)
        if (s.error) {
            ++errors;
            EXPECT_EQ(s.name, "chat tiny");
            EXPECT_EQ(s.status_message, "KV cache full");
        }
    EXPECT_EQ(errors, 1u);
}

TEST(Logger, TextAndJsonLines) {
    std::vector<std::string> lines;
    auto keep = [&](const std::string& line) { lines.push_back(line); };
    Logger text(LogFormat::Text, "serve: ", keep);
    text.info("request", {{"path", "/v1/completions"}, {"status", 200}, {"error", "two words"}});
    text.error("it broke");
    EXPECT_EQ(lines[0], R"(serve: request path=/v1/completions status=200 error="two words")");
    EXPECT_EQ(lines[1], "error: it broke");
    Logger js(LogFormat::Json, "", keep);
    js.warning("careful", {{"n", 3}});
    const json j = json::parse(lines[2]);
    EXPECT_EQ(j["level"], "warning");
    EXPECT_EQ(j["message"], "careful");
    EXPECT_EQ(j["n"], 3);
    EXPECT_EQ(j["time"].get<std::string>().size(), 24u);  // 2026-01-02T03:04:05.678Z
    js.info("bad \xff byte");
    EXPECT_TRUE(json::accept(lines[3]));
    EXPECT_EQ(parse_log_format("json"), LogFormat::Json);
    EXPECT_FALSE(parse_log_format("yaml"));
}

TEST(Logger, LevelsBelowTheLeastAreDropped) {
    std::vector<std::string> lines;
    Logger log(LogFormat::Text, "serve: ", [&](const std::string& line) { lines.push_back(line); }, LogLevel::Warning);
    log.debug("d");
    log.info("i");
    log.warning("w");
    log.error("e");
    EXPECT_EQ(lines, (std::vector<std::string>{"warning: w", "error: e"}));
    EXPECT_FALSE(log.enabled(LogLevel::Info));
    Logger verbose(LogFormat::Json, "", [&](const std::string& line) { lines.push_back(line); }, LogLevel::Debug);
    verbose.debug("d", {{"request_id", "abc"}});
    const json j = json::parse(lines.back());
    EXPECT_EQ(j["level"], "debug");
    EXPECT_EQ(j["request_id"], "abc");
    EXPECT_EQ(parse_log_level("warn"), LogLevel::Warning);
    EXPECT_EQ(parse_log_level("warning"), LogLevel::Warning);
    EXPECT_EQ(parse_log_level("debug"), LogLevel::Debug);
    EXPECT_EQ(parse_log_level("error"), LogLevel::Error);
    EXPECT_FALSE(parse_log_level("verbose"));
}

}  // namespace
}  // namespace rf::server
