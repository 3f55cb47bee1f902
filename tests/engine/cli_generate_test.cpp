// `rocmforge generate` end to end: JSON output against a shared model's reference, and clear
// errors with non-zero exits for bad input.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/run_command.h"
#include "model/golden.h"
#include "model/synthetic_model.h"
#include "support/shared_data.h"

namespace rf {
namespace {

TEST(CliGenerate, JsonMatchesTheReferenceGreedyContinuation) {
    RF_REQUIRE_SHARED();
    const auto model = test::shared_path("models/llama-gqa-q8_0.gguf").string();
    const auto cases = test::read_golden(test::shared_path("models/llama-gqa-q8_0.golden.json"));
    const auto& c = cases.at(0);
    auto r = test::run_command(test::rocmforge("generate -m " + model + " -p '" + c.prompt +
                                               "' -n 6 --temp 0 --json --top-logits 3 --device cpu -t 2 -c 256 2>&1"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j.at("prompt_tokens").get<std::vector<int32_t>>(), c.tokens);
    const auto generated = j.at("generated_tokens").get<std::vector<int32_t>>();
    ASSERT_EQ(generated.size(), 6u);
    // Equal up to the first step where the reference's margin is small (quantized file: 0.5).
    for (size_t i = 0; i < generated.size() && test::margin(c.greedy_top5[i]) >= 0.5f; ++i)
        EXPECT_EQ(generated[i], c.greedy[i]) << "step " << i;
    const auto prompt_top = j.at("prompt_top_logits");
    ASSERT_EQ(prompt_top.size(), c.tokens.size());
    for (size_t p = 0; p < c.tokens.size(); ++p) {
        ASSERT_EQ(prompt_top[p].size(), 3u);
        if (test::margin(c.prompt_top5[p]) > 1.5f) {
            EXPECT_EQ(prompt_top[p][0][0].get<int32_t>(), c.prompt_top5[p][0].first) << "position " << p;
        }
    }
    EXPECT_EQ(j.at("generated_top_logits").size(), 6u);
    EXPECT_EQ(j.at("stop_reason"), "max_tokens");
    EXPECT_EQ(j.at("backend"), "cpu");
    EXPECT_FALSE(j.at("device").get<std::string>().empty());
}

TEST(CliGenerate, StreamsTextAndReportsSpeed) {
    RF_REQUIRE_SHARED();
    const auto model = test::shared_path("models/qwen2-q8_0.gguf").string();
    // --device cpu: auto would add a note on stderr in a CUDA build without a usable GPU.
    auto r = test::run_command(
        test::rocmforge("generate -m " + model + " -p 'def main():' -n 5 --seed 1 --device cpu 2>&1"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.rfind("def main():", 0), 0u) << r.output;
    EXPECT_NE(r.output.find("tokens/s"), std::string::npos) << r.output;
}

TEST(CliGenerate, BadInputFailsClearly) {
    auto missing = test::run_command(test::rocmforge("generate -m /nonexistent.gguf -p hi 2>&1"));
    EXPECT_EQ(missing.exit_code, 1) << missing.output;
    EXPECT_NE(missing.output.find("error"), std::string::npos);

    auto absurd = test::run_command(test::rocmforge("generate -m /nonexistent.gguf -p hi --temp -3 2>&1"));
    EXPECT_EQ(absurd.exit_code, 2) << absurd.output;
    auto threads = test::run_command(test::rocmforge("generate -m /nonexistent.gguf -p hi -t 100000 2>&1"));
    EXPECT_EQ(threads.exit_code, 2) << threads.output;
    auto device = test::run_command(test::rocmforge("generate -m /nonexistent.gguf -p hi --device tpu 2>&1"));
    EXPECT_EQ(device.exit_code, 2) << device.output;
    EXPECT_NE(device.output.find("unknown device 'tpu'"), std::string::npos) << device.output;

    // An architecture the registry does not know.
    auto bytes = test::SyntheticModel({.arch = "mamba", .n_vocab = 300, .vocab = true}).build();
    ASSERT_TRUE(bytes.ok());
    const auto path = std::filesystem::temp_directory_path() / "rocmforge-cli-mamba.gguf";
    {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite(bytes->data(), 1, bytes->size(), f);
        std::fclose(f);
    }
    auto unknown = test::run_command(test::rocmforge("generate -m " + path.string() + " -p hi 2>&1"));
    EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
    EXPECT_NE(unknown.output.find("'mamba' is not supported"), std::string::npos) << unknown.output;
    std::filesystem::remove(path);
}

TEST(CliGenerate, PromptLongerThanTheContextIsRefused) {
    RF_REQUIRE_SHARED();
    const auto model = test::shared_path("models/llama-gqa-q8_0.gguf").string();
    auto r = test::run_command(test::rocmforge("generate -m " + model +
                                               " -p 'a fairly long prompt that cannot fit' -c 4 2>&1"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("does not fit the context"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rf
