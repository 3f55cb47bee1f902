// Parsing and validation of OpenAI request bodies, and the shapes of responses and SSE chunks.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "model_fixture.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace rf::server {
namespace {

using nlohmann::json;

std::variant<ParsedRequest, ApiError> parse(Endpoint e, const std::string& body, int64_t n_ctx = 256) {
    return parse_request(e, body, test::model_context(n_ctx));
}

ApiError expect_error(Endpoint e, const std::string& body, const std::string& param, int64_t n_ctx = 256) {
    auto r = parse(e, body, n_ctx);
    EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body;
    if (!std::holds_alternative<ApiError>(r)) return {};
    const ApiError& err = std::get<ApiError>(r);
    EXPECT_EQ(err.status, 400) << body;
    EXPECT_EQ(err.param, param) << body << ": " << err.message;
    return err;
}

ParsedRequest expect_ok(Endpoint e, const std::string& body) {
    auto r = parse(e, body);
    if (auto* err = std::get_if<ApiError>(&r)) ADD_FAILURE() << body << ": " << err->message;
    return std::holds_alternative<ParsedRequest>(r) ? std::get<ParsedRequest>(r) : ParsedRequest{};
}

class RequestTest : public ::testing::Test {
protected:
    void SetUp() override {
        RF_REQUIRE_SHARED();
        ASSERT_NE(test::shared_tokenizer(), nullptr) << "cannot load the tokenizer of " << test::kServerModel;
    }
};

TEST_F(RequestTest, CompletionFieldsMapToEngineOptions) {
    ParsedRequest r = expect_ok(Endpoint::Completions,
                                R"({"prompt":"Hello","max_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":5,)"
                                R"("min_p":0.1,"frequency_penalty":0.5,"presence_penalty":-0.5,"repetition_penalty":1.1,)"
                                R"("seed":42,"stop":["a","b"],"logit_bias":{"13":-100},"n":3,"logprobs":2,)"
                                R"("stream":true,"stream_options":{"include_usage":true},"unknown_field":{"x":1}})");
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_EQ(r.prompts[0], test::shared_tokenizer()->encode("Hello", {.add_special = true, .parse_special = true}));
    EXPECT_EQ(r.options.max_tokens, 7);
    EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.5f);
    EXPECT_FLOAT_EQ(r.options.sampling.top_p, 0.9f);
    EXPECT_EQ(r.options.sampling.top_k, 5);
    EXPECT_FLOAT_EQ(r.options.sampling.min_p, 0.1f);
    EXPECT_FLOAT_EQ(r.options.sampling.frequency_penalty, 0.5f);
    EXPECT_FLOAT_EQ(r.options.sampling.presence_penalty, -0.5f);
    EXPECT_FLOAT_EQ(r.options.sampling.repeat_penalty, 1.1f);
    EXPECT_EQ(r.options.sampling.seed, 42u);
    EXPECT_TRUE(r.seed_given);
    EXPECT_EQ(r.options.stop_strings, (std::vector<std::string>{"a", "b"}));
    ASSERT_EQ(r.options.sampling.logit_bias.size(), 1u);
    EXPECT_EQ(r.options.sampling.logit_bias[0].first, 13);
    EXPECT_FLOAT_EQ(r.options.sampling.logit_bias[0].second, -100.0f);
    EXPECT_EQ(r.n, 3);
    EXPECT_TRUE(r.options.logprobs);
    EXPECT_EQ(r.options.top_logprobs, 2);
    EXPECT_EQ(r.logprobs, LogprobsMode::Completions);
    EXPECT_TRUE(r.stream);
    EXPECT_TRUE(r.include_usage);
}

TEST_F(RequestTest, DefaultsFollowOpenAI) {
    ParsedRequest c = expect_ok(Endpoint::Completions, R"({"prompt":"x"})");
    EXPECT_EQ(c.options.max_tokens, 16);
    EXPECT_FLOAT_EQ(c.options.sampling.temperature, 1.0f);
    EXPECT_FLOAT_EQ(c.options.sampling.top_p, 1.0f);
    EXPECT_EQ(c.options.sampling.top_k, 0);
    EXPECT_EQ(c.n, 1);
    EXPECT_FALSE(c.stream);
    EXPECT_FALSE(c.seed_given);
    ParsedRequest chat = expect_ok(Endpoint::Chat, R"({"messages":[{"role":"user","content":"hi"}]})");
    EXPECT_EQ(chat.options.max_tokens, 256);  // up to the context
    EXPECT_EQ(expect_ok(Endpoint::Chat, R"({"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5})")
                  .options.max_tokens,
              5);
}

TEST_F(RequestTest, PromptForms) {
    EXPECT_EQ(expect_ok(Endpoint::Completions, R"({"prompt":[1,15043,3186]})").prompts,
              (std::vector<std::vector<int32_t>>{{1, 15043, 3186}}));
    EXPECT_EQ(expect_ok(Endpoint::Completions, R"({"prompt":["a","b"]})").prompts.size(), 2u);
    EXPECT_EQ(expect_ok(Endpoint::Completions, R"({"prompt":[[1,2],[3]]})").prompts.size(), 2u);
    expect_error(Endpoint::Completions, R"({"prompt":[1,"a"]})", "prompt");
    expect_error(Endpoint::Completions, R"({"prompt":{}})", "prompt");
    expect_error(Endpoint::Completions, R"({"prompt":[]})", "prompt");
    expect_error(Endpoint::Completions, R"({"prompt":[99999999]})", "prompt");
    EXPECT_EQ(expect_error(Endpoint::Completions, R"({"max_tokens":3})", "prompt").code, "missing_required_parameter");
}

// Ids past 32 bits are refused as the numbers they are, not wrapped into the vocabulary.
TEST_F(RequestTest, TokenIdsDoNotWrap) {
    for (const char* id : {"4294967301", "2147483648", "-2147483648", "-1", "18446744073709551615", "9223372036854775808"}) {
        const ApiError e = expect_error(Endpoint::Completions, fmt::format(R"({{"prompt":[1,{}]}})", id), "prompt");
        EXPECT_NE(e.message.find(id), std::string::npos) << e.message;
    }
    expect_error(Endpoint::Completions, R"({"prompt":[[1],[4294967301]]})", "prompt");
}

TEST_F(RequestTest, ChatRendersThroughTheTemplate) {
    ParsedRequest r = expect_ok(Endpoint::Chat, R"({"messages":[{"role":"system","content":"Be brief."},)"
                                                R"({"role":"user","content":[{"type":"text","text":"Hi"}]}],"logprobs":true,"top_logprobs":3})");
    ASSERT_EQ(r.prompts.size(), 1u);
    const std::string text = test::shared_tokenizer()->decode(r.prompts[0], {.show_special = true});
    EXPECT_NE(text.find("Be brief."), std::string::npos) << text;
    EXPECT_NE(text.find("assistant"), std::string::npos) << text;  // the generation prompt
    EXPECT_EQ(r.logprobs, LogprobsMode::Chat);
    EXPECT_EQ(r.options.top_logprobs, 3);
}

TEST_F(RequestTest, ChatErrors) {
    EXPECT_EQ(expect_error(Endpoint::Chat, R"({"model":"x"})", "messages").code, "missing_required_parameter");
    expect_error(Endpoint::Chat, R"({"messages":[]})", "messages");
    // Present but not a list: not "missing".
    EXPECT_EQ(expect_error(Endpoint::Chat, R"({"messages":"not a list"})", "messages").code, "invalid_type");
    expect_error(Endpoint::Chat, R"({"messages":[{"content":"hi"}]})", "messages[0].role");
    expect_error(Endpoint::Chat, R"({"messages":[{"role":"user","content":5}]})", "messages[0].content");
    expect_error(Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs");
    expect_error(Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"logprobs":1})", "logprobs");
}

TEST_F(RequestTest, WrongTypesAndAbsurdValuesNameTheField) {
    const std::string p = R"("prompt":"x",)";
    expect_error(Endpoint::Completions, "{" + p + R"("max_tokens":"5"})", "max_tokens");
    expect_error(Endpoint::Completions, "{" + p + R"("max_tokens":-1})", "max_tokens");
    expect_error(Endpoint::Completions, "{" + p + R"("max_tokens":1e12})", "max_tokens");
    expect_error(Endpoint::Completions, "{" + p + R"("temperature":"hot"})", "temperature");
    expect_error(Endpoint::Completions, "{" + p + R"("temperature":-1})", "temperature");
    expect_error(Endpoint::Completions, "{" + p + R"("temperature":1000})", "temperature");
    expect_error(Endpoint::Completions, "{" + p + R"("top_p":1.5})", "top_p");
    expect_error(Endpoint::Completions, "{" + p + R"("top_k":2.5})", "top_k");
    expect_error(Endpoint::Completions, "{" + p + R"("min_p":-0.1})", "min_p");
    expect_error(Endpoint::Completions, "{" + p + R"("frequency_penalty":3})", "frequency_penalty");
    expect_error(Endpoint::Completions, "{" + p + R"("presence_penalty":true})", "presence_penalty");
    expect_error(Endpoint::Completions, "{" + p + R"("n":0})", "n");
    expect_error(Endpoint::Completions, "{" + p + R"("n":1000})", "n");
    expect_error(Endpoint::Completions, "{" + p + R"("seed":"1"})", "seed");
    expect_error(Endpoint::Completions, "{" + p + R"("stream":"yes"})", "stream");
    expect_error(Endpoint::Completions, "{" + p + R"("stream_options":{"include_usage":1}})", "stream_options");
    expect_error(Endpoint::Completions, "{" + p + R"("stop":5})", "stop");
    expect_error(Endpoint::Completions, "{" + p + R"("stop":[""]})", "stop");
    expect_error(Endpoint::Completions, "{" + p + R"("logit_bias":{"abc":1}})", "logit_bias");
    expect_error(Endpoint::Completions, "{" + p + R"("logit_bias":{"5":1000}})", "logit_bias");
    expect_error(Endpoint::Completions, "{" + p + R"("logprobs":100})", "logprobs");
    expect_error(Endpoint::Completions, "{" + p + R"("response_format":{"type":"yaml"}})", "response_format");
    expect_error(Endpoint::Completions, "{" + p + R"("response_format":{"type":"json_schema"}})", "response_format");
    EXPECT_EQ(expect_error(Endpoint::Completions,
                           "{" + p + R"("response_format":{"type":"json_schema","json_schema":{"schema":{"not":{}}}}})",
                           "response_format")
                  .code,
              "unsupported_schema");
    EXPECT_NE(expect_error(Endpoint::Completions, "{" + p + R"J("grammar":"root ::= \"a\" |\nx ::= ("})J", "grammar")
                  .message.find("expected ')' at line 2, column 8"),
              std::string::npos);
    expect_error(Endpoint::Completions, "{" + p + R"("grammar":5})", "grammar");
    expect_error(Endpoint::Chat, R"({"messages":[{"role":"user","content":"hi"}],"grammar":"root ::= \"a\"",)"
                                 R"("response_format":{"type":"json_object"}})",
                 "grammar");
    EXPECT_EQ(expect_ok(Endpoint::Completions, "{" + p + R"("response_format":{"type":"text"}})").options.grammar, nullptr);
    expect_ok(Endpoint::Completions, "{" + p + R"("temperature":null,"stop":null})");  // null: the default
}

TEST_F(RequestTest, OutputConstraintsCompileOncePerRequest) {
    const std::string p = R"("prompt":"hi",)";
    EXPECT_NE(expect_ok(Endpoint::Completions, "{" + p + R"("response_format":{"type":"json_object"}})").options.grammar,
              nullptr);
    const ParsedRequest r = expect_ok(
        Endpoint::Chat, R"({"messages":[{"role":"user","content":"hi"}],"n":2,"response_format":{"type":"json_schema",)"
                        R"("json_schema":{"name":"x","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}})");
    ASSERT_NE(r.options.grammar, nullptr);
    EXPECT_EQ(r.options.grammar->rule_names[r.options.grammar->root], "root");
    EXPECT_NE(expect_ok(Endpoint::Completions, "{" + p + R"("grammar":"root ::= [a-z]+ # letters"})").options.grammar,
              nullptr);
}

TEST_F(RequestTest, ToolsAndToolChoice) {
    const std::string m = R"("messages":[{"role":"user","content":"hi"}],)";
    const std::string tools = R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",)"
                              R"("properties":{"a":{"type":"integer"}}}}}],)";
    expect_error(Endpoint::Chat, "{" + m + R"("tools":{}})", "tools");
    expect_error(Endpoint::Chat, "{" + m + R"("tools":[{"type":"function","function":{}}]})", "tools[0]");
    expect_error(Endpoint::Chat, "{" + m + R"("tools":[{"type":"retrieval"}]})", "tools[0]");
    expect_error(Endpoint::Chat, "{" + m + tools + R"("tool_choice":"sometimes"})", "tool_choice");
    expect_error(Endpoint::Chat, "{" + m + R"("tool_choice":"required"})", "tool_choice");
    expect_error(Endpoint::Chat, "{" + m + tools + R"("tool_choice":{"type":"function","function":{"name":"g"}}})",
                 "tool_choice");
    expect_error(Endpoint::Chat, "{" + m + tools + R"("tool_choice":"required","response_format":{"type":"json_object"}})",
                 "tool_choice");
    const ParsedRequest automatic = expect_ok(Endpoint::Chat, "{" + m + tools + R"("max_tokens":1})");
    EXPECT_TRUE(automatic.tools.parse_calls);
    EXPECT_EQ(automatic.options.grammar, nullptr);
    EXPECT_EQ(automatic.tools.names, std::vector<std::string>{"f"});
    const ParsedRequest none = expect_ok(Endpoint::Chat, "{" + m + tools + R"("tool_choice":"none"})");
    EXPECT_FALSE(none.tools.parse_calls);
    EXPECT_NE(expect_ok(Endpoint::Chat, "{" + m + tools + R"("tool_choice":"required"})").options.grammar, nullptr);
    // A history with a call and its result.
    expect_ok(Endpoint::Chat, R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,)"
                              R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},)"
                              R"({"role":"tool","tool_call_id":"call_1","content":"2"}],)" + tools + R"("max_tokens":1})");
    expect_error(Endpoint::Chat, R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{"}}]}]})",
                 "messages[0].tool_calls");
}

TEST_F(RequestTest, DuplicateKeysDoNotConfuseTheOrderedReading) {
    // The body is read twice (the second time keeping key order); with a key written twice the two
    // readings may pick different copies: either answer is fine, a crash is not.
    for (const char* body :
         {R"({"prompt":"x","response_format":{"type":"text"},"response_format":{"type":"json_schema","json_schema":{"schema":{}}}})",
          R"({"prompt":"x","response_format":{"type":"json_schema","json_schema":{"schema":{}}},"response_format":{"type":"text"}})",
          R"({"prompt":"x","response_format":{"type":"json_schema","json_schema":{"schema":{},"schema":5}}})"})
        (void)parse(Endpoint::Completions, body);
    for (const char* body : {R"({"messages":[{"role":"user","content":"hi"}],"tools":5,"tools":[]})",
                             R"({"messages":[{"role":"user","content":"hi"}],"tools":[],"tools":5})"})
        (void)parse(Endpoint::Chat, body);
}

TEST_F(RequestTest, MalformedBodies) {
    EXPECT_EQ(expect_error(Endpoint::Completions, "{\"prompt\": ", "").code, "invalid_json");
    expect_error(Endpoint::Completions, "[1,2]", "");
    expect_error(Endpoint::Completions, "", "");
}

TEST_F(RequestTest, PromptLongerThanTheContext) {
    const ApiError e = expect_error(Endpoint::Completions, R"({"prompt":[1,2,3,4,5,6,7,8]})", "prompt", 8);
    EXPECT_EQ(e.code, "context_length_exceeded");
    expect_ok(Endpoint::Completions, R"({"prompt":[1,2,3,4,5,6,7]})");  // 7 + 1 fits 256 anyway
    EXPECT_TRUE(std::holds_alternative<ParsedRequest>(parse(Endpoint::Completions, R"({"prompt":[1,2,3,4,5,6,7]})", 8)));
}

TEST_F(RequestTest, ErrorBodyHasOpenAIShape) {
    const json j = json::parse(error_body(bad_request("bad thing", "temperature")));
    EXPECT_EQ(j["error"]["message"], "bad thing");
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    EXPECT_EQ(j["error"]["param"], "temperature");
    EXPECT_TRUE(j["error"]["code"].is_null());
}

TEST_F(RequestTest, StreamChunksAndUsage) {
    ResponseMeta meta{.id = "chatcmpl-1", .model = "m", .created = 5, .endpoint = Endpoint::Chat,
                      .logprobs = LogprobsMode::Chat, .tokenizer = test::shared_tokenizer()};
    const std::string first = stream_chunk(meta, 0, "", {}, std::nullopt, true);
    json j = json::parse(first);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
    EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
    const StepLogprob step{.token = 15043, .logprob = -0.25f, .top = {{15043, -0.25f}, {3186, -2.0f}}};
    j = json::parse(stream_chunk(meta, 1, "Hello", {&step, 1}, finish_reason(engine::StopReason::StopString), false));
    EXPECT_EQ(j["choices"][0]["index"], 1);
    EXPECT_EQ(j["choices"][0]["delta"]["content"], "Hello");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(j["choices"][0]["logprobs"]["content"][0]["logprob"], -0.25);
    EXPECT_EQ(j["choices"][0]["logprobs"]["content"][0]["top_logprobs"].size(), 2u);
    EXPECT_EQ(sse_event("{}"), "data: {}\n\n");
    EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
    j = json::parse(usage_chunk(meta, {.prompt_tokens = 3, .cached_prompt_tokens = 1, .completion_tokens = 4}));
    EXPECT_TRUE(j["choices"].empty());
    EXPECT_EQ(j["usage"]["total_tokens"], 7);
    EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
}

TEST_F(RequestTest, CompletionBodyCountsEachPromptOnce) {
    ResponseMeta meta{.id = "cmpl-1", .model = "m", .created = 5, .endpoint = Endpoint::Completions,
                      .logprobs = LogprobsMode::Completions, .tokenizer = test::shared_tokenizer()};
    std::vector<Choice> choices(3);
    for (int i = 0; i < 3; ++i) {
        choices[i].index = i;
        choices[i].prompt_index = i < 2 ? 0 : 1;
        choices[i].text = "ab";
        choices[i].usage = {.prompt_tokens = 10 + i / 2, .cached_prompt_tokens = 0, .completion_tokens = 2};
        choices[i].logprobs = {{.token = 15043, .logprob = -1.0f, .top = {}}, {.token = 3186, .logprob = -2.0f, .top = {}}};
    }
    choices[2].reason = engine::StopReason::EndOfGeneration;
    const json j = json::parse(completion_body(meta, choices));
    EXPECT_EQ(j["object"], "text_completion");
    EXPECT_EQ(j["choices"].size(), 3u);
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(j["choices"][2]["finish_reason"], "stop");
    EXPECT_EQ(j["usage"]["prompt_tokens"], 10 + 11);
    EXPECT_EQ(j["usage"]["completion_tokens"], 6);
    const json& lp = j["choices"][0]["logprobs"];
    EXPECT_EQ(lp["tokens"].size(), 2u);
    EXPECT_EQ(lp["text_offset"][1], lp["tokens"][0].get<std::string>().size());
}

TEST(MetricsTest, PrometheusTextFormat) {
    Metrics m;
    m.count_response(200);
    m.count_response(200);
    m.count_response(429);
    m.count_tokens(5, 7);
    m.observe_time_to_first_token(0.03);
    m.observe_inter_token_latency(0.2);
    const std::string text = m.render({.queued = 2, .running = 3, .kv_blocks_total = 10, .kv_blocks_used = 4, .kv_blocks_cached = 1,
                                       .prefix_lookup_tokens = 8, .prefix_hit_tokens = 2});
    EXPECT_NE(text.find("rocmforge_http_requests_total{code=\"200\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("rocmforge_http_requests_total{code=\"429\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_prompt_tokens_total 5\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_generation_tokens_total 7\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_time_to_first_token_seconds_count 1\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_inter_token_latency_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_queue_depth 2\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_running_sequences 3\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_kv_blocks_used 4\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_kv_blocks_free 5\n"), std::string::npos);
    EXPECT_NE(text.find("rocmforge_prefix_cache_hit_rate 0.25\n"), std::string::npos);
    // Every sample line belongs to a metric announced by # TYPE.
    std::istringstream lines(text);
    std::string line, typed;
    while (std::getline(lines, line)) {
        if (line.rfind("# TYPE ", 0) == 0) {
            typed = line.substr(7, line.find(' ', 7) - 7);
            continue;
        }
        if (line.empty() || line[0] == '#') continue;
        EXPECT_EQ(line.rfind(typed, 0), 0u) << line << " after TYPE " << typed;
    }
}

}  // namespace
}  // namespace rf::server
