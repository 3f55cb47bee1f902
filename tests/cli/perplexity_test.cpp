// End-to-end: `rocmforge perplexity` against the same protocol computed here from the engine's
// logits fed one token at a time (the command feeds each chunk in one batch), with a direct
// float64 log-softmax (issue 20).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "gguf/reader.h"
#include "model/model.h"
#include "run_command.h"
#include "support/shared_data.h"
#include "support/test_backend.h"
#include "tokenizer/tokenizer.h"

namespace rf::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kText =
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity.\nIt was the season of Light.";

fs::path write_text(const std::string& name, const std::string& text) {
    fs::path path = fs::temp_directory_path() / ("rf_perplexity_test_" + name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

// The protocol of cmd_perplexity.cpp, restated: chunks of `chunk` tokens, each after BOS from a fresh
// context, every chunk token predicted.
double expected_loss(const std::string& model_path, const std::string& text, int64_t chunk, int64_t& scored) {
    auto file = gguf::File::open(model_path);
    EXPECT_TRUE(file.ok());
    auto backend = make_test_backend();
    auto model = model::load_model(*file, *backend);
    EXPECT_TRUE(model.ok());
    auto tok = tokenizer::Tokenizer::from_gguf(*file);
    EXPECT_TRUE(tok.ok());
    EXPECT_TRUE(tok->add_bos());  // this test's model adds BOS: every chunk token is scored
    const std::vector<int32_t> ids = tok->encode(text, {.add_special = false, .parse_special = false});
    const int64_t n_vocab = (*model)->hparams().n_vocab;
    double sum = 0;
    scored = 0;
    for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(chunk)) {
        auto engine = engine::Engine::create(**model, {.n_ctx = 64, .n_batch = 1});
        EXPECT_TRUE(engine.ok());
        int32_t previous = tok->special().bos;
        for (size_t j = start; j < std::min(ids.size(), start + static_cast<size_t>(chunk)); ++j) {
            std::vector<float> logits;
            const int32_t one[] = {previous};
            EXPECT_TRUE(engine->feed(0, one, false, logits).ok());
            double top = -INFINITY, z = 0;
            for (float v : logits) top = std::max(top, static_cast<double>(v));
            for (float v : logits) z += std::exp(static_cast<double>(v) - top);
            EXPECT_EQ(static_cast<int64_t>(logits.size()), n_vocab);
            sum += std::log(z) + top - logits[static_cast<size_t>(ids[j])];
            ++scored;
            previous = ids[j];
        }
    }
    return sum / static_cast<double>(scored);
}

TEST(CliPerplexity, MatchesTheProtocolComputedFromLogits) {
    RF_REQUIRE_SHARED();
    const std::string model = shared_path("models/llama-gqa-f16.gguf").string();
    const fs::path text = write_text("text.txt", kText);
    // 16-token chunks: several chunks, the last one shorter.
    auto r = run_command(rocmforge("perplexity --json -c 16 -m " + model + " -f " + text.string()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    int64_t scored = 0;
    const double loss = expected_loss(model, kText, 16, scored);
    EXPECT_EQ(j["scored"].get<int64_t>(), scored);
    EXPECT_EQ(j["tokens"].get<int64_t>(), scored);  // with BOS every token is predicted
    EXPECT_GT(j["chunks"].get<int64_t>(), 2);
    EXPECT_NE(j["tokens"].get<int64_t>() % 16, 0) << "the text should end in a short chunk";
    EXPECT_NEAR(j["loss"].get<double>(), loss, 1e-4 * loss);
    EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(loss), 1e-3 * std::exp(loss));

    // The text form says the same.
    auto plain = run_command(rocmforge("perplexity -c 16 -m " + model + " -f " + text.string()));
    ASSERT_EQ(plain.exit_code, 0) << plain.output;
    EXPECT_NE(plain.output.find("perplexity "), std::string::npos) << plain.output;
}

TEST(CliPerplexity, BadInputIsAnErrorNotACrash) {
    RF_REQUIRE_SHARED();
    const std::string model = shared_path("models/llama-gqa-f16.gguf").string();
    auto missing = run_command(rocmforge("perplexity -m " + model + " -f /nonexistent/text.txt 2>&1"));
    EXPECT_EQ(missing.exit_code, 1) << missing.output;
    EXPECT_NE(missing.output.find("error:"), std::string::npos) << missing.output;
    const fs::path empty = write_text("empty.txt", "");
    auto nothing = run_command(rocmforge("perplexity -m " + model + " -f " + empty.string() + " 2>&1"));
    EXPECT_EQ(nothing.exit_code, 1) << nothing.output;
    EXPECT_NE(nothing.output.find("too few"), std::string::npos) << nothing.output;
    auto usage = run_command(rocmforge("perplexity -m " + model + " 2>&1"));
    EXPECT_EQ(usage.exit_code, 2) << usage.output;
}

}  // namespace
}  // namespace rf::test
