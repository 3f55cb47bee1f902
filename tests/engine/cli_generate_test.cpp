// `rocmforge generate` end to end: JSON output against a shared model's reference, and clear
// errors with non-zero exits for bad input.
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

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

// What llama.cpp users type: its spellings (-ngl, -ctk/-ctv, -s, --no-mmap, --seed -1), a prompt from
// a file, plain messages for an unknown command and for a word where a number belongs, defaults in
// the help, and warnings for more threads than cores and a context past the model's training.
TEST(CliGenerate, LlamaCppHabits) {
    RF_REQUIRE_SHARED();
    const auto model = test::shared_path("models/llama-gqa-q8_0.gguf").string();
    const std::string base = "generate -m " + model + " --device cpu -t 1 -c 128 --temp 0 -n 3 ";

    auto unknown = test::run_command(test::rocmforge("frobnicate 2>&1"));
    EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
    EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos) << unknown.output;
    EXPECT_NE(unknown.output.find("generate"), std::string::npos) << unknown.output;

    auto word = test::run_command(test::rocmforge(base + "-p hi -n abc 2>&1"));
    EXPECT_EQ(word.exit_code, 2) << word.output;
    EXPECT_NE(word.output.find("'abc' is not a number"), std::string::npos) << word.output;

    auto help = test::run_command(test::rocmforge("generate --help"));
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.output.find("=128"), std::string::npos) << help.output;  // -n's default

    auto spelled = test::run_command(test::rocmforge(base + "-p hi -ngl 0 -ctk f16 -ctv f16 -s 7 --no-mmap --json 2>&1"));
    ASSERT_EQ(spelled.exit_code, 0) << spelled.output;
    EXPECT_EQ(nlohmann::json::parse(spelled.output).at("seed"), 7);
    EXPECT_EQ(test::run_command(test::rocmforge(base + "-p hi --seed -1 2>&1")).exit_code, 0);

    auto mixed = test::run_command(test::rocmforge(base + "-p hi -ctk f16 -ctv f32 2>&1"));
    EXPECT_NE(mixed.exit_code, 0) << mixed.output;
    EXPECT_NE(mixed.output.find("share one cache type"), std::string::npos) << mixed.output;
    auto split = test::run_command(test::rocmforge("generate -m " + model + " -p hi -ngl 3 --device cpu 2>&1"));
    EXPECT_NE(split.exit_code, 0) << split.output;
    EXPECT_NE(split.output.find("--device cpu"), std::string::npos) << split.output;

    // -f reads the prompt that -p would give; one of them is needed, not both.
    const auto file = std::filesystem::temp_directory_path() / "rocmforge-cli-prompt.txt";
    {
        std::FILE* f = std::fopen(file.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fputs("The quick brown fox", f);
        std::fclose(f);
    }
    auto from_file = test::run_command(test::rocmforge(base + "-f " + file.string() + " --json 2>&1"));
    auto from_flag = test::run_command(test::rocmforge(base + "-p 'The quick brown fox' --json 2>&1"));
    ASSERT_EQ(from_file.exit_code, 0) << from_file.output;
    ASSERT_EQ(from_flag.exit_code, 0) << from_flag.output;
    EXPECT_EQ(nlohmann::json::parse(from_file.output).at("prompt_tokens"),
              nlohmann::json::parse(from_flag.output).at("prompt_tokens"));
    EXPECT_EQ(test::run_command(test::rocmforge(base + "-p hi -f " + file.string() + " 2>&1")).exit_code, 2);
    auto none = test::run_command(test::rocmforge(base + "2>&1"));
    EXPECT_EQ(none.exit_code, 2) << none.output;
    EXPECT_NE(none.output.find("-p TEXT or -f FILE"), std::string::npos) << none.output;
    auto missing = test::run_command(test::rocmforge(base + "-f /nonexistent/prompt.txt 2>&1"));
    EXPECT_EQ(missing.exit_code, 1) << missing.output;
    EXPECT_NE(missing.output.find("cannot open the prompt file"), std::string::npos) << missing.output;
    std::filesystem::remove(file);

    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0 && cores < 1024) {
        auto many = test::run_command(test::rocmforge("generate -m " + model + " --device cpu -c 128 -n 1 -p hi -t " +
                                                      std::to_string(cores + 1) + " 2>&1"));
        EXPECT_EQ(many.exit_code, 0) << many.output;
        EXPECT_NE(many.output.find("more threads than the"), std::string::npos) << many.output;
    }
    auto long_context = test::run_command(test::rocmforge("generate -m " + model +
                                                          " --device cpu -t 1 -c 8192 -n 1 -p hi 2>&1"));
    EXPECT_EQ(long_context.exit_code, 0) << long_context.output;
    EXPECT_NE(long_context.output.find("longer than the 4096 the model was trained for"), std::string::npos)
        << long_context.output;
}

}  // namespace
}  // namespace rf
