// POST /v1/embeddings bodies: every input form OpenAI accepts, the errors for the rest, and the
// response shape with float and base64 vectors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model_fixture.h"
#include "server/embedding_request.h"

namespace rf::server {
namespace {

using nlohmann::json;

EmbeddingLimits limits() { return {.tokenizer = test::shared_tokenizer(), .dimension = 8, .n_ctx = 32, .max_inputs = 4}; }

class EmbeddingRequestTest : public ::testing::Test {
protected:
    void SetUp() override { RF_REQUIRE_SHARED(); }
    EmbeddingRequest ok(const json& body) {
        auto r = parse_embedding_request(body.dump(), limits());
        if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << e->message;
        return std::holds_alternative<EmbeddingRequest>(r) ? std::get<EmbeddingRequest>(r) : EmbeddingRequest{};
    }
    ApiError error(const std::string& body) {
        auto r = parse_embedding_request(body, limits());
        EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body;
        return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r) : ApiError{};
    }
};

TEST_F(EmbeddingRequestTest, EveryInputForm) {
    const std::vector<int32_t> hello = test::shared_tokenizer()->encode("hello", {.add_special = true});
    EXPECT_EQ(ok({{"input", "hello"}}).inputs, std::vector<std::vector<int32_t>>{hello});
    EXPECT_EQ(ok({{"input", {"hello", "hello"}}}).inputs, (std::vector<std::vector<int32_t>>{hello, hello}));
    EXPECT_EQ(ok({{"input", {1, 2, 3}}}).inputs, (std::vector<std::vector<int32_t>>{{1, 2, 3}}));
    EXPECT_EQ(ok({{"input", {{1, 2}, {3}}}}).inputs, (std::vector<std::vector<int32_t>>{{1, 2}, {3}}));
    EXPECT_FALSE(ok({{"input", "x"}}).base64);
    EXPECT_TRUE(ok({{"input", "x"}, {"encoding_format", "base64"}}).base64);
    EXPECT_EQ(ok({{"input", "x"}, {"dimensions", 8}, {"model", "anything"}}).inputs.size(), 1u);
}

TEST_F(EmbeddingRequestTest, BadBodiesNameTheField) {
    EXPECT_EQ(error("{").code, "invalid_json");
    EXPECT_EQ(error("[1]").status, 400);
    EXPECT_EQ(error("{}").param, "input");
    EXPECT_EQ(error(R"({"input": ""})").param, "input");
    EXPECT_EQ(error(R"({"input": []})").param, "input");
    EXPECT_EQ(error(R"({"input": [[]]})").param, "input");
    EXPECT_EQ(error(R"({"input": 5})").param, "input");
    EXPECT_EQ(error(R"({"input": [1, "a"]})").param, "input");
    EXPECT_EQ(error(R"({"input": [-1]})").param, "input");
    EXPECT_EQ(error(R"({"input": [99999999]})").param, "input");
    EXPECT_EQ(error(R"({"input": ["a", "b", "c", "d", "e"]})").param, "input");
    EXPECT_EQ(error(json{{"input", std::vector<int>(40, 5)}}.dump())
                  .code,
              "context_length_exceeded");
    EXPECT_EQ(error(R"({"input": "x", "encoding_format": "int8"})").param, "encoding_format");
    EXPECT_EQ(error(R"({"input": "x", "dimensions": 4})").param, "dimensions");
}

TEST(EmbeddingResponse, FloatAndBase64Shapes) {
    EXPECT_EQ(base64_floats(std::vector<float>{1.0f}), "AACAPw==");
    EXPECT_EQ(base64_floats(std::vector<float>{1.0f, -2.0f}), "AACAPwAAAMA=");
    EXPECT_EQ(base64_floats(std::vector<float>{}), "");
    const json j = json::parse(embedding_response({{0.6f, 0.8f}, {1.0f, 0.0f}}, false, "m", 7));
    EXPECT_EQ(j["object"], "list");
    EXPECT_EQ(j["model"], "m");
    ASSERT_EQ(j["data"].size(), 2u);
    EXPECT_EQ(j["data"][1]["object"], "embedding");
    EXPECT_EQ(j["data"][1]["index"], 1);
    EXPECT_EQ(j["data"][0]["embedding"], (json{0.6f, 0.8f}));
    EXPECT_EQ(j["usage"], (json{{"prompt_tokens", 7}, {"total_tokens", 7}}));
    const json b = json::parse(embedding_response({{1.0f}}, true, "m", 1));
    EXPECT_EQ(b["data"][0]["embedding"], "AACAPw==");
}

}  // namespace
}  // namespace rf::server
