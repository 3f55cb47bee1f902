// A model split between two backends computes what it computes on one. Two CPU backends stand in
// for the GPU and the CPU (the device script runs the same splits with a real GPU against the
// golden references): for every shared model and several splits, the logits of a prompt and of
// a batched step of two sequences equal the single backend's bit for bit, each layer's KV cache
// lives with its layer, and the operation counts say which backend ran what. The plan of
// `--gpu-layers auto` is checked against memory budgets counted independently.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "backend/instrumented_backend.h"
#include "backend/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "engine/placement_plan.h"
#include "model/forward_state.h"
#include "support/shared_data.h"
#include "synthetic_model.h"

namespace rf {
namespace {

std::unique_ptr<InstrumentedBackend> counted_cpu() {
    return std::make_unique<InstrumentedBackend>(std::make_unique<cpu::CpuBackend>(cpu::CpuBackendOptions{.threads = 2}));
}

// The logits of a 13-token prompt (every position) and then of one step of two sequences.
std::vector<float> run(const model::Model& m) {
    auto engine = engine::Engine::create(m, {.n_ctx = 64, .n_batch = 16, .max_sequences = 2, .block_size = 4});
    EXPECT_TRUE(engine.ok()) << engine.error().message;
    if (!engine.ok()) return {};
    const int64_t n_vocab = m.hparams().n_vocab;
    std::vector<int32_t> prompt;
    for (int i = 0; i < 13; ++i) prompt.push_back(static_cast<int32_t>((i * 131 + 7) % n_vocab));
    std::vector<float> all, logits;
    EXPECT_TRUE(engine->feed(0, prompt, true, logits).ok());
    all = logits;
    EXPECT_TRUE(engine->feed(1, std::span(prompt).first(5), false, logits).ok());
    const engine::BatchToken step[] = {{.token = 3, .seq = 0, .pos = 13, .want_logits = true},
                                       {.token = 5, .seq = 1, .pos = 5, .want_logits = true}};
    auto stepped = engine->step(step, logits);
    EXPECT_TRUE(stepped.ok()) << stepped.error().message;
    all.insert(all.end(), logits.begin(), logits.end());
    // Each backend's KV storage holds exactly its layers.
    const model::Placement& p = m.placement();
    for (int part = 0; part < p.parts(); ++part) {
        const KvStorage* storage = engine->cache().storage(part);
        EXPECT_EQ(storage ? storage->shape().n_layers : 0, p.layers_on(part)) << "part " << part;
    }
    return all;
}

class Hybrid : public ::testing::TestWithParam<std::string> {};

TEST_P(Hybrid, SplitsComputeWhatOneBackendComputes) {
    RF_REQUIRE_SHARED();
    ASSERT_NE(GetParam(), "none") << "no models in " << test::shared_path("models");
    auto file = gguf::File::open(test::shared_path("models/" + GetParam() + ".gguf").string(), FileLoad::Map);
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto reference_backend = counted_cpu();
    auto reference_model = model::load_model(*file, *reference_backend);
    ASSERT_TRUE(reference_model.ok()) << reference_model.error().message;
    const std::vector<float> reference = run(**reference_model);
    ASSERT_FALSE(reference.empty());
    const int64_t n_layers = (*reference_model)->hparams().n_layer;

    for (int64_t first_layers : {int64_t{0}, n_layers / 2, n_layers}) {
        for (bool output_on_first : {true, false}) {
            SCOPED_TRACE(::testing::Message() << first_layers << " layers on the first backend, output on the "
                                              << (output_on_first ? "first" : "second"));
            auto first = counted_cpu(), second = counted_cpu();
            const model::Placement placement =
                model::Placement::split(*first, *second, n_layers, first_layers, output_on_first);
            auto m = model::load_model(*file, placement);
            ASSERT_TRUE(m.ok()) << m.error().message;
            EXPECT_EQ(run(**m), reference);
            // The prompt (13 tokens in one step of up to 16), the second sequence's 5, the step of two.
            const uint64_t steps = 3;
            const auto on = [&](const InstrumentedBackend& b) { return &b == &placement.backend(0) ? 0 : 1; };
            for (const InstrumentedBackend* b : {first.get(), second.get()}) {
                const bool used = std::find(placement.backends.begin(), placement.backends.end(), b) !=
                                  placement.backends.end();
                const int64_t layers = used ? placement.layers_on(on(*b)) : 0;
                EXPECT_EQ(b->count(BackendOp::Attention), static_cast<uint64_t>(layers) * steps);
                EXPECT_EQ(b->count(BackendOp::Embed), used && placement.input == on(*b) ? steps : 0);
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, Hybrid, ::testing::ValuesIn(test::shared_model_names()),
                         [](const auto& info) { return test::test_name_of(info.param); });

// A stand-in GPU with a given amount of free memory and, optionally, a weight format it cannot hold.
class FakeGpu : public InstrumentedBackend {
public:
    FakeGpu(uint64_t free_bytes, std::optional<TensorType> unsupported)
        : InstrumentedBackend(std::make_unique<cpu::CpuBackend>(cpu::CpuBackendOptions{.threads = 1})),
          free_(free_bytes), unsupported_(unsupported) {}
    std::string name() const override { return "fakegpu"; }
    Result<MemoryInfo> memory() const override { return MemoryInfo{.free_bytes = free_, .total_bytes = free_}; }
    WeightSupport weight_support(TensorType type, int64_t) const override { return {type != unsupported_, type}; }

private:
    uint64_t free_;
    std::optional<TensorType> unsupported_;
};

uint64_t layer_bytes(const gguf::File& file, int64_t layer) {
    uint64_t total = 0;
    const std::string prefix = "blk." + std::to_string(layer) + ".";
    for (const auto& t : file.tensors())
        if (t.name.starts_with(prefix)) total += t.shape.size() < 2 ? t.n_elements * 4 : t.n_bytes;
    return total;
}

TEST(PlacementPlan, AutoTakesTheLayersThatFit) {
    // Eight Q8_0 layers, the output head tied to the embedding table.
    auto bytes = test::SyntheticModel({.n_layer = 8, .type = TensorType::Q8_0, .tied = true}).build();
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto file = gguf::File::parse(*bytes, "synthetic");
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto hp = model::read_hparams(*file);
    ASSERT_TRUE(hp.ok());
    const engine::EngineOptions options{.n_ctx = 256, .n_batch = 32, .max_sequences = 2, .block_size = 16,
                                        .memory_fraction = 0.5};
    auto cpu = counted_cpu();
    // Unknown free memory: everything on the GPU.
    engine::PlanEstimate e;
    {
        FakeGpu gpu(0, std::nullopt);
        auto p = engine::plan_split(*file, *hp, gpu, *cpu, {}, options, &e);
        ASSERT_TRUE(p.ok()) << p.error().message;
        EXPECT_EQ(p->parts(), 1);
        EXPECT_EQ(&p->backend(0), &gpu);
    }
    for (int64_t il = 0; il < 8; ++il) EXPECT_EQ(e.layer_weight_bytes[il], layer_bytes(*file, il));
    // Keys and values (f32) of one sequence's context: 16 blocks of 16 positions.
    const uint64_t kv_per_layer = 16 * hp->n_head_kv * (hp->head_dim_k + hp->head_dim_v) * 4 * (256 / 16);
    EXPECT_EQ(e.layer_kv_bytes, kv_per_layer);
    const gguf::TensorInfo* embd = file->find_tensor("token_embd.weight");
    EXPECT_EQ(e.output_bytes, embd->n_bytes + hp->n_embd * 4);  // the tied table and the final norm
    // Room (at half the free memory) for the forward state, the output head and three and a half layers.
    uint64_t needed = e.state_bytes + e.output_bytes + (e.layer_weight_bytes[3] + kv_per_layer) / 2;
    for (int il = 0; il < 3; ++il) needed += e.layer_weight_bytes[il] + kv_per_layer;
    {
        FakeGpu gpu(2 * needed, std::nullopt);
        engine::PlanEstimate got;
        auto p = engine::plan_split(*file, *hp, gpu, *cpu, {}, options, &got);
        ASSERT_TRUE(p.ok()) << p.error().message;
        ASSERT_EQ(p->parts(), 2);
        EXPECT_EQ(&p->backend(0), &gpu);
        EXPECT_EQ(p->layers_on(0), 3);
        EXPECT_EQ(&p->backend(p->output), &gpu);
        EXPECT_EQ(&p->backend(p->input), cpu.get());
        EXPECT_EQ(got.notes.size(), 1u);
    }
    // Nothing but the forward state fits: the output head and every layer go to the CPU.
    {
        FakeGpu gpu(2 * (e.state_bytes + 1), std::nullopt);
        auto p = engine::plan_split(*file, *hp, gpu, *cpu, {}, options);
        ASSERT_TRUE(p.ok()) << p.error().message;
        EXPECT_EQ(p->parts(), 1);
        EXPECT_EQ(&p->backend(0), cpu.get());
    }
    // An explicit count is taken as asked, clamped to the model.
    {
        FakeGpu gpu(1, std::nullopt);
        auto p = engine::plan_split(*file, *hp, gpu, *cpu, {.gpu_layers = 1000}, options);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->parts(), 1);
        EXPECT_EQ(&p->backend(0), &gpu);
        auto five = engine::plan_split(*file, *hp, gpu, *cpu, {.gpu_layers = 5, .output_on_gpu = false}, options);
        ASSERT_TRUE(five.ok());
        EXPECT_EQ(five->layers_on(0), 5);
        EXPECT_EQ(&five->backend(five->output), cpu.get());
    }
}

// A synthetic model of eight layers with a tied output head, split at every layer count.
TEST(Hybrid, TiedSyntheticModelAtEverySplit) {
    auto bytes = test::SyntheticModel({.n_layer = 8, .type = TensorType::Q8_0, .tied = true}).build();
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto file = gguf::File::parse(*bytes, "synthetic");
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto reference_backend = counted_cpu();
    auto reference_model = model::load_model(*file, *reference_backend);
    ASSERT_TRUE(reference_model.ok()) << reference_model.error().message;
    const std::vector<float> reference = run(**reference_model);
    for (int64_t first_layers = 0; first_layers <= 8; ++first_layers) {
        auto first = counted_cpu(), second = counted_cpu();
        auto m = model::load_model(*file, model::Placement::split(*first, *second, 8, first_layers, first_layers % 2));
        ASSERT_TRUE(m.ok()) << m.error().message;
        EXPECT_EQ(run(**m), reference) << first_layers << " layers on the first backend";
    }
}

TEST(PlacementPlan, LayersWithFormatsTheGpuLacksStayOnTheCpu) {
    RF_REQUIRE_SHARED();
    auto file = gguf::File::open(test::shared_path("models/llama-gqa-q4_k_m.gguf").string(), FileLoad::Map);
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto hp = model::read_hparams(*file);
    ASSERT_TRUE(hp.ok());
    // The first layer holding a Q6_K weight (Q4_K_M files keep some in Q6_K).
    int64_t first_q6 = hp->n_layer;
    for (const auto& t : file->tensors())
        if (t.type == TensorType::Q6_K && t.name.starts_with("blk."))
            first_q6 = std::min<int64_t>(first_q6, std::stoll(t.name.substr(4)));
    ASSERT_LT(first_q6, hp->n_layer) << "the test needs a Q6_K layer weight";
    auto cpu = counted_cpu();
    FakeGpu gpu(0, TensorType::Q6_K);
    engine::PlanEstimate e;
    auto p = engine::plan_split(*file, *hp, gpu, *cpu, {}, {.n_ctx = 64}, &e);
    ASSERT_TRUE(p.ok()) << p.error().message;
    int64_t on_gpu = 0;
    for (int part = 0; part < p->parts(); ++part)
        if (&p->backend(part) == &gpu) on_gpu = p->layers_on(part);
    EXPECT_EQ(on_gpu, first_q6);
    EXPECT_FALSE(e.notes.empty());
}

}  // namespace
}  // namespace rf
