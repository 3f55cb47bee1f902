// The HTTP layer over a fake scheduler: authentication, limits, error mapping, streaming,
// cancellation by DELETE and by a vanished client, readiness and draining on stop.
#include <gtest/gtest.h>

#include "fake_scheduler.h"
#include "harness.h"
#include "model_fixture.h"

namespace rf::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::parse_json;

class HttpTest : public ::testing::Test {
protected:
    void SetUp() override {
        RF_REQUIRE_SHARED();
        ASSERT_NE(test::shared_tokenizer(), nullptr);
    }
    void start(std::chrono::milliseconds interval, ServerOptions options = {}, int64_t max_active = 64) {
        scheduler = std::make_unique<test::FakeScheduler>(interval, max_active);
        harness = std::make_unique<test::ServerHarness>(*scheduler, test::model_context(), options);
    }
    void TearDown() override {
        harness.reset();
        scheduler.reset();
    }
    std::unique_ptr<test::FakeScheduler> scheduler;
    std::unique_ptr<test::ServerHarness> harness;
};

void expect_openai_error(const httplib::Result& res, int status) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json j = parse_json(res->body);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << res->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"]["type"].is_string());
    EXPECT_TRUE(j["error"].contains("param") && j["error"].contains("code"));
}

TEST_F(HttpTest, ApiKeyGuardsEverythingButHealth) {
    start(1ms, {.api_key = "sekret"});
    auto anon = harness->client();
    auto res = anon.Get("/health");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    expect_openai_error(anon.Get("/v1/models"), 401);
    expect_openai_error(anon.Post("/v1/completions", R"({"prompt":"x"})", "application/json"), 401);
    expect_openai_error(harness->client("wrong").Get("/metrics"), 401);
    auto ok = harness->client("sekret").Post("/v1/completions", R"({"prompt":"x","max_tokens":2})", "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
}

// The chat page (issue 22): embedded files, served without the key under a strict CSP; anything
// else under /ui/ is still guarded, and the API the page calls still needs the key.
TEST_F(HttpTest, ChatPageIsServedWithoutTheKey) {
    start(1ms, {.api_key = "sekret"});
    auto anon = harness->client();
    auto page = anon.Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_NE(page->body.find("/ui/chat.js"), std::string::npos);
    for (const char* file : {"/ui/chat.js", "/ui/markdown.js", "/ui/chat.css"}) {
        auto res = anon.Get(file);
        ASSERT_TRUE(res) << file;
        EXPECT_EQ(res->status, 200) << file;
        EXPECT_FALSE(res->body.empty()) << file;
    }
    EXPECT_EQ(anon.Get("/ui/chat.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
    expect_openai_error(anon.Get("/ui/secret.js"), 401);
    expect_openai_error(harness->client("sekret").Get("/ui/secret.js"), 404);
    expect_openai_error(anon.Post("/v1/chat/completions", R"({"messages":[]})", "application/json"), 401);
}

// RFC 7235: the scheme is case-insensitive; the key is not.
TEST_F(HttpTest, BearerSchemeInAnyCase) {
    start(1ms, {.api_key = "sekret"});
    for (const char* header : {"bearer sekret", "BEARER sekret", "Bearer sekret"}) {
        auto res = harness->client().Get("/v1/models", {{"Authorization", header}});
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << header;
    }
    for (const char* header : {"Bearer SEKRET", "Bearersekret", "Basic sekret", "sekret"})
        expect_openai_error(harness->client().Get("/v1/models", {{"Authorization", header}}), 401);
}

// A body that is not declared JSON is refused before it is read as JSON (cross-site pages can send
// text/plain and form bodies without a preflight).
TEST_F(HttpTest, PostBodiesMustBeDeclaredJson) {
    start(1ms);
    auto c = harness->client();
    const std::string body = R"({"prompt":"x","max_tokens":1})";
    for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""}) {
        auto res = c.Post("/v1/completions", body, type);
        expect_openai_error(res, 415);
        if (res) {
            EXPECT_EQ(parse_json(res->body)["error"]["code"], "unsupported_media_type") << type;
        }
    }
    for (const char* type : {"application/json", "Application/JSON; charset=utf-8"}) {
        auto res = c.Post("/v1/completions", body, type);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << type << ": " << res->body;
    }
}

// Without a key on loopback, a request naming another host (a rebound DNS name) is refused; with a
// key, the key decides.
TEST_F(HttpTest, LoopbackWithoutKeyAnswersOnlyLoopbackNames) {
    start(1ms);
    for (const char* host : {"127.0.0.1", "localhost:8080", "LOCALHOST", "[::1]:80"}) {
        auto res = harness->client().Get("/v1/models", {{"Host", host}});
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << host;
    }
    for (const char* host : {"evil.example", "evil.example:8080", "127.0.0.1.evil.example"}) {
        auto res = harness->client().Get("/v1/models", {{"Host", host}});
        expect_openai_error(res, 403);
        if (res) {
            EXPECT_EQ(parse_json(res->body)["error"]["code"], "host_not_allowed") << host;
        }
    }
    TearDown();
    start(1ms, {.api_key = "k"});
    auto keyed = harness->client("k").Get("/v1/models", {{"Host", "evil.example"}});
    ASSERT_TRUE(keyed);
    EXPECT_EQ(keyed->status, 200);
}

// CORS only for the configured origin: preflights answered for it (without a key), its responses
// readable; other origins get no grant.
TEST_F(HttpTest, CorsForTheConfiguredOriginOnly) {
    start(1ms, {.api_key = "k", .cors_origin = "https://app.example"});
    auto c = harness->client();
    auto pre = c.Options("/v1/completions", {{"Origin", "https://app.example"},
                                             {"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 204);
    EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
    EXPECT_NE(pre->get_header_value("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
    EXPECT_NE(pre->get_header_value("Access-Control-Allow-Headers").find("traceparent"), std::string::npos);
    expect_openai_error(c.Options("/v1/completions", {{"Origin", "https://evil.example"}}), 403);
    auto get = harness->client("k").Get("/v1/models", {{"Origin", "https://app.example"}});
    ASSERT_TRUE(get);
    EXPECT_EQ(get->status, 200);
    EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
    auto other = harness->client("k").Get("/v1/models", {{"Origin", "https://evil.example"}});
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
    TearDown();
    start(1ms);  // no --cors-origin: nothing is granted
    expect_openai_error(harness->client().Options("/v1/models", {{"Origin", "https://app.example"}}), 403);
    auto plain = harness->client().Get("/v1/models", {{"Origin", "https://app.example"}});
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));
}

// Only "N", "cmpl-N" and "chatcmpl-N" name request N.
TEST_F(HttpTest, RequestIdsParseStrictly) {
    start(1ms);
    auto c = harness->client();
    auto done = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":1})", "application/json");
    ASSERT_TRUE(done);
    ASSERT_EQ(done->status, 200);
    for (const char* id : {"1", "cmpl-1", "chatcmpl-1"}) {
        auto res = c.Get(std::string("/v1/requests/") + id);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << id;
    }
    for (const char* id : {"-1", "01", "+1", "xyz-1", "cmpl-cmpl-1", "cmpl-", "1x", "chatcmpl--1"})
        expect_openai_error(c.Get(std::string("/v1/requests/") + id), 404);
}

// A burst of connections waits in the kernel's queue: the backlog is far above httplib's 5.
TEST_F(HttpTest, ListenBacklogHoldsABurst) {
    start(1ms);
    EXPECT_GE(harness->server().accept_backlog(), 128);
}

TEST_F(HttpTest, ErrorsAreOpenAIShaped) {
    start(1ms, {.max_body_bytes = 1000});
    auto c = harness->client();
    expect_openai_error(c.Post("/v1/completions", "{nope", "application/json"), 400);
    expect_openai_error(c.Post("/v1/completions", R"({"prompt":"x","temperature":"warm"})", "application/json"), 400);
    expect_openai_error(c.Post("/v1/chat/completions", R"({"model":"m"})", "application/json"), 400);
    expect_openai_error(c.Post("/v1/completions", std::string(2000, ' '), "application/json"), 413);
    expect_openai_error(c.Get("/v1/nothing"), 404);
    expect_openai_error(c.Get("/v1/requests/12345"), 404);
    expect_openai_error(c.Delete("/v1/requests/abc"), 404);
}

TEST_F(HttpTest, FullQueueAnswers429) {
    start(20ms, {}, 1);
    auto c = harness->client();
    std::thread busy([&] {
        auto c2 = harness->client();
        c2.Post("/v1/completions", R"({"prompt":"x","max_tokens":40})", "application/json");
    });
    // Wait until the first request holds the only slot.
    for (int i = 0; i < 200 && scheduler->stats().running == 0; ++i) std::this_thread::sleep_for(5ms);
    auto res = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":1})", "application/json");
    expect_openai_error(res, 429);
    EXPECT_EQ(parse_json(res->body)["error"]["code"], "queue_full");
    busy.join();
}

TEST_F(HttpTest, StreamCarriesChunksUsageAndDone) {
    start(1ms);
    auto res = harness->client().Post("/v1/completions",
                                      R"({"prompt":"x","max_tokens":3,"stream":true,"n":2,"stream_options":{"include_usage":true}})",
                                      "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    bool done = false;
    const auto events = test::sse_payloads(res->body, &done);
    EXPECT_TRUE(done);
    std::string text[2];
    int finished = 0;
    for (const json& e : events) {
        if (e["choices"].empty()) continue;
        const json& ch = e["choices"][0];
        text[ch["index"].get<int>()] += ch["text"].get<std::string>();
        if (ch["finish_reason"].is_string()) {
            EXPECT_EQ(ch["finish_reason"], "length");
            ++finished;
        }
    }
    EXPECT_EQ(text[0], "t0 t1 t2 ");
    EXPECT_EQ(text[1], "t0 t1 t2 ");
    EXPECT_EQ(finished, 2);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["usage"]["completion_tokens"], 6);
    EXPECT_TRUE(events.back()["choices"].empty());
}

TEST_F(HttpTest, DeleteCancelsARunningRequest) {
    start(10ms);
    std::string body;
    std::string id;
    std::thread reader([&] {
        test::stream_post(
            harness->client(), "/v1/completions", R"({"prompt":"x","max_tokens":100000,"stream":true})",
            [&](const std::string& header) { id = header; },
            [&](const char* d, size_t n) {
                body.append(d, n);
                return true;
            });
    });
    for (int i = 0; i < 400 && scheduler->stats().running == 0; ++i) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);
    auto del = harness->client().Delete("/v1/requests/1");
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 200) << del->body;
    reader.join();
    EXPECT_EQ(id, "1");
    bool done = false;
    const auto events = test::sse_payloads(body, &done);
    EXPECT_TRUE(done);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["choices"][0]["finish_reason"], "cancelled");
    auto st = harness->client().Get("/v1/requests/cmpl-1");
    ASSERT_TRUE(st);
    EXPECT_EQ(parse_json(st->body)["state"], "finished");
    expect_openai_error(harness->client().Delete("/v1/requests/1"), 409);
}

TEST_F(HttpTest, ClientThatLeavesMidStreamCancels) {
    start(5ms);
    size_t received = 0;
    test::stream_post(harness->client(), "/v1/completions", R"({"prompt":"x","max_tokens":100000,"stream":true})", {},
                      [&](const char*, size_t n) {
                          received += n;
                          return received < 2000;  // then hang up
                      });
    for (int i = 0; i < 400 && scheduler->cancelled() == 0; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(scheduler->cancelled(), 1);
    for (int i = 0; i < 400 && scheduler->stats().running > 0; ++i) std::this_thread::sleep_for(5ms);
    auto st = harness->client().Get("/v1/requests/1");
    ASSERT_TRUE(st);
    EXPECT_EQ(parse_json(st->body)["finish_reason"], "cancelled");
    // The request is still counted once, with its tokens, in the traces and the metrics.
    json traces;
    for (int i = 0; i < 400; ++i) {
        traces = parse_json(harness->client().Get("/traces")->body)["traces"];
        if (!traces.empty()) break;
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(traces.size(), 1u);
    EXPECT_EQ(traces[0]["finish_reason"], "cancelled");
    const std::string metrics = harness->client().Get("/metrics")->body;
    EXPECT_NE(metrics.find("rocmforge_requests_finished_total{finish_reason=\"cancelled\"} 1"), std::string::npos)
        << metrics;
    EXPECT_EQ(metrics.find("rocmforge_generation_tokens_total 0\n"), std::string::npos) << metrics;
}

TEST_F(HttpTest, ClientThatLeavesAPlainRequestCancels) {
    start(5ms);
    auto c = harness->client();
    c.set_read_timeout(300ms);  // gives up long before 100000 tokens
    auto res = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":100000})", "application/json");
    EXPECT_FALSE(res);
    // The server notices at its next heartbeat writes (about a second apart).
    for (int i = 0; i < 100 && scheduler->cancelled() == 0; ++i) std::this_thread::sleep_for(50ms);
    EXPECT_EQ(scheduler->cancelled(), 1);
}

TEST_F(HttpTest, StopDrainsAndRefusesNewWork) {
    start(5ms);
    std::atomic<int> status{0};
    std::string body;
    std::thread running([&] {
        auto res = harness->client().Post("/v1/completions", R"({"prompt":"x","max_tokens":20})", "application/json");
        if (res) {
            status = res->status;
            body = res->body;
        }
    });
    for (int i = 0; i < 400 && scheduler->stats().running == 0; ++i) std::this_thread::sleep_for(5ms);
    std::thread stopper([&] { harness->stop(5000ms); });
    // While draining: not ready, and new work is refused.
    for (int i = 0; i < 400; ++i) {
        auto ready = harness->client().Get("/ready");
        if (ready && ready->status == 503) break;
        std::this_thread::sleep_for(1ms);
    }
    auto refused = harness->client().Post("/v1/completions", R"({"prompt":"x","max_tokens":1})", "application/json");
    if (refused) {  // (or the listener closed already: no answer)
        expect_openai_error(refused, 503);
        EXPECT_EQ(parse_json(refused->body)["error"]["code"], "shutting_down") << refused->body;
    }
    stopper.join();
    running.join();
    EXPECT_EQ(status, 200);
    const json j = parse_json(body);
    ASSERT_TRUE(j.is_object()) << body;
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");  // finished within the deadline, not cut
    auto after = harness->client().Get("/health");
    EXPECT_FALSE(after);  // the listener is closed
}

// Requests still running at the drain deadline end as cancelled ones do: a stream with its
// finish chunk and [DONE] (no error event after it), a plain request with the text it had.
TEST_F(HttpTest, ShutdownCutsRequestsLikeACancellation) {
    start(5ms);
    std::string plain, streamed;
    int plain_status = 0;
    std::thread a([&] {
        auto res = harness->client().Post("/v1/completions", R"({"prompt":"x","max_tokens":100000})", "application/json");
        if (res) {
            plain_status = res->status;
            plain = res->body;
        }
    });
    std::thread b([&] {
        test::stream_post(harness->client(), "/v1/completions", R"({"prompt":"x","max_tokens":100000,"stream":true})",
                          {}, [&](const char* d, size_t n) {
                              streamed.append(d, n);
                              return true;
                          });
    });
    for (int i = 0; i < 400 && scheduler->stats().running < 2; ++i) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(100ms);
    harness->stop(50ms);
    a.join();
    b.join();
    EXPECT_EQ(plain_status, 200);
    const json j = parse_json(plain);
    ASSERT_TRUE(j.is_object() && j.contains("choices")) << plain;
    EXPECT_FALSE(j.contains("error")) << plain;
    EXPECT_EQ(j["choices"][0]["finish_reason"], "cancelled");
    EXPECT_FALSE(j["choices"][0]["text"].get<std::string>().empty()) << plain;
    bool done = false;
    const auto events = test::sse_payloads(streamed, &done);
    EXPECT_TRUE(done) << streamed;
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["choices"][0]["finish_reason"], "cancelled");
    for (const json& e : events) EXPECT_FALSE(e.contains("error")) << e.dump();
}

TEST_F(HttpTest, ReadyIs503UntilReady) {
    start(1ms);
    harness->server().set_ready(false);
    expect_openai_error(harness->client().Get("/ready"), 503);
    EXPECT_EQ(parse_json(harness->client().Get("/ready")->body)["error"]["code"], "not_ready");
    expect_openai_error(harness->client().Post("/v1/completions", R"({"prompt":"x"})", "application/json"), 503);
    harness->server().set_ready(true);
    auto res = harness->client().Get("/ready");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
}

TEST_F(HttpTest, MetricsAndTracesReflectRequests) {
    start(1ms);
    auto c = harness->client();
    ASSERT_TRUE(c.Post("/v1/completions", R"({"prompt":"x","max_tokens":4})", "application/json"));
    ASSERT_TRUE(c.Post("/v1/completions", R"({"prompt":5})", "application/json"));
    // Responses are counted after they are written, so the count may trail the client a little.
    auto m = c.Get("/metrics");
    auto counted = [&] {
        return m->body.find("{code=\"400\"} 1\n") != std::string::npos &&
               m->body.find("{code=\"200\"} ") != std::string::npos;  // /metrics itself counts too
    };
    for (int i = 0; i < 100 && m && !counted(); ++i) {
        std::this_thread::sleep_for(10ms);
        m = c.Get("/metrics");
    }
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_NE(m->get_header_value("Content-Type").find("text/plain"), std::string::npos);
    EXPECT_NE(m->body.find("rocmforge_http_requests_total{code=\"200\"} "), std::string::npos) << m->body;
    EXPECT_NE(m->body.find("rocmforge_http_requests_total{code=\"400\"} 1\n"), std::string::npos);
    EXPECT_NE(m->body.find("rocmforge_generation_tokens_total 4\n"), std::string::npos);
    EXPECT_NE(m->body.find("rocmforge_inter_token_latency_seconds_count 3\n"), std::string::npos);
    EXPECT_NE(m->body.find("rocmforge_kv_blocks_free 7\n"), std::string::npos);
    auto t = c.Get("/traces");
    ASSERT_TRUE(t);
    const json j = parse_json(t->body);
    ASSERT_EQ(j["traces"].size(), 1u) << t->body;
    EXPECT_EQ(j["traces"][0]["completion_tokens"], 4);
    EXPECT_EQ(j["traces"][0]["endpoint"], "/v1/completions");
    EXPECT_EQ(j["traces"][0]["spans"].size(), 3u);
    EXPECT_EQ(j["traces"][0]["spans"][1]["name"], "prefill");
    EXPECT_EQ(m->body.find("rocmforge_backend_info"), std::string::npos) << "no backend was named";
}

TEST_F(HttpTest, BackendInfoIsAnEscapedLabelSet) {
    start(1ms, {.backend = "cpu", .device = "Some \"CPU\" \\ 2\n(2 threads)"});
    auto m = harness->client().Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("# TYPE rocmforge_backend_info gauge\n"
                           "rocmforge_backend_info{backend=\"cpu\",device=\"Some \\\"CPU\\\" \\\\ 2\\n(2 threads)\"} 1\n"),
              std::string::npos)
        << m->body;
    auto models = harness->client().Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_EQ(parse_json(models->body)["data"][0]["backend"], "cpu");
}

// Where the model runs: the placement, layers per backend, and the operations each backend ran.
TEST_F(HttpTest, PlacementAndOperationCountsAreShown) {
    class Idle : public Backend {  // only its name and counts are read
    public:
        std::string name() const override { return "cuda"; }
        std::string device_name() const override { return "a card"; }
        Result<MemoryInfo> memory() const override { return MemoryInfo{}; }
        Result<DeviceBuffer> allocate(size_t) override { return make_error("none"); }
        Status upload(const DeviceBuffer&, const void*, size_t) override { return ok_status(); }
        Status download(void*, const float*, size_t) override { return ok_status(); }
        Result<WeightMatrix> import_weight(const WeightMatrix& w, bool) override { return w; }
        Result<std::unique_ptr<KvStorage>> create_kv_storage(const KvCacheShape&) override { return make_error("none"); }
        int64_t kv_block_bytes(const KvCacheShape&) const override { return 0; }
        Status matmul(const WeightMatrix&, const Act&, const Act&) override { return ok_status(); }
        Status matmul_add(const WeightMatrix&, const Act&, const Act&) override { return ok_status(); }
        Status matmul_experts(const WeightMatrix&, const int32_t*, int64_t, const Act&, const Act&) override { return ok_status(); }
        Status route_top_k(const Act&, int64_t, bool, int32_t*, float*) override { return ok_status(); }
        Status combine_experts(const Act&, const float*, int64_t, const Act&) override { return ok_status(); }
        Status gather_rows(const Act&, const int32_t*, const Act&) override { return ok_status(); }
        Status embed(const WeightMatrix&, const int32_t*, const Act&) override { return ok_status(); }
        Status rms_norm(const Act&, ParamVector, float, const Act&) override { return ok_status(); }
        Status rms_norm_heads(const Act&, int64_t, ParamVector, float) override { return ok_status(); }
        Status rope(const Act&, int64_t, const int32_t*, const RopeConfig&) override { return ok_status(); }
        Status add(const Act&, const Act&, const Act&) override { return ok_status(); }
        Status add_bias(const Act&, ParamVector) override { return ok_status(); }
        Status scale(const Act&, float) override { return ok_status(); }
        Status softcap(const Act&, float) override { return ok_status(); }
        Status gated_activation(GatedActivation, const Act&, const Act&, const Act&) override { return ok_status(); }
        Status softmax_rows(const Act&) override { return ok_status(); }
        Status store_kv(KvStorage&, int64_t, const Act&, const Act&, const BatchLayout&) override { return ok_status(); }
        Status attention(KvStorage&, int64_t, const Act&, const AttentionConfig&, const BatchLayout&,
                         const Act&) override {
            return ok_status();
        }
    };
    struct NoStorage : KvStorage {
        KvCacheShape none;
        const KvCacheShape& shape() const override { return none; }
    } storage;
    InstrumentedBackend gpu(std::make_unique<Idle>());
    ASSERT_TRUE(gpu.matmul({}, {}, {}).ok());
    ASSERT_TRUE(gpu.matmul({}, {}, {}).ok());
    ASSERT_TRUE(gpu.attention(storage, 0, {}, {}, {}, {}).ok());
    start(1ms, {.backend = "cuda+cpu",
                .device = "a card + a cpu",
                .placement = "cuda: layers 0-15, output; cpu: embedding, layers 16-31",
                .layers_per_backend = {{"cuda", 16}, {"cpu", 16}},
                .op_counters = {&gpu}});
    auto m = harness->client().Get("/metrics");
    ASSERT_TRUE(m);
    for (const char* line : {"rocmforge_placement_info{placement=\"cuda: layers 0-15, output; cpu: embedding, layers 16-31\"} 1\n",
                             "rocmforge_placement_layers{backend=\"cuda\"} 16\n",
                             "rocmforge_placement_layers{backend=\"cpu\"} 16\n",
                             "rocmforge_backend_ops_total{backend=\"cuda\",op=\"matmul\"} 2\n",
                             "rocmforge_backend_ops_total{backend=\"cuda\",op=\"attention\"} 1\n"})
        EXPECT_NE(m->body.find(line), std::string::npos) << line << "\n" << m->body;
    EXPECT_EQ(m->body.find("op=\"rms_norm\""), std::string::npos) << "operations that never ran are left out";
    auto models = harness->client().Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_EQ(parse_json(models->body)["data"][0]["placement"], "cuda: layers 0-15, output; cpu: embedding, layers 16-31");
}

}  // namespace
}  // namespace rf::server
