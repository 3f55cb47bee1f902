// Every model in ../shared/models against its reference outputs, following the comparison
// protocol of shared/README.md: prompt tokens, last-position logits, per-position top-1 and the
// greedy continuation. Prints the measured agreement per model. Runs on the backend
// ROCMFORGE_TEST_DEVICE names (default the CPU), with an F16 KV cache when ROCMFORGE_TEST_KV=f16
// (the reference used an f32 cache, so that run measures the cache's rounding too).
// With ROCMFORGE_TEST_REFERENCE=cpu the reference is the CPU backend's own run of the same prompts
// with the same KV type (cpu_reference.h), held to the same protocol: how a GPU with an F16 cache
// is checked, since the golden files were made with an F32 cache.
// With ROCMFORGE_TEST_GPU_LAYERS (a count, or "half") the model is split: that many first layers on
// the test backend and the rest on the CPU, the output head on the test backend unless
// ROCMFORGE_TEST_OUTPUT_ON=cpu (how the device script checks hybrid execution).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "model/hparams.h"
#include "cpu_reference.h"
#include "golden.h"
#include "support/shared_data.h"
#include "support/test_backend.h"
#include "tokenizer/tokenizer.h"

namespace rf {
namespace {

std::vector<std::string> shared_models() {
    std::vector<std::string> names;
    const auto dir = test::shared_path("models");
    if (std::filesystem::is_directory(dir))
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            const std::string file = entry.path().filename().string();
            const std::string suffix = ".golden.json";
            if (file.size() > suffix.size() && file.ends_with(suffix))
                names.push_back(file.substr(0, file.size() - suffix.size()));
        }
    std::sort(names.begin(), names.end());
    if (names.empty()) names.push_back("none");  // a placeholder that skips, saying why
    return names;
}

// Float files (all matrices F32/F16/BF16) are held to the tight thresholds.
bool is_float_model(const gguf::File& file) {
    for (const auto& t : file.tensors())
        if (t.shape.size() >= 2 && t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16)
            return false;
    return true;
}

KvType test_kv_type() {
    const char* env = std::getenv("ROCMFORGE_TEST_KV");
    return env && std::string_view(env) == "f16" ? KvType::F16 : KvType::F32;
}

int32_t argmax(const float* row, int64_t n) { return static_cast<int32_t>(std::max_element(row, row + n) - row); }

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, MatchesReference) {
    RF_REQUIRE_SHARED();
    const std::string name = GetParam();
    ASSERT_NE(name, "none") << "no models found in " << test::shared_path("models");
    // Read into memory as the CLI does, so that the weights are interleaved where the CPU can.
    const std::string path = test::shared_path("models/" + name + ".gguf").string();
    auto file = gguf::File::open(path, FileLoad::Copy);
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto cases = test::read_golden(test::shared_path("models/" + name + ".golden.json"));
    ASSERT_FALSE(cases.empty());

    const std::unique_ptr<Backend> backend = test::make_test_backend();
    const KvType kv_type = test_kv_type();
    const char* reference = std::getenv("ROCMFORGE_TEST_REFERENCE");
    const bool against_cpu = reference && std::string_view(reference) == "cpu";
    if (against_cpu) {
        auto recorded = test::cpu_reference(path, cases, kv_type);
        ASSERT_TRUE(recorded.ok()) << recorded.error().message;
        cases = std::move(*recorded);
    }
    const char* gpu_layers = std::getenv("ROCMFORGE_TEST_GPU_LAYERS");
    const char* output_on = std::getenv("ROCMFORGE_TEST_OUTPUT_ON");
    cpu::CpuBackend cpu_part;
    Result<std::unique_ptr<model::Model>> model = make_error("not loaded");
    if (gpu_layers && *gpu_layers) {
        auto hp = model::read_hparams(*file);
        ASSERT_TRUE(hp.ok()) << hp.error().message;
        const std::string_view n(gpu_layers);
        const int64_t first = n == "half" ? hp->n_layer / 2 : std::stoll(std::string(n));
        const auto placement = model::Placement::split(*backend, cpu_part, hp->n_layer, first,
                                                       !(output_on && std::string_view(output_on) == "cpu"));
        std::printf("[ placement ] %s: %s\n", name.c_str(), placement.describe().c_str());
        model = model::load_model(*file, placement);
    } else {
        model = model::load_model(*file, *backend);
    }
    ASSERT_TRUE(model.ok()) << model.error().message;
    auto tokenizer = tokenizer::Tokenizer::from_gguf(*file);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;

    const bool float_model = is_float_model(*file);
    const float M = float_model ? 0.1f : 0.5f;
    const double max_rms = float_model ? 0.01 : 0.05, max_peak = float_model ? 0.03 : 0.25;
    const int64_t n_vocab = (*model)->hparams().n_vocab;

    for (const auto& c : cases) {
        SCOPED_TRACE(name + ": \"" + c.prompt.substr(0, 40) + "\"");
        // 1. Prompt tokens.
        EXPECT_EQ(tokenizer->encode(c.prompt, {.add_special = true, .parse_special = false}), c.tokens);

        // Odd batch size so prompts are split across steps.
        auto engine = engine::Engine::create(**model, {.n_ctx = 512, .n_batch = 37, .kv_type = kv_type});
        ASSERT_TRUE(engine.ok()) << engine.error().message;
        std::vector<float> logits;
        auto fed = engine->feed(0, c.tokens, true, logits);
        ASSERT_TRUE(fed.ok()) << fed.error().message;
        ASSERT_EQ(logits.size(), c.tokens.size() * n_vocab);
        ASSERT_EQ(static_cast<int64_t>(c.last_logits.size()), n_vocab);

        // 2. Last-position logits.
        const float* last = logits.data() + (c.tokens.size() - 1) * n_vocab;
        double mean = 0, sq = 0, diff_sq = 0, peak = 0;
        for (int64_t i = 0; i < n_vocab; ++i) mean += c.last_logits[i];
        mean /= n_vocab;
        for (int64_t i = 0; i < n_vocab; ++i) {
            sq += (c.last_logits[i] - mean) * (c.last_logits[i] - mean);
            const double d = last[i] - c.last_logits[i];
            diff_sq += d * d;
            peak = std::max(peak, std::abs(d));
        }
        const double stddev = std::sqrt(sq / n_vocab);
        const double rms_rel = std::sqrt(diff_sq / n_vocab) / stddev, peak_rel = peak / stddev;
        EXPECT_LE(rms_rel, max_rms);
        EXPECT_LE(peak_rel, max_peak);

        // 3. Top-1 per prompt position.
        int above_m = 0, agree_above_m = 0, agree_all = 0;
        for (size_t p = 0; p < c.tokens.size(); ++p) {
            const int32_t mine = argmax(logits.data() + p * n_vocab, n_vocab);
            const float m = test::margin(c.prompt_top5[p]);
            const bool agree = mine == c.prompt_top5[p][0].first;
            agree_all += agree;
            if (m > M) {
                ++above_m;
                agree_above_m += agree;
                if (float_model) {
                    EXPECT_TRUE(agree) << "position " << p << " margin " << m;
                }
            }
            if (m > 1.5f) {
                EXPECT_TRUE(agree) << "position " << p << " margin " << m;
            }
        }
        if (!float_model) {
            EXPECT_GE(agree_above_m, 0.95 * above_m);
        }

        // 4. Greedy continuation: required to match up to the first step with a small reference
        // margin; beyond it, count (without asserting) how long the sequences still agree.
        size_t required = 0;
        while (required < c.greedy_top5.size() && test::margin(c.greedy_top5[required]) >= M) ++required;
        size_t matched = 0;
        std::vector<float> step_logits(logits.end() - n_vocab, logits.end());
        for (size_t i = 0; i < c.greedy.size(); ++i) {
            const int32_t mine = argmax(step_logits.data(), n_vocab);
            if (mine != c.greedy[i]) {
                if (i < required) ADD_FAILURE() << "greedy step " << i << ": " << mine << " instead of " << c.greedy[i];
                break;
            }
            ++matched;
            if (i + 1 == c.greedy.size()) break;
            const int32_t next[] = {mine};
            ASSERT_TRUE(engine->feed(0, next, false, step_logits).ok());
        }
        std::printf("[conformance] %s %s vs %s %-18s prompt %3zu tok: rms/std %.4f  max/std %.4f  top-1 %d/%zu "
                    "(margin>M: %d/%d)  greedy equal for %zu/%zu steps (required %zu)\n",
                    backend->name().c_str(), kv_type == KvType::F16 ? "f16" : "f32", against_cpu ? "cpu" : "golden", name.c_str(), c.tokens.size(),
                    rms_rel, peak_rel, agree_all, c.tokens.size(), agree_above_m, above_m, matched, c.greedy.size(),
                    required);
    }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, Conformance, ::testing::ValuesIn(shared_models()),
                         [](const auto& info) { return test::test_name_of(info.param); });

}  // namespace
}  // namespace rf
