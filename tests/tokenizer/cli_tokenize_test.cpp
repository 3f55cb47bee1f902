// End to end: `rocmforge tokenize` / `rocmforge detokenize` on a shared vocabulary.
#include <nlohmann/json.hpp>

#include "cli/run_command.h"
#include "shared_vocab.h"

namespace rf::tokenizer::test {
namespace {

using rf::test::rocmforge;
using rf::test::run_command;

TEST(TokenizeCommand, PrintsIdsPiecesAndRoundTrips) {
    RF_REQUIRE_SHARED();
    const std::string model = vocab_path("llama-spm");
    auto plain = run_command(rocmforge("tokenize -m " + model + " 'Hello world'"));
    ASSERT_EQ(plain.exit_code, 0) << plain.output;
    auto tok = load_tokenizer(model);
    ASSERT_TRUE(tok);
    std::string expected;
    for (int32_t id : tok->encode("Hello world")) expected += (expected.empty() ? "" : " ") + std::to_string(id);
    EXPECT_EQ(plain.output, expected + "\n");

    auto json = run_command(rocmforge("tokenize -m " + model + " --no-bos --json 'Hello world'"));
    ASSERT_EQ(json.exit_code, 0) << json.output;
    auto parsed = nlohmann::json::parse(json.output);
    ASSERT_EQ(parsed.at("n_tokens").get<size_t>(), 2u);
    EXPECT_EQ(parsed["tokens"][0]["piece"], "\xE2\x96\x81Hello");
    EXPECT_EQ(parsed["tokens"][1]["text"], " world");

    auto text = run_command(rocmforge("detokenize -m " + model + " " + expected));
    ASSERT_EQ(text.exit_code, 0);
    EXPECT_EQ(text.output, "Hello world\n");
}

TEST(TokenizeCommand, BadInputIsAnErrorExit) {
    RF_REQUIRE_SHARED();
    const std::string model = vocab_path("gpt-2");
    EXPECT_EQ(run_command(rocmforge("detokenize -m " + model + " 99999999 2>/dev/null")).exit_code, 1);
    EXPECT_EQ(run_command(rocmforge("tokenize -m " + model + " 2>/dev/null")).exit_code, 2);
    EXPECT_EQ(run_command(rocmforge("tokenize -m /nonexistent.gguf hi 2>/dev/null")).exit_code, 1);
}

}  // namespace
}  // namespace rf::tokenizer::test
