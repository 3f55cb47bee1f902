// Properties of the forward pass on small synthetic models of every architecture: the logits do
// not depend on how a prompt is split into batches, sequences in one batch do not see each other,
// and an F16 KV cache stays close to F32.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels/weight_tiles.h"
#include "engine/engine.h"
#include "synthetic_model.h"

namespace rf {
namespace {

struct Loaded {
    std::vector<uint8_t> bytes;
    std::unique_ptr<gguf::File> file;
    std::unique_ptr<model::Model> model;
};

Loaded load(const test::SyntheticShape& shape, Backend& backend) {
    Loaded l;
    auto bytes = test::SyntheticModel(shape).build();
    EXPECT_TRUE(bytes.ok()) << bytes.error().message;
    l.bytes = std::move(*bytes);
    auto file = gguf::File::parse(l.bytes, "synthetic-" + shape.arch);
    EXPECT_TRUE(file.ok()) << file.error().message;
    l.file = std::make_unique<gguf::File>(std::move(*file));
    auto model = model::load_model(*l.file, backend);
    EXPECT_TRUE(model.ok()) << model.error().message;
    if (model.ok()) l.model = std::move(*model);
    return l;
}

std::vector<int32_t> prompt_tokens(int n, int n_vocab) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; ++i) t.push_back((i * 37 + 11) % n_vocab);
    return t;
}

// All-position logits of `tokens` fed in chunks of the given sizes (cycled).
std::vector<float> run_chunked(const model::Model& m, std::span<const int32_t> tokens,
                               std::vector<size_t> chunks, KvType kv = KvType::F32) {
    auto engine = engine::Engine::create(m, {.n_ctx = 64, .n_batch = 64, .max_sequences = 1, .block_size = 4, .kv_type = kv});
    EXPECT_TRUE(engine.ok());
    std::vector<float> all, part;
    size_t pos = 0, i = 0;
    while (pos < tokens.size()) {
        const size_t n = std::min(chunks[i++ % chunks.size()], tokens.size() - pos);
        auto st = engine->feed(0, tokens.subspan(pos, n), true, part);
        EXPECT_TRUE(st.ok()) << st.error().message;
        all.insert(all.end(), part.begin(), part.end());
        pos += n;
    }
    return all;
}

double max_relative_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double peak = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        peak = std::max(peak, std::abs(static_cast<double>(a[i]) - b[i]));
        scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    }
    return peak / scale;
}

double rms_relative_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double diff = 0, ref = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
        ref += static_cast<double>(b[i]) * b[i];
    }
    return std::sqrt(diff / ref);
}

struct Case {
    std::string name;
    test::SyntheticShape shape;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
    std::vector<Case> c;
    for (std::string arch : {"llama", "qwen2", "qwen3", "phi3", "gemma2"}) {
        c.push_back({arch, {.arch = arch}});
        c.push_back({arch + "_q8_0", {.arch = arch, .type = TensorType::Q8_0}});
    }
    c.push_back({"llama_moe", {.arch = "llama", .n_expert = 4, .n_expert_used = 2, .tied = true}});
    c.push_back({"qwen3_wide_heads", {.arch = "qwen3", .n_head = 4, .head_dim = 32}});
    return c;
}

class ForwardProperties : public ::testing::TestWithParam<Case> {};

TEST_P(ForwardProperties, LogitsDoNotDependOnBatching) {
    cpu::CpuBackend backend({.threads = 2});
    Loaded l = load(GetParam().shape, backend);
    ASSERT_TRUE(l.model);
    const auto tokens = prompt_tokens(23, static_cast<int>(l.model->hparams().n_vocab));
    const auto whole = run_chunked(*l.model, tokens, {tokens.size()});
    ASSERT_EQ(whole.size(), tokens.size() * l.model->hparams().n_vocab);
    double spread = 0;
    for (float x : whole) spread = std::max(spread, std::abs(static_cast<double>(x)));
    EXPECT_GT(spread, 0.1) << "logits are degenerate";
    EXPECT_LE(max_relative_diff(run_chunked(*l.model, tokens, {5, 3, 7}), whole), 1e-4);
    EXPECT_LE(max_relative_diff(run_chunked(*l.model, tokens, {1}), whole), 1e-4);
}

TEST_P(ForwardProperties, SequencesInOneBatchAreIndependent) {
    cpu::CpuBackend backend({.threads = 2});
    Loaded l = load(GetParam().shape, backend);
    ASSERT_TRUE(l.model);
    const int n_vocab = static_cast<int>(l.model->hparams().n_vocab);
    const auto a = prompt_tokens(9, n_vocab);
    std::vector<int32_t> b;
    for (int i = 0; i < 13; ++i) b.push_back((i * 53 + 5) % n_vocab);
    const auto alone_a = run_chunked(*l.model, a, {a.size()});
    const auto alone_b = run_chunked(*l.model, b, {b.size()});

    auto engine = engine::Engine::create(*l.model, {.n_ctx = 32, .n_batch = 64, .max_sequences = 2, .block_size = 4, .kv_type = KvType::F32});
    ASSERT_TRUE(engine.ok());
    // Interleave the two sequences in one flat batch; b's blocks are taken first.
    std::vector<engine::BatchToken> batch;
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        if (i < b.size()) batch.push_back({b[i], 1, static_cast<int32_t>(i), true});
        if (i < a.size()) batch.push_back({a[i], 0, static_cast<int32_t>(i), true});
    }
    std::vector<float> logits;
    auto st = engine->step(batch, logits);
    ASSERT_TRUE(st.ok()) << st.error().message;
    std::vector<float> mixed_a, mixed_b;
    for (size_t r = 0; r < batch.size(); ++r) {
        auto& dst = batch[r].seq == 0 ? mixed_a : mixed_b;
        dst.insert(dst.end(), logits.begin() + r * n_vocab, logits.begin() + (r + 1) * n_vocab);
    }
    EXPECT_LE(max_relative_diff(mixed_a, alone_a), 1e-4);
    EXPECT_LE(max_relative_diff(mixed_b, alone_b), 1e-4);
}

TEST_P(ForwardProperties, F16CacheStaysClose) {
    cpu::CpuBackend backend({.threads = 2});
    Loaded l = load(GetParam().shape, backend);
    ASSERT_TRUE(l.model);
    const auto tokens = prompt_tokens(17, static_cast<int>(l.model->hparams().n_vocab));
    const auto f32 = run_chunked(*l.model, tokens, {4});
    const auto f16 = run_chunked(*l.model, tokens, {4}, KvType::F16);
    // Rounding keys and values to f16 changes activations by ~5e-4; where activations are then
    // rounded to 8 bits (Q8_0 weights) some of them move by a whole step, so those models get
    // a looser bound. The comparison is on the whole logit set.
    const bool float_weights = GetParam().shape.type == TensorType::F32;
    EXPECT_LE(rms_relative_diff(f16, f32), float_weights ? 2e-3 : 3e-2);
}

// A model read into memory has its Q4_0 weights interleaved for the kernels (on CPUs with those
// kernels); its logits must be bit-identical to the mapped file's, also with a tied embedding
// table that serves both row lookups and the output product.
TEST(ForwardRepacking, InterleavedWeightsGiveTheSameLogits) {
    for (bool tied : {false, true}) {
        SCOPED_TRACE(tied ? "tied embeddings" : "separate output");
        auto bytes = test::SyntheticModel({.arch = "llama", .type = TensorType::Q4_0, .tied = tied}).build();
        ASSERT_TRUE(bytes.ok()) << bytes.error().message;
        const auto path = (std::filesystem::temp_directory_path() / "rf_repack_test.gguf").string();
        {
            std::ofstream out(path, std::ios::binary);
            out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
            ASSERT_TRUE(out.good());
        }
        std::vector<std::vector<float>> logits;
        std::vector<std::vector<uint8_t>> ffn_up;
        for (FileLoad load : {FileLoad::Map, FileLoad::Copy}) {
            cpu::CpuBackend backend({.threads = 2});
            auto file = gguf::File::open(path, load);
            ASSERT_TRUE(file.ok()) << file.error().message;
            auto model = model::load_model(*file, backend);
            ASSERT_TRUE(model.ok()) << model.error().message;
            const auto tokens = prompt_tokens(19, static_cast<int>((*model)->hparams().n_vocab));
            logits.push_back(run_chunked(**model, tokens, {5, 1, 13}));
            const gguf::TensorInfo* t = file->find_tensor("blk.0.ffn_up.weight");
            ASSERT_NE(t, nullptr);
            ffn_up.emplace_back(t->data, t->data + t->n_bytes);
        }
        std::filesystem::remove(path);
        EXPECT_EQ(ffn_up[0] != ffn_up[1], cpu::can_tile(TensorType::Q4_0)) << "the copy was not rearranged";
        ASSERT_EQ(logits[0].size(), logits[1].size());
        int differing = 0;
        for (size_t i = 0; i < logits[0].size(); ++i) differing += logits[0][i] != logits[1][i];
        EXPECT_EQ(differing, 0);
    }
}

INSTANTIATE_TEST_SUITE_P(Architectures, ForwardProperties, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace rf
