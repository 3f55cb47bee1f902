// /v1/embeddings and /v1/context/... over HTTP on a small synthetic model: shapes, the API key,
// and the status codes of bad requests (400), unknown namespaces and nodes (404).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "context/store.h"
#include "engine/embedder.h"
#include "server/embedding_request.h"
#include "template/chat.h"
#include "engine/engine_fixture.h"
#include "fake_scheduler.h"
#include "harness.h"
#include "../context/temp_dir.h"

namespace rf::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct Stack {
    engine::test::TinyModel model{TensorType::F32};
    std::unique_ptr<engine::Embedder> embedder;
    test::TempDir dir;
    std::unique_ptr<context::ContextStore> store;
    test::FakeScheduler scheduler{1ms};
    std::unique_ptr<test::ServerHarness> harness;
    Stack() {
        auto e = engine::Embedder::create(*model.model, *model.tok,
                                          {.n_ctx = 300, .gate = [this](const std::function<Status()>& w) {
                                               return scheduler.run_between_steps(w);
                                           }});
        EXPECT_TRUE(e.ok());
        embedder = std::move(*e);
        auto s = context::ContextStore::open(dir.str(), *embedder, "tiny#mean");
        EXPECT_TRUE(s.ok());
        store = std::move(*s);
        harness = std::make_unique<test::ServerHarness>(
            scheduler, ModelContext{.tokenizer = model.tok.get(), .chat_template = tmpl::kDefaultChatTemplate, .n_ctx = 4096},
            ServerOptions{.api_key = "k", .model_id = "tiny", .embedder = embedder.get(), .context = store.get()});
    }
    httplib::Result call(const std::string& method, const std::string& path, const json& body = nullptr,
                         const std::string& key = "k") {
        httplib::Client c = harness->client(key);
        if (method == "GET") return c.Get(path);
        if (method == "DELETE") return c.Delete(path);
        return c.Post(path, body.is_string() ? body.get<std::string>() : body.dump(), "application/json");
    }
};

json ok_json(const httplib::Result& r, int status = 200) {
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, status) << r->body;
    return json::parse(r->body, nullptr, false);
}

TEST(ContextRoutes, AddSearchListShowDeleteClear) {
    Stack s;
    EXPECT_EQ(s.call("POST", "/v1/context/notes/add", {{"text", "x"}}, "wrong")->status, 401);
    const json a = ok_json(s.call("POST", "/v1/context/notes/add", {{"text", "apples and pears"}, {"metadata", {{"src", "t"}}}}));
    ASSERT_TRUE(a.contains("id"));
    const json b = ok_json(s.call("POST", "/v1/context/notes/add", {{"text", "the quick brown fox"}, {"role", "user"}}));
    const json c = ok_json(s.call("POST", "/v1/context/notes/add",
                                  {{"text", "jumps"}, {"role", "assistant"}, {"reply_to", b["id"]}}));
    const json found = ok_json(s.call("POST", "/v1/context/notes/search", {{"query", "the quick brown fox"}, {"top_k", 2}}));
    ASSERT_EQ(found["results"].size(), 2u);
    EXPECT_EQ(found["results"][0]["id"], b["id"]);
    EXPECT_EQ(found["results"][0]["role"], "user");
    EXPECT_NEAR(found["results"][0]["score"].get<double>(), 1.0, 1e-4);
    const json listed = ok_json(s.call("GET", "/v1/context/notes/nodes?limit=2"));
    ASSERT_EQ(listed["nodes"].size(), 2u);
    EXPECT_EQ(listed["nodes"][0]["id"], c["id"]);
    const json shown = ok_json(s.call("GET", "/v1/context/notes/nodes/" + std::to_string(c["id"].get<int64_t>())));
    ASSERT_EQ(shown["edges"].size(), 1u);
    EXPECT_EQ(shown["edges"][0]["kind"], "reply-to");
    const json first = ok_json(s.call("GET", "/v1/context/notes/nodes/" + std::to_string(a["id"].get<int64_t>())));
    EXPECT_EQ(first["metadata"], (json{{"src", "t"}}));
    EXPECT_EQ(ok_json(s.call("GET", "/v1/context"))["namespaces"], (json{"notes"}));
    const std::string a_path = "/v1/context/notes/nodes/" + std::to_string(a["id"].get<int64_t>());
    EXPECT_EQ(ok_json(s.call("DELETE", a_path))["deleted"], 1);
    ok_json(s.call("DELETE", a_path), 404);
    EXPECT_EQ(ok_json(s.call("DELETE", "/v1/context/notes"))["cleared"], 2);
    EXPECT_TRUE(ok_json(s.call("GET", "/v1/context/notes/nodes"))["nodes"].empty());
}

TEST(ContextRoutes, BadRequestsAndUnknownNamespaces) {
    Stack s;
    ok_json(s.call("POST", "/v1/context/notes/add", {{"text", "something"}}));
    EXPECT_EQ(ok_json(s.call("POST", "/v1/context/elsewhere/search", {{"query", "x"}}), 404)["error"]["code"], "not_found");
    ok_json(s.call("GET", "/v1/context/elsewhere/nodes"), 404);
    ok_json(s.call("DELETE", "/v1/context/elsewhere"), 404);
    ok_json(s.call("GET", "/v1/context/notes/nodes/99999"), 404);
    ok_json(s.call("GET", "/v1/context/notes/nodes/abc"), 400);
    ok_json(s.call("POST", "/v1/context/notes/add", json("{not json")), 400);
    ok_json(s.call("POST", "/v1/context/notes/add", {{"text", ""}}), 400);
    ok_json(s.call("POST", "/v1/context/notes/add", {{"text", "  "}}), 400);
    ok_json(s.call("POST", "/v1/context/notes/add", {{"text", 5}}), 400);
    ok_json(s.call("POST", "/v1/context/notes/add", {{"text", "x"}, {"metadata", "s"}}), 400);
    ok_json(s.call("POST", "/v1/context/notes/add", {{"text", "x"}, {"reply_to", 424242}}), 400);
    ok_json(s.call("POST", "/v1/context/.hidden/add", {{"text", "x"}}), 400);
    ok_json(s.call("POST", "/v1/context/notes/search", {{"query", ""}}), 400);
    ok_json(s.call("POST", "/v1/context/notes/search", {{"query", "x"}, {"top_k", 0}}), 400);
    ok_json(s.call("GET", "/v1/context/notes/nodes?limit=0"), 400);
}

TEST(ContextRoutes, ChatAugmentationRetrievesReportsAndStores) {
    Stack s;
    const json paris = ok_json(s.call("POST", "/v1/context/trip/add", {{"text", "Paris is the capital of France"}}));
    ok_json(s.call("POST", "/v1/context/trip/add", {{"text", "zz 99 ## unrelated"}}));
    const json messages = json::array({{{"role", "user"}, {"content", "Paris is the capital of France"}}});
    const json plain = ok_json(s.call("POST", "/v1/chat/completions", {{"messages", messages}, {"max_tokens", 2}}));
    EXPECT_FALSE(plain.contains("context"));
    const json chat = ok_json(s.call("POST", "/v1/chat/completions",
                                     {{"messages", messages},
                                      {"max_tokens", 2},
                                      {"context", {{"namespace", "trip"}, {"top_k", 1}, {"store", true}}}}));
    ASSERT_TRUE(chat.contains("context")) << chat.dump();
    EXPECT_EQ(chat["context"]["namespace"], "trip");
    ASSERT_EQ(chat["context"]["used"].size(), 1u);
    EXPECT_EQ(chat["context"]["used"][0]["id"], paris["id"]);
    // The retrieved text went into the prompt.
    EXPECT_GT(chat["usage"]["prompt_tokens"].get<int64_t>(), plain["usage"]["prompt_tokens"].get<int64_t>());
    // The exchange is stored after the response: the question, then the reply answering it.
    json nodes;
    for (int i = 0; i < 200; ++i) {
        nodes = ok_json(s.call("GET", "/v1/context/trip/nodes"))["nodes"];
        if (nodes.size() == 4) break;
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(nodes.size(), 4u) << nodes.dump();
    EXPECT_EQ(nodes[0]["role"], "assistant");
    EXPECT_EQ(nodes[0]["text"], chat["choices"][0]["message"]["content"]);
    EXPECT_EQ(nodes[1]["role"], "user");
    const json reply = ok_json(s.call("GET", "/v1/context/trip/nodes/" + std::to_string(nodes[0]["id"].get<int64_t>())));
    ASSERT_EQ(reply["edges"].size(), 1u);
    EXPECT_EQ(reply["edges"][0]["dst"], nodes[1]["id"]);
    // A budget of no tokens uses nothing; bad context fields are 400.
    const json none = ok_json(s.call("POST", "/v1/chat/completions",
                                     {{"messages", messages}, {"max_tokens", 1},
                                      {"context", {{"namespace", "trip"}, {"max_tokens", 0}}}}));
    EXPECT_TRUE(none["context"]["used"].empty());
    ok_json(s.call("POST", "/v1/chat/completions", {{"messages", messages}, {"context", "trip"}}), 400);
    ok_json(s.call("POST", "/v1/chat/completions", {{"messages", messages}, {"context", {{"top_k", 2}}}}), 400);
    ok_json(s.call("POST", "/v1/chat/completions",
                   {{"messages", messages}, {"context", {{"namespace", "trip"}, {"top_k", -1}}}}), 400);
}

TEST(EmbeddingRoute, OpenAiShapeAndBase64MatchesFloats) {
    Stack s;
    const json floats = ok_json(s.call("POST", "/v1/embeddings", {{"input", {"hello there", "hello there", "zz"}}}));
    EXPECT_EQ(floats["object"], "list");
    EXPECT_EQ(floats["model"], "tiny");
    ASSERT_EQ(floats["data"].size(), 3u);
    const auto v = floats["data"][0]["embedding"].get<std::vector<float>>();
    EXPECT_EQ(v.size(), static_cast<size_t>(s.embedder->dimension()));
    EXPECT_EQ(floats["data"][1]["embedding"], floats["data"][0]["embedding"]);
    EXPECT_NE(floats["data"][2]["embedding"], floats["data"][0]["embedding"]);
    double norm = 0.0;
    for (float x : v) norm += double{x} * x;
    EXPECT_NEAR(norm, 1.0, 1e-5);
    EXPECT_GT(floats["usage"]["prompt_tokens"].get<int64_t>(), 0);
    const json b64 = ok_json(s.call("POST", "/v1/embeddings", {{"input", "hello there"}, {"encoding_format", "base64"}}));
    EXPECT_EQ(b64["data"][0]["embedding"], base64_floats(v));
    ok_json(s.call("POST", "/v1/embeddings", {{"input", ""}}), 400);
    EXPECT_EQ(s.call("POST", "/v1/embeddings", {{"input", "x"}}, "")->status, 401);
}

// Inputs cut short by a shutdown answer 503 "shutting_down" (the server's unavailability), not a
// 500: the embedder's step waits until the server is stopping, then fails as a cut step does.
TEST(EmbeddingRoute, ShutdownMidRequestAnswers503) {
    engine::test::TinyModel model{TensorType::F32};
    std::atomic<bool> entered{false}, release{false};
    auto e = engine::Embedder::create(*model.model, *model.tok,
                                      {.n_ctx = 300, .gate = [&](const std::function<Status()>&) -> Status {
                                           entered = true;
                                           for (int i = 0; i < 1000 && !release; ++i) std::this_thread::sleep_for(5ms);
                                           return make_error("the step was cut short");
                                       }});
    ASSERT_TRUE(e.ok());
    test::FakeScheduler scheduler{1ms};
    test::ServerHarness harness(scheduler,
                                ModelContext{.tokenizer = model.tok.get(), .chat_template = tmpl::kDefaultChatTemplate, .n_ctx = 4096},
                                ServerOptions{.model_id = "tiny", .embedder = e->get()});
    int status = 0;
    std::string body;
    std::thread request([&] {
        if (auto res = harness.client().Post("/v1/embeddings", R"({"input":"hello"})", "application/json")) {
            status = res->status;
            body = res->body;
        }
    });
    for (int i = 0; i < 1000 && !entered; ++i) std::this_thread::sleep_for(5ms);
    if (!entered) {  // (the request thread is joined before the test ends either way)
        release = true;
        request.join();
        FAIL() << "the embedding request never reached the embedder";
    }
    std::thread stopper([&] { harness.stop(5000ms); });
    for (int i = 0; i < 1000; ++i) {  // until the server says it is stopping
        auto ready = harness.client().Get("/ready");
        if (!ready || ready->status == 503) break;
        std::this_thread::sleep_for(5ms);
    }
    release = true;
    request.join();
    stopper.join();
    ASSERT_EQ(status, 503) << body;  // (0: no answer at all)
    EXPECT_EQ(json::parse(body)["error"]["code"], "shutting_down") << body;
}

}  // namespace
}  // namespace rf::server
