// A model shared out over the ranks of a tensor-parallel group computes what the whole model
// computes. On the CPU (CI), CPU backends stand in for the GPUs, threads for the ranks and host
// memory for NCCL; with ROCMFORGE_TEST_DEVICE=cuda (the device script) each rank is a GPU and the
// sums go through NCCL, in groups of as many GPUs as the machine has. For every shared model and
// groups of 1, 2 and 4 ranks, the logits of a prompt and of a batched step of two sequences, each
// rank's run of the vocabulary put back in place, match the whole model's. A group of one (its sums
// through the collective all the same) is the whole model, bit for bit. Larger groups add each
// block's partial products in another order (and a rank quantizes its own share of an activation,
// on the same block boundaries), so their logits match within a bound far inside the conformance
// tolerance; a model whose heads or widths do not split is refused with an error that says why.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "backend/backend_factory.h"
#include "engine/engine.h"
#include "support/shared_data.h"
#include "support/test_backend.h"
#include "synthetic_model.h"

namespace rf {
namespace {

std::vector<std::string> shared_models() {
    std::vector<std::string> names;
    const auto dir = test::shared_path("models");
    if (std::filesystem::is_directory(dir))
        for (const auto& entry : std::filesystem::directory_iterator(dir))
            if (entry.path().extension() == ".gguf") names.push_back(entry.path().stem().string());
    std::sort(names.begin(), names.end());
    if (names.empty()) names.push_back("none");
    return names;
}

constexpr engine::EngineOptions kOptions{.n_ctx = 64, .n_batch = 16, .max_sequences = 2, .block_size = 4};

// The steps hybrid_test.cpp runs: the logits of a 13-token prompt (every position), then of one
// step of two sequences (after the second sequence's first 5 tokens).
Status run_steps(engine::Engine& e, int64_t n_vocab, std::vector<float>& all) {
    std::vector<int32_t> prompt;
    for (int i = 0; i < 13; ++i) prompt.push_back(static_cast<int32_t>((i * 131 + 7) % n_vocab));
    std::vector<float> logits;
    RF_TRY(e.feed(0, prompt, true, logits));
    all = logits;
    RF_TRY(e.feed(1, std::span(prompt).first(5), false, logits));
    const engine::BatchToken step[] = {{.token = 3, .seq = 0, .pos = 13, .want_logits = true},
                                       {.token = 5, .seq = 1, .pos = 5, .want_logits = true}};
    RF_TRY(e.step(step, logits));
    all.insert(all.end(), logits.begin(), logits.end());
    return ok_status();
}

// Rank r's backend: the CPU, or GPU r.
Result<std::unique_ptr<Backend>> rank_backend(int r) {
    if (test::test_device() == "cpu") return std::unique_ptr<Backend>(test::make_test_backend({.threads = 1}));
    RF_ASSIGN_OR_RETURN(CreatedBackend created, create_backend({.device = DeviceKind::Cuda, .gpu_index = r}));
    return std::move(created.backend);
}

// Loads the file's model as `world` ranks and runs the steps through one engine over the group;
// the logits come back whole (rows of n_vocab), or the first error.
Result<std::vector<float>> run_group(const gguf::File& file, int world) {
    std::vector<std::unique_ptr<Backend>> backends;
    std::vector<Backend*> ranks;
    for (int r = 0; r < world; ++r) {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, rank_backend(r));
        ranks.push_back(backend.get());
        backends.push_back(std::move(backend));
    }
    RF_ASSIGN_OR_RETURN(std::unique_ptr<CollectiveGroup> group, create_collective_group(ranks));
    RF_ASSIGN_OR_RETURN(model::HParams hp, model::read_hparams(file));
    std::vector<std::unique_ptr<model::Model>> models;
    std::vector<const model::Model*> shares;
    for (int r = 0; r < world; ++r) {
        model::Placement placement = model::Placement::single(*ranks[static_cast<size_t>(r)], hp.n_layer);
        placement.shard = {.rank = r, .world = world};
        RF_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> m, model::load_model(file, placement));
        shares.push_back(m.get());
        models.push_back(std::move(m));
    }
    RF_ASSIGN_OR_RETURN(engine::Engine e, engine::Engine::create(shares, *group, kOptions));
    if (e.tensor_parallel() != world) return make_error("an engine of {} ranks", e.tensor_parallel());
    std::vector<float> logits;
    RF_TRY(run_steps(e, models[0]->hparams().n_vocab, logits));
    return logits;
}

// rms(a - b) / std(b) and max|a - b| / std(b) over the rows of n_vocab logits; the rows' top tokens.
struct Difference {
    double rms = 0, max = 0;
    int top_disagreements = 0;
};

Difference compare(const std::vector<float>& got, const std::vector<float>& want, int64_t n_vocab) {
    double mean = 0, sq = 0, diff_sq = 0, max_diff = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        mean += want[i];
        sq += double{want[i]} * want[i];
        const double d = std::abs(double{got[i]} - want[i]);
        diff_sq += d * d;
        max_diff = std::max(max_diff, d);
    }
    const double n = static_cast<double>(want.size());
    const double sd = std::sqrt(std::max(sq / n - (mean / n) * (mean / n), 1e-30));
    Difference d{.rms = std::sqrt(diff_sq / n) / sd, .max = max_diff / sd, .top_disagreements = 0};
    const auto row = static_cast<size_t>(n_vocab);
    for (size_t r = 0; r + 1 <= want.size() / row; ++r) {
        const auto top = [&](const std::vector<float>& v) {
            return std::max_element(v.begin() + static_cast<ptrdiff_t>(r * row),
                                    v.begin() + static_cast<ptrdiff_t>((r + 1) * row)) - v.begin();
        };
        if (top(got) != top(want)) ++d.top_disagreements;
    }
    return d;
}

// How many ranks a group may have here: any number of CPU ranks; one per GPU.
int available_ranks() {
    static const int n = [] {
        if (test::test_device() == "cpu") return 4;
        int gpus = 1;
        while (gpus < 8 && create_backend({.device = DeviceKind::Cuda, .gpu_index = gpus}).ok()) ++gpus;
        return gpus;
    }();
    return n;
}

// The whole model's logits on rank 0's backend, then groups of 1, 2 and 4 ranks against them.
void expect_groups_match_whole(const gguf::File& file, const std::string& label) {
    auto hp = model::read_hparams(file);
    ASSERT_TRUE(hp.ok()) << hp.error().message;
    auto backend = rank_backend(0);
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    auto whole_model = model::load_model(file, **backend);
    ASSERT_TRUE(whole_model.ok()) << whole_model.error().message;
    auto whole_engine = engine::Engine::create(**whole_model, kOptions);
    ASSERT_TRUE(whole_engine.ok()) << whole_engine.error().message;
    std::vector<float> whole;
    const int64_t n_vocab = (*whole_model)->hparams().n_vocab;
    const Status ran = run_steps(*whole_engine, n_vocab, whole);
    ASSERT_TRUE(ran.ok()) << ran.error().message;

    auto one = run_group(file, 1);
    ASSERT_TRUE(one.ok()) << one.error().message;
    EXPECT_EQ(*one, whole) << "a group of one is the whole model";

    for (int world : {2, 4}) {
        SCOPED_TRACE(::testing::Message() << label << ", " << world << " ranks");
        if (world > available_ranks()) {
            std::cout << label << ", " << world << " ranks: not run, this machine has " << available_ranks()
                      << " GPU(s)\n";
            continue;
        }
        auto group = run_group(file, world);
        if (hp->n_head % world != 0 || hp->n_head_kv % world != 0 || hp->n_ff % world != 0) {
            ASSERT_FALSE(group.ok()) << "heads or widths that do not split were accepted";
            EXPECT_NE(group.error().message.find("split"), std::string::npos) << group.error().message;
            continue;
        }
        if (!group.ok() && group.error().message.find("does not fall on the") != std::string::npos) {
            // A share of a quantized matrix must be whole blocks (the tiny shared models' K-quant
            // rows are narrower than a block a rank); the synthetic models below cover K-quants.
            std::cout << label << ", " << world << " ranks: refused: " << group.error().message << "\n";
            continue;
        }
        ASSERT_TRUE(group.ok()) << group.error().message;
        ASSERT_EQ(group->size(), whole.size());
        const Difference d = compare(*group, whole, n_vocab);
        std::cout << label << ", " << world << " ranks: rms " << d.rms << ", max " << d.max << " (of the logits' "
                  << "std), top-1 changed in " << d.top_disagreements << " of " << whole.size() / n_vocab << " rows\n";
        EXPECT_LE(d.rms, 1e-3);
        EXPECT_LE(d.max, 1e-2);
        EXPECT_EQ(d.top_disagreements, 0);
    }
}

class TensorParallel : public ::testing::TestWithParam<std::string> {};

TEST_P(TensorParallel, RanksComputeWhatTheWholeModelComputes) {
    RF_REQUIRE_SHARED();
    ASSERT_NE(GetParam(), "none") << "no models in " << test::shared_path("models");
    auto file = gguf::File::open(test::shared_path("models/" + GetParam() + ".gguf").string(), FileLoad::Map);
    ASSERT_TRUE(file.ok()) << file.error().message;
    expect_groups_match_whole(*file, GetParam());
}

// K-quant shares (whole 256-value blocks a rank at 4 ranks) of every architecture's layout: fused
// Q, K and V and fused gate+up (phi3), biases (qwen2), per-head norms (qwen3), post-norms and soft
// caps (gemma2), experts and a tied output head (llama).
TEST(TensorParallel, KQuantSharesOfEveryArchitecture) {
    struct Case {
        std::string arch;
        TensorType type;
        int64_t n_expert = 0;
        bool tied = false;
    };
    const Case cases[] = {{"llama", TensorType::Q4_K, 0, true}, {"llama", TensorType::Q5_K, 4, false},
                          {"qwen2", TensorType::Q6_K}, {"qwen3", TensorType::Q4_K}, {"phi3", TensorType::Q3_K},
                          {"gemma2", TensorType::Q2_K}};
    for (const Case& c : cases) {
        const std::string label = c.arch + " " + std::string(tensor_type_name(c.type)) + (c.n_expert ? " experts" : "");
        SCOPED_TRACE(label);
        auto bytes = test::SyntheticModel({.arch = c.arch, .n_embd = 256, .n_layer = 2, .n_head = 8, .n_head_kv = 4,
                                           .head_dim = 128, .n_ff = 1024, .n_vocab = 130, .n_expert = c.n_expert,
                                           .n_expert_used = c.n_expert ? 2 : 0, .type = c.type, .tied = c.tied})
                         .build();
        ASSERT_TRUE(bytes.ok()) << bytes.error().message;
        auto file = gguf::File::parse(*bytes, "synthetic " + label);
        ASSERT_TRUE(file.ok()) << file.error().message;
        expect_groups_match_whole(*file, label);
    }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, TensorParallel, ::testing::ValuesIn(shared_models()), [](const auto& info) {
    std::string s = info.param;
    std::replace_if(s.begin(), s.end(), [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); }, '_');
    return s;
});

}  // namespace
}  // namespace rf
