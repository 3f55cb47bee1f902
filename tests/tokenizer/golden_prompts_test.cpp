// Conformance: the model files in shared/models carry real vocabularies, and their golden files
// hold prompts with the reference token ids (BOS added as the vocabulary asks, special parsing off)
// and greedy continuations with the exact bytes they detokenize to.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "shared_vocab.h"
#include "tokenizer/stream_decoder.h"

namespace rf::tokenizer::test {
namespace {

std::string hex_to_bytes(const std::string& hex) {
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    return bytes;
}

TEST(GoldenPrompts, TokensAndContinuationBytesMatch) {
    RF_REQUIRE_SHARED();
    size_t prompts = 0, continuations = 0;
    for (const auto& entry : std::filesystem::directory_iterator(rf::test::shared_path("models"))) {
        const std::string path = entry.path().string();
        if (!path.ends_with(".golden.json")) continue;
        auto json_text = read_whole_file(path);
        ASSERT_TRUE(json_text) << path;
        auto golden = nlohmann::json::parse(*json_text);
        auto model = entry.path().parent_path() / golden.at("model").get<std::string>();
        auto tokenizer = load_tokenizer(model.string());
        ASSERT_TRUE(tokenizer) << model;
        EXPECT_EQ(tokenizer->n_vocab(), golden.at("n_vocab").get<int32_t>()) << model;

        for (const auto& c : golden.at("cases")) {
            const auto prompt = c.at("prompt").get<std::string>();
            const auto expected = c.at("tokens").get<std::vector<int32_t>>();
            EXPECT_EQ(tokenizer->encode(prompt, {.add_special = true, .parse_special = false}), expected)
                << model.filename() << ": '" << prompt << "'";
            ++prompts;

            // A continuation keeps its leading space: it follows the prompt.
            const auto greedy = c.at("greedy").get<std::vector<int32_t>>();
            const std::string bytes = hex_to_bytes(c.at("greedy_bytes_hex").get<std::string>());
            const DecodeOptions continuation{.show_special = false, .strip_space_prefix = false};
            EXPECT_EQ(tokenizer->decode(greedy, continuation), bytes) << model.filename() << ": '" << prompt << "'";
            std::string pieces;
            for (int32_t id : greedy) pieces += tokenizer->decode(std::span(&id, 1), continuation);
            EXPECT_EQ(pieces, bytes);
            ++continuations;
        }
    }
    EXPECT_GE(prompts, 27u);  // nine models, three prompts each
    std::printf("[ golden   ] %zu prompts, %zu continuations checked\n", prompts, continuations);
}

}  // namespace
}  // namespace rf::tokenizer::test
