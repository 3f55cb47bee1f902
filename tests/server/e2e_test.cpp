// The real server end to end: a small reference model, the real scheduler, HTTP on a loopback
// port. Outputs are compared with each other (stream vs whole, stop strings vs the unstopped
// text), counts with the tokenizer, cancellation with the scheduler's view.
#include <atomic>
#include <map>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "engine/loaded_model.h"
#include "harness.h"
#include "model_fixture.h"
#include "otlp_receiver.h"
#include "server/trace_context.h"
#include "support/test_backend.h"

namespace rf::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::parse_json;

// One model, scheduler and server for the whole program (loading is the slow part).
struct Stack {
    std::unique_ptr<Backend> backend;
    engine::LoadedModel model;
    std::unique_ptr<test::OtlpReceiver> collector;  // the server's spans go here
    std::unique_ptr<engine::Scheduler> scheduler;
    std::unique_ptr<test::ServerHarness> harness;
};

Stack* stack() {
    static std::unique_ptr<Stack> s = []() -> std::unique_ptr<Stack> {
        auto st = std::make_unique<Stack>();
        st->backend = test::make_test_backend({.threads = 2}, /*batch_invariant=*/true);
        auto loaded = engine::LoadedModel::load(test::shared_path(test::kServerModel).string(), *st->backend,
                                                {.n_ctx = 256, .n_batch = 64, .max_sequences = 4});
        if (!loaded) {
            ADD_FAILURE() << loaded.error().message;
            return nullptr;
        }
        st->model = std::move(*loaded);
        auto sched = engine::Scheduler::create(*st->model.engine, *st->model.tokenizer,
                                               {.max_queue = 16, .max_running = 4, .step_token_budget = 64});
        if (!sched) {
            ADD_FAILURE() << sched.error().message;
            return nullptr;
        }
        st->scheduler = std::move(*sched);
        ModelContext ctx{.tokenizer = st->model.tokenizer.get(), .chat_template = tmpl::kDefaultChatTemplate,
                         .n_ctx = st->model.engine->n_ctx(), .max_n = 8};
        st->collector = std::make_unique<test::OtlpReceiver>();
        st->harness = std::make_unique<test::ServerHarness>(
            *st->scheduler, ctx,
            ServerOptions{.model_id = "tiny",
                          .backend = st->backend->name(),
                          .device = st->backend->device_name(),
                          .otlp = {.traces_url = st->collector->endpoint() + "/v1/traces",
                                   .schedule_delay = std::chrono::milliseconds(20)}});
        return st;
    }();
    return s.get();
}

class E2eTest : public ::testing::Test {
protected:
    void SetUp() override {
        RF_REQUIRE_SHARED();
        ASSERT_NE(stack(), nullptr);
    }
    httplib::Client client() { return stack()->harness->client(); }
    json post(const std::string& path, const json& body, int expect_status = 200) {
        auto res = client().Post(path, body.dump(), "application/json");
        EXPECT_TRUE(res);
        if (!res) return {};
        EXPECT_EQ(res->status, expect_status) << res->body;
        return parse_json(res->body);
    }
    std::string stream_body(const std::string& path, const json& body) {
        auto res = client().Post(path, body.dump(), "application/json");
        EXPECT_TRUE(res);
        if (!res) return {};
        EXPECT_EQ(res->status, 200) << res->body;
        return res->body;
    }
    std::string metric(const std::string& name) {
        auto res = client().Get("/metrics");
        if (!res) return {};
        const size_t at = res->body.find("\n" + name + " ");
        if (at == std::string::npos) return {};
        const size_t start = at + name.size() + 2;
        return res->body.substr(start, res->body.find('\n', start) - start);
    }
};

TEST_F(E2eTest, CompletionCountsAndGreedyStreamAgree) {
    const json body{{"prompt", "The quick brown fox"}, {"max_tokens", 12}, {"temperature", 0}, {"ignore_eos", true}};
    const json whole = post("/v1/completions", body);
    const auto prompt = stack()->model.tokenizer->encode("The quick brown fox", {.add_special = true, .parse_special = true});
    EXPECT_EQ(whole["usage"]["prompt_tokens"], prompt.size());
    EXPECT_EQ(whole["usage"]["completion_tokens"], 12);
    EXPECT_EQ(whole["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(whole["model"], "tiny");

    json sbody = body;
    sbody["stream"] = true;
    sbody["stream_options"] = {{"include_usage", true}};
    bool done = false;
    const auto events = test::sse_payloads(stream_body("/v1/completions", sbody), &done);
    EXPECT_TRUE(done);
    std::string text;
    for (const json& e : events)
        if (!e["choices"].empty()) text += e["choices"][0]["text"].get<std::string>();
    EXPECT_EQ(text, whole["choices"][0]["text"]);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["usage"]["completion_tokens"], 12);
}

TEST_F(E2eTest, JsonObjectAndGrammarOnCompletions) {
    const json object = post("/v1/completions", {{"prompt", "A JSON object:"}, {"max_tokens", 200}, {"seed", 3},
                                                 {"response_format", {{"type", "json_object"}}}});
    const json& choice = object["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "stop") << choice["text"];
    const json parsed = parse_json(choice["text"]);
    EXPECT_TRUE(parsed.is_object()) << choice["text"];

    const json g = post("/v1/completions", {{"prompt", "Pick one:"}, {"max_tokens", 20}, {"seed", 4},
                                            {"grammar", "root ::= (\"red\" | \"green\" | \"blue\") \"!\""}});
    const std::string text = g["choices"][0]["text"];
    EXPECT_TRUE(text == "red!" || text == "green!" || text == "blue!") << text;
    EXPECT_EQ(g["choices"][0]["finish_reason"], "stop");

    const json bad = post("/v1/completions", {{"prompt", "x"}, {"grammar", "root ::= [a-"}}, 400);
    EXPECT_EQ(bad["error"]["param"], "grammar");
    EXPECT_NE(bad["error"]["message"].get<std::string>().find("line 1, column 10"), std::string::npos);
}

TEST_F(E2eTest, JsonSchemaOnChatStreamedAndWhole) {
    // Sent as written (ordered): the output lists the properties in the schema's order.
    const std::string schema = R"({"type":"object","properties":{"name":{"type":"string","maxLength":8},
        "age":{"type":"integer","minimum":0,"maximum":120},"pets":{"type":"array","items":{"enum":["cat","dog"]},"maxItems":3}},
        "required":["name","age"],"additionalProperties":false})";
    for (uint64_t seed = 1; seed <= 6; ++seed) {
        const bool stream = seed % 2;
        const std::string body = fmt::format(
            R"({{"messages":[{{"role":"user","content":"Describe a person"}}],"max_tokens":180,"seed":{},"stream":{},)"
            R"("response_format":{{"type":"json_schema","json_schema":{{"name":"person","schema":{}}}}}}})",
            seed, stream, schema);
        auto res = client().Post("/v1/chat/completions", body, "application/json");
        ASSERT_TRUE(res);
        ASSERT_EQ(res->status, 200) << res->body;
        std::string content, finish;
        if (stream) {
            bool done = false;
            for (const json& e : test::sse_payloads(res->body, &done)) {
                const json& c = e["choices"][0];
                if (c["delta"].contains("content")) content += c["delta"]["content"].get<std::string>();
                if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
            }
            EXPECT_TRUE(done);
        } else {
            const json whole = parse_json(res->body);
            content = whole["choices"][0]["message"]["content"];
            finish = whole["choices"][0]["finish_reason"];
        }
        EXPECT_EQ(finish, "stop") << content;
        const json v = parse_json(content);
        ASSERT_TRUE(v.is_object()) << content;
        ASSERT_TRUE(v.contains("name") && v.contains("age")) << content;
        EXPECT_LT(content.find("\"name\""), content.find("\"age\"")) << content;
        EXPECT_TRUE(v["name"].is_string()) << content;
        EXPECT_TRUE(v["age"].is_number_integer() && v["age"] >= 0 && v["age"] <= 120) << content;
        if (v.contains("pets")) {
            EXPECT_LE(v["pets"].size(), 3u) << content;
        }
        EXPECT_EQ(v.size(), 2u + v.contains("pets")) << content;
    }
    const json messages = json::array({{{"role", "user"}, {"content", "Describe a person"}}});
    const json refused = post("/v1/chat/completions",
                              {{"messages", messages},
                               {"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "string"}, {"format", "email"}}}}}}}},
                              400);
    EXPECT_EQ(refused["error"]["code"], "unsupported_schema");
}

TEST_F(E2eTest, ToolCallsRequiredWholeStreamedAndRoundTrip) {
    const std::string tools = R"([{"type":"function","function":{"name":"get_weather","description":"Weather in a city",
        "parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":10},"unit":{"enum":["c","f"]}},
        "required":["city","unit"]}}},{"type":"function","function":{"name":"get_time"}}])";
    const std::string messages = R"([{"role":"user","content":"Weather in Paris?"}])";
    auto body = [&](const std::string& choice, bool stream) {
        return fmt::format(R"({{"messages":{},"tools":{},"tool_choice":{},"max_tokens":120,"seed":5,"stream":{}}})", messages,
                           tools, choice, stream);
    };
    auto check_call = [](const json& call) {
        EXPECT_EQ(call["type"], "function");
        EXPECT_TRUE(call["id"].get<std::string>().starts_with("call_"));
        EXPECT_EQ(call["function"]["name"], "get_weather");
        const json args = parse_json(call["function"]["arguments"].get<std::string>());
        EXPECT_TRUE(args["city"].is_string()) << args;
        EXPECT_TRUE(args["unit"] == "c" || args["unit"] == "f") << args;
    };
    auto whole = client().Post("/v1/chat/completions", body(R"({"type":"function","function":{"name":"get_weather"}})", false),
                               "application/json");
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200) << whole->body;
    const json w = parse_json(whole->body)["choices"][0];
    EXPECT_EQ(w["finish_reason"], "tool_calls") << w;
    EXPECT_TRUE(w["message"]["content"].is_null()) << w;
    ASSERT_EQ(w["message"]["tool_calls"].size(), 1u) << w;
    check_call(w["message"]["tool_calls"][0]);

    // Streamed as OpenAI does: the call opens with its index, id, type, name and empty arguments,
    // the arguments follow in fragments, and together they are the whole response's call.
    auto deltas = [&](const std::string& request) {
        auto streamed = client().Post("/v1/chat/completions", request, "application/json");
        EXPECT_TRUE(streamed);
        bool done = false;
        json message{{"content", ""}, {"tool_calls", json::array()}}, finish;
        int fragments = 0;
        for (const json& e : test::sse_payloads(streamed ? streamed->body : "", &done)) {
            const json& c = e["choices"][0];
            if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
            const json& d = c["delta"];
            if (d.contains("content") && d["content"].is_string()) message["content"] = message["content"].get<std::string>() + d["content"].get<std::string>();
            if (!d.contains("tool_calls")) continue;
            for (const json& t : d["tool_calls"]) {
                const size_t i = t["index"].get<size_t>();
                json& calls = message["tool_calls"];
                if (t.contains("id")) {
                    EXPECT_EQ(i, calls.size());
                    EXPECT_EQ(t["function"]["arguments"], "") << t;
                    calls.push_back(t);
                    continue;
                }
                EXPECT_LT(i, calls.size()) << "arguments before their call opened";
                if (i >= calls.size()) continue;
                ++fragments;
                calls[i]["function"]["arguments"] =
                    calls[i]["function"]["arguments"].get<std::string>() + t["function"]["arguments"].get<std::string>();
            }
        }
        EXPECT_TRUE(done);
        message["finish_reason"] = finish;
        message["fragments"] = fragments;
        return message;
    };
    const json s = deltas(body(R"({"type":"function","function":{"name":"get_weather"}})", true));
    EXPECT_EQ(s["finish_reason"], "tool_calls");
    EXPECT_EQ(s["content"], "");
    ASSERT_EQ(s["tool_calls"].size(), 1u) << s;
    check_call(s["tool_calls"][0]);
    EXPECT_EQ(s["tool_calls"][0]["function"], w["message"]["tool_calls"][0]["function"]);  // the same seed
    EXPECT_GT(s["fragments"].get<int>(), 3) << "arguments streamed as they were generated";
    // auto: text or calls, streamed and whole alike.
    for (const char* choice : {R"("auto")", R"("required")"}) {
        const json a = deltas(body(choice, true));
        auto one = client().Post("/v1/chat/completions", body(choice, false), "application/json");
        ASSERT_TRUE(one);
        const json m = parse_json(one->body)["choices"][0];
        EXPECT_EQ(a["finish_reason"], m["finish_reason"]) << choice;
        EXPECT_EQ(a["content"], m["message"]["content"].is_null() ? json("") : m["message"]["content"]) << choice;
        const json calls = m["message"].value("tool_calls", json::array());
        ASSERT_EQ(a["tool_calls"].size(), calls.size()) << choice;
        for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(a["tool_calls"][i]["function"], calls[i]["function"]) << choice;
    }

    // The call and its result go back into the history; the model answers (auto: calls or text).
    const std::string history = fmt::format(
        R"([{{"role":"user","content":"Weather in Paris?"}},{{"role":"assistant","content":null,"tool_calls":[{}]}},)"
        R"({{"role":"tool","tool_call_id":"{}","content":"{{\"temp\": 21}}"}}])",
        w["message"]["tool_calls"][0].dump(), w["message"]["tool_calls"][0]["id"].get<std::string>());
    auto round = client().Post("/v1/chat/completions",
                               fmt::format(R"({{"messages":{},"tools":{},"max_tokens":8}})", history, tools), "application/json");
    ASSERT_TRUE(round);
    EXPECT_EQ(round->status, 200) << round->body;

    const json unknown = post("/v1/chat/completions",
                              parse_json(body(R"({"type":"function","function":{"name":"nope"}})", false)), 400);
    EXPECT_EQ(unknown["error"]["param"], "tool_choice");
}

TEST_F(E2eTest, StopStringCutsTheText) {
    const json body{{"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 0}, {"ignore_eos", true}};
    const std::string full = post("/v1/completions", body)["choices"][0]["text"];
    ASSERT_GE(full.size(), 8u);
    const std::string stop = full.substr(full.size() / 2, 3);
    json stopped_body = body;
    stopped_body["stop"] = stop;
    const json stopped = post("/v1/completions", stopped_body);
    EXPECT_EQ(stopped["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(stopped["choices"][0]["text"], full.substr(0, full.find(stop)));
}

TEST_F(E2eTest, ChatStreamAndLogprobs) {
    const json messages = json::array({{{"role", "user"}, {"content", "Hi there"}}});
    bool done = false;
    const auto events = test::sse_payloads(
        stream_body("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 5}, {"temperature", 0}, {"stream", true}}),
        &done);
    EXPECT_TRUE(done);
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
    EXPECT_EQ(events.back()["choices"][0]["finish_reason"], "length");
    std::string text;
    for (const json& e : events) text += e["choices"][0]["delta"].value("content", "");

    const json whole = post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 5}, {"temperature", 0},
                                                     {"logprobs", true}, {"top_logprobs", 3}});
    EXPECT_EQ(whole["object"], "chat.completion");
    EXPECT_EQ(whole["choices"][0]["message"]["content"], text);
    const json& content = whole["choices"][0]["logprobs"]["content"];
    ASSERT_EQ(content.size(), 5u);
    for (const json& step : content) {
        EXPECT_LE(step["logprob"].get<double>(), 0.0);
        ASSERT_EQ(step["top_logprobs"].size(), 3u);
        // Greedy: the chosen token is the most likely one.
        EXPECT_EQ(step["token"], step["top_logprobs"][0]["token"]);
        EXPECT_NEAR(step["logprob"].get<double>(), step["top_logprobs"][0]["logprob"].get<double>(), 1e-5);
    }
}

TEST_F(E2eTest, SeveralChoicesAndPrompts) {
    const json r = post("/v1/completions", {{"prompt", json::array({"Hello", "Goodbye my friend"})}, {"n", 2},
                                            {"max_tokens", 4}, {"temperature", 0}, {"logprobs", 1}, {"ignore_eos", true}});
    ASSERT_EQ(r["choices"].size(), 4u);
    EXPECT_EQ(r["choices"][0]["text"], r["choices"][1]["text"]);  // greedy
    EXPECT_EQ(r["choices"][2]["text"], r["choices"][3]["text"]);
    EXPECT_EQ(r["choices"][0]["logprobs"]["tokens"].size(), 4u);
    const auto& tok = *stack()->model.tokenizer;
    const size_t p1 = tok.encode("Hello", {.add_special = true, .parse_special = true}).size();
    const size_t p2 = tok.encode("Goodbye my friend", {.add_special = true, .parse_special = true}).size();
    EXPECT_EQ(r["usage"]["prompt_tokens"], p1 + p2);
    EXPECT_EQ(r["usage"]["completion_tokens"], 16);
    // Sampled with a seed: reproducible.
    const json sampled{{"prompt", "Hello"}, {"max_tokens", 8}, {"temperature", 1.0}, {"seed", 7}, {"ignore_eos", true}};
    EXPECT_EQ(post("/v1/completions", sampled)["choices"][0]["text"], post("/v1/completions", sampled)["choices"][0]["text"]);
}

TEST_F(E2eTest, RejectsWhatDoesNotFit) {
    std::vector<int32_t> long_prompt(300, 100);
    const json e = post("/v1/completions", {{"prompt", long_prompt}}, 400);
    EXPECT_EQ(e["error"]["code"], "context_length_exceeded");
    EXPECT_EQ(post("/v1/chat/completions", {{"messages", json::array()}}, 400)["error"]["param"], "messages");
    EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"top_p", 7}}, 400)["error"]["param"], "top_p");
}

TEST_F(E2eTest, TokenizeRoundTrip) {
    const json t = post("/v1/tokenize", {{"prompt", "Hello world"}});
    EXPECT_EQ(t["tokens"], stack()->model.tokenizer->encode("Hello world", {.add_special = true, .parse_special = true}));
    EXPECT_EQ(t["max_model_len"], 256);
    json ids = t["tokens"];
    const json d = post("/v1/detokenize", {{"tokens", ids}});
    EXPECT_EQ(d["prompt"], "Hello world");
    EXPECT_EQ(post("/v1/detokenize", {{"tokens", {"a"}}}, 400)["error"]["param"], "tokens");
    const json chat = post("/v1/tokenize", {{"messages", json::array({{{"role", "user"}, {"content", "x"}}})}});
    EXPECT_GT(chat["count"].get<int>(), 3);
}

TEST_F(E2eTest, CancelAndDisconnectFreeTheRequest) {
    // DELETE while streaming. The reader thread owns body and id until `bytes` says they are set.
    std::string body, id;
    std::atomic<size_t> bytes{0};
    std::thread reader([&] {
        test::stream_post(
            client(), "/v1/completions",
            json{{"prompt", "Tell me"}, {"max_tokens", 200}, {"ignore_eos", true}, {"stream", true}}.dump(),
            [&](const std::string& header) { id = header; },
            [&](const char* d, size_t n) {
                body.append(d, n);
                bytes += n;
                return true;
            });
    });
    for (int i = 0; i < 500 && bytes < 600; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_FALSE(id.empty());
    auto del = client().Delete("/v1/requests/" + id);
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 200) << del->body;
    reader.join();
    const auto events = test::sse_payloads(body);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["choices"][0]["finish_reason"], "cancelled");

    // A client that hangs up mid-stream.
    std::string leaver_id;
    size_t received = 0;
    test::stream_post(
        client(), "/v1/completions",
        json{{"prompt", "Tell me more"}, {"max_tokens", 200}, {"ignore_eos", true}, {"stream", true}}.dump(),
        [&](const std::string& header) { leaver_id = header; },
        [&](const char*, size_t n) { return (received += n) < 1000; });
    json st;
    for (int i = 0; i < 500; ++i) {
        auto res = client().Get("/v1/requests/" + leaver_id);
        ASSERT_TRUE(res);
        st = parse_json(res->body);
        if (st["state"] == "finished") break;
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(st["finish_reason"], "cancelled") << st.dump();
    EXPECT_LT(st["completion_tokens"].get<int>(), 200);
    EXPECT_EQ(metric("rocmforge_running_sequences"), "0");
    EXPECT_EQ(metric("rocmforge_kv_blocks_used"), "0");  // nothing leaked; cached prefixes may stay
}

TEST_F(E2eTest, MetricsAndTraces) {
    post("/v1/completions", {{"prompt", "Metrics"}, {"max_tokens", 3}, {"temperature", 0}});
    EXPECT_NE(metric("rocmforge_generation_tokens_total"), "0");
    EXPECT_FALSE(metric("rocmforge_kv_blocks_total").empty());
    EXPECT_FALSE(metric("rocmforge_prefix_cache_hit_rate").empty());
    EXPECT_NE(metric("rocmforge_time_to_first_token_seconds_count"), "0");
    // What the model runs on, as labels of an info metric and in the model list.
    const Backend& backend = *stack()->backend;
    auto m = client().Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("\nrocmforge_backend_info{backend=\"" + backend.name() + "\",device=\""), std::string::npos)
        << m->body;
    auto models = client().Get("/v1/models");
    ASSERT_TRUE(models);
    const json list = parse_json(models->body);
    EXPECT_EQ(list["data"][0]["backend"], backend.name());
    EXPECT_EQ(list["data"][0]["device"], backend.device_name());
    auto t = client().Get("/traces?limit=1");
    ASSERT_TRUE(t);
    const json j = parse_json(t->body);
    ASSERT_EQ(j["traces"].size(), 1u);
    const json& trace = j["traces"][0];
    EXPECT_EQ(trace["spans"][0]["name"], "queue");
    EXPECT_GT(trace["spans"][1]["duration"].get<double>(), 0.0);  // prefill took time
    EXPECT_NEAR(trace["time_to_first_token"].get<double>(),
                trace["spans"][0]["duration"].get<double>() + trace["spans"][1]["duration"].get<double>(), 1e-3);
}

// The exported trace of a real request: a prompt longer than the step's token budget (64) is
// prefilled in chunks, the phases follow each other without gaps, and the counts agree with the
// response.
TEST_F(E2eTest, ExportedTraceCountsPrefillChunks) {
    std::string prompt = "A walrus named Ebenezer counted pebbles on the shore:";
    for (int i = 0; i < 30; ++i) prompt += " pebble " + std::to_string(i * 7 + 3);
    const std::string trace_id = random_hex_id(16);
    auto res = client().Post("/v1/completions", {{"traceparent", "00-" + trace_id + "-00f067aa0ba902b7-01"}},
                             json{{"prompt", prompt}, {"max_tokens", 5}, {"ignore_eos", true}}.dump(),
                             "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json usage = parse_json(res->body)["usage"];
    const int64_t prompt_tokens = usage["prompt_tokens"], cached = usage["prompt_tokens_details"]["cached_tokens"];
    ASSERT_GT(prompt_tokens - cached, 128) << "the prompt should need three chunks";

    std::vector<json> spans;
    ASSERT_TRUE(stack()->collector->wait_for([&](const std::vector<json>& all) {
        spans.clear();
        for (const json& s : all)
            if (s["traceId"] == trace_id) spans.push_back(s);
        return spans.size() == 5;
    })) << spans.size();
    std::map<std::string, json> named;
    for (const json& s : spans) named[s["name"]] = s;
    const json &queue = named["queue"], &prefill = named["prefill"], &decode = named["decode"];
    const json &server = named["POST /v1/completions"], &generation = named["text_completion tiny"];
    ASSERT_TRUE(queue.is_object() && prefill.is_object() && decode.is_object() && server.is_object() &&
                generation.is_object());
    EXPECT_EQ(server["parentSpanId"], "00f067aa0ba902b7");
    EXPECT_EQ(test::otlp_int(prefill, "rocmforge.prefill.chunks"), (prompt_tokens - cached + 63) / 64);
    EXPECT_EQ(test::otlp_int(prefill, "rocmforge.prefill.computed_tokens"), prompt_tokens - cached);
    EXPECT_EQ(test::otlp_int(generation, "gen_ai.usage.input_tokens"), prompt_tokens);
    EXPECT_EQ(test::otlp_int(generation, "gen_ai.usage.cache_read.input_tokens"), cached);
    EXPECT_EQ(test::otlp_int(decode, "gen_ai.usage.output_tokens"), 5);
    EXPECT_EQ(queue["endTimeUnixNano"], prefill["startTimeUnixNano"]);
    EXPECT_EQ(prefill["endTimeUnixNano"], decode["startTimeUnixNano"]);
    EXPECT_EQ(generation["startTimeUnixNano"], queue["startTimeUnixNano"]);
    EXPECT_EQ(generation["endTimeUnixNano"], decode["endTimeUnixNano"]);
    EXPECT_GT(test::otlp_time(prefill, "endTimeUnixNano"), test::otlp_time(prefill, "startTimeUnixNano"));
    EXPECT_LE(test::otlp_time(server, "startTimeUnixNano"), test::otlp_time(queue, "startTimeUnixNano"));
    EXPECT_GE(test::otlp_time(server, "endTimeUnixNano"), test::otlp_time(decode, "endTimeUnixNano"));
    // The time to first token is queue plus prefill.
    const auto ttft = test::otlp_attribute(generation, "gen_ai.latency.time_to_first_token");
    ASSERT_TRUE(ttft.contains("doubleValue"));
    EXPECT_NEAR(ttft["doubleValue"].get<double>() * 1e9,
                double(test::otlp_time(prefill, "endTimeUnixNano") - test::otlp_time(queue, "startTimeUnixNano")), 1e4);
}

}  // namespace
}  // namespace rf::server
