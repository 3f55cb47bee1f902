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
#include "backend/cpu/cpu_backend.h"
#include "backend/instrumented_backend.h"
#include "engine/engine.h"
#include "engine/loaded_model.h"
#include "engine/scheduler_support.h"
#include "support/shared_data.h"
#include "support/test_backend.h"
#include "synthetic_model.h"

namespace rf {
namespace {

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

// Rank r's backend: the CPU, or GPU r; wrapped as the CLI wraps it (counting its operations).
Result<std::unique_ptr<InstrumentedBackend>> rank_backend(int r) {
    if (test::test_device() == "cpu") return std::make_unique<InstrumentedBackend>(test::make_test_backend({.threads = 1}));
    RF_ASSIGN_OR_RETURN(CreatedBackend created, create_backend({.device = DeviceKind::Cuda, .gpu_index = r}));
    return std::make_unique<InstrumentedBackend>(std::move(created.backend));
}

// Loads the file's model as `world` ranks and runs the steps through one engine over the group;
// the logits come back whole (rows of n_vocab), or the first error.
Result<std::vector<float>> run_group(const gguf::File& file, int world) {
    std::vector<std::unique_ptr<InstrumentedBackend>> backends;
    std::vector<Backend*> ranks;
    for (int r = 0; r < world; ++r) {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<InstrumentedBackend> backend, rank_backend(r));
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

// Continuous batching over a group: concurrent requests with chunked prefill and a shared system
// prompt (the prefix cache hands the ranks' blocks to a later request) stream the tokens the whole
// model streams, with the same log-probabilities up to rounding. The group is loaded as
// --tensor-parallel loads it (LoadedModel over the ranks' backends and their collective).
TEST(TensorParallel, SchedulerServesAGroupAsTheWholeModel) {
    RF_REQUIRE_SHARED();
    if (available_ranks() < 2) {
        std::cout << "not run: a group of two needs two GPUs, this machine has " << available_ranks() << "\n";
        return;
    }
    const std::string path = test::shared_path("models/llama-gqa-q8_0.gguf").string();
    const engine::EngineOptions options{.n_ctx = 256, .n_batch = 128, .max_sequences = 4, .block_size = 16};
    std::vector<std::unique_ptr<InstrumentedBackend>> backends;
    std::vector<Backend*> ranks;
    for (int r = 0; r < 2; ++r) {
        auto backend = rank_backend(r);
        ASSERT_TRUE(backend.ok()) << backend.error().message;
        ranks.push_back(backend->get());
        backends.push_back(std::move(*backend));
    }
    auto group = create_collective_group(ranks);
    ASSERT_TRUE(group.ok()) << group.error().message;
    auto shared = engine::LoadedModel::load(
        path, engine::Devices{.main = ranks[0], .cpu = nullptr, .split = {}, .peers = {ranks[1]}, .group = group->get()},
        options);
    ASSERT_TRUE(shared.ok()) << shared.error().message;
    ASSERT_EQ(shared->engine->tensor_parallel(), 2);
    auto whole_backend = rank_backend(0);
    ASSERT_TRUE(whole_backend.ok()) << whole_backend.error().message;
    auto whole = engine::LoadedModel::load(path, **whole_backend, options);
    ASSERT_TRUE(whole.ok()) << whole.error().message;

    const std::string system = "You are a helpful assistant. Answer every question briefly and politely, and say "
                               "so plainly when you do not know the answer. ";
    const std::vector<std::string> texts = {system + "What is two plus two?", "The capital of France is",
                                            "def fibonacci(n):", "1, 2, 3, 4,", "Once upon a time",
                                            system + "Name a colour."};
    const auto serve = [&](engine::LoadedModel& m, engine::test::Collector& out) {
        auto s = engine::Scheduler::create(*m.engine, *m.tokenizer, {.step_token_budget = 32});
        ASSERT_TRUE(s.ok()) << s.error().message;
        for (size_t i = 0; i < texts.size(); ++i) {
            auto prompt = m.tokenizer->encode(texts[i], {.add_special = true, .parse_special = false});
            engine::test::submitted((*s)->submit(engine::test::greedy(prompt, 12), out.sink(i)));
        }
        ASSERT_TRUE(out.wait(texts.size()));
        EXPECT_EQ((*s)->stats().kv_blocks_used, 0);
    };
    engine::test::Collector by_group, by_whole;
    serve(*shared, by_group);
    serve(*whole, by_whole);
    for (size_t i = 0; i < texts.size(); ++i) {
        const engine::test::Output a = by_group.get(i), b = by_whole.get(i);
        EXPECT_EQ(a.tokens, b.tokens) << "request " << i;
        ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
        for (size_t t = 0; t < a.logprobs.size(); ++t) EXPECT_NEAR(a.logprobs[t], b.logprobs[t], 1e-4) << i << ", " << t;
    }
    EXPECT_GE(by_group.get(5).finished->usage.cached_prompt_tokens, 16) << "the prefix cache served the group";
}

// A share that names no rank of its group (rank 1 of 1, a group of none) is refused, not loaded as
// a rank that would add no residual.
TEST(TensorParallel, ASharePastItsGroupIsRefused) {
    auto bytes = test::SyntheticModel({.type = TensorType::F32}).build();
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto file = gguf::File::parse(*bytes, "synthetic");
    ASSERT_TRUE(file.ok()) << file.error().message;
    cpu::CpuBackend backend(cpu::CpuBackendOptions{.threads = 1});
    for (const model::TensorShard shard : {model::TensorShard{.rank = 1, .world = 1},
                                           model::TensorShard{.rank = 0, .world = 0},
                                           model::TensorShard{.rank = -1, .world = 2}}) {
        model::Placement placement = model::Placement::single(backend, 2);
        placement.shard = shard;
        auto m = model::load_model(*file, placement);
        ASSERT_FALSE(m.ok()) << "rank " << shard.rank << " of " << shard.world;
        EXPECT_NE(m.error().message.find("rank"), std::string::npos) << m.error().message;
    }
}

// A rank that fails mid-step (an injected fault, after the step's first sums) fails the step with
// its own error, not the others' "aborted", and without a hang; the group stops there, as a lost
// device does (device_lost: a server then moves the model), and later steps say so.
TEST(TensorParallel, ARankFailingMidStepStopsTheGroupWithItsOwnError) {
    RF_REQUIRE_SHARED();
    if (test::test_device() != "cpu") {
        std::cout << "not run: faults are injected into CPU ranks\n";
        return;
    }
    auto file = gguf::File::open(test::shared_path("models/llama-gqa-q8_0.gguf").string(), FileLoad::Map);
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto hp = model::read_hparams(*file);
    ASSERT_TRUE(hp.ok());
    std::vector<std::unique_ptr<InstrumentedBackend>> backends;
    std::vector<Backend*> ranks;
    for (int r = 0; r < 2; ++r) {
        auto backend = rank_backend(r);
        ASSERT_TRUE(backend.ok()) << backend.error().message;
        backends.push_back(std::move(*backend));
        ranks.push_back(backends.back().get());
    }
    auto group = create_collective_group(ranks);
    ASSERT_TRUE(group.ok()) << group.error().message;
    std::vector<std::unique_ptr<model::Model>> models;
    std::vector<const model::Model*> shares;
    for (int r = 0; r < 2; ++r) {
        model::Placement placement = model::Placement::single(*ranks[static_cast<size_t>(r)], hp->n_layer);
        placement.shard = {.rank = r, .world = 2};
        auto m = model::load_model(*file, placement);
        ASSERT_TRUE(m.ok()) << m.error().message;
        shares.push_back(m->get());
        models.push_back(std::move(*m));
    }
    auto e = engine::Engine::create(shares, **group, kOptions);
    ASSERT_TRUE(e.ok()) << e.error().message;
    std::vector<float> logits;
    ASSERT_TRUE(e->feed(0, std::vector<int32_t>{1, 2, 3}, false, logits).ok());
    const uint64_t ops = backends[1]->count(BackendOp::Attention);  // (one a layer a step)
    ASSERT_GT(ops, 0u);
    auto faults = FaultInjector::parse("op:12");  // rank 1's 12th operation of the next step, mid-step
    ASSERT_TRUE(faults.ok()) << faults.error().message;
    backends[1]->inject_faults(*faults);
    const Status failed = e->feed(0, std::vector<int32_t>{4}, false, logits);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().message.find("aborted"), std::string::npos) << failed.error().message;
    EXPECT_NE(failed.error().message.find("rank 1"), std::string::npos) << failed.error().message;
    EXPECT_TRUE(failed.error().device_lost);
    EXPECT_FALSE(failed.error().transient);
    const Status later = e->feed(1, std::vector<int32_t>{5}, false, logits);
    ASSERT_FALSE(later.ok());
    EXPECT_TRUE(later.error().device_lost) << later.error().message;
}

INSTANTIATE_TEST_SUITE_P(SharedModels, TensorParallel, ::testing::ValuesIn(test::shared_model_names()),
                         [](const auto& info) { return test::test_name_of(info.param); });

}  // namespace
}  // namespace rf
