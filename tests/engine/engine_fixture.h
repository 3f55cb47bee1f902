// A small synthetic model with a byte-level vocabulary, loaded on the test backend (the CPU unless
// ROCMFORGE_TEST_DEVICE says otherwise), for engine tests that need real forward passes but no
// reference data.
#pragma once

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "model/registry.h"
#include "tokenizer/tokenizer.h"
#include "model/synthetic_model.h"
#include "support/test_backend.h"

namespace rf::engine::test {

struct TinyModel {
    std::unique_ptr<Backend> backend = rf::test::make_test_backend({.threads = 2}, /*batch_invariant=*/true);
    std::vector<uint8_t> bytes;
    std::unique_ptr<gguf::File> file;
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tokenizer::Tokenizer> tok;

    explicit TinyModel(TensorType type = TensorType::Q8_0, int64_t n_embd = 64) {
        auto built = rf::test::SyntheticModel({.n_embd = n_embd, .n_vocab = 300, .type = type, .vocab = true}).build();
        EXPECT_TRUE(built.ok()) << built.error().message;
        bytes = std::move(*built);
        auto f = gguf::File::parse(bytes, "synthetic");
        EXPECT_TRUE(f.ok()) << f.error().message;
        file = std::make_unique<gguf::File>(std::move(*f));
        auto m = model::load_model(*file, *backend);
        EXPECT_TRUE(m.ok()) << m.error().message;
        model = std::move(*m);
        auto t = tokenizer::Tokenizer::from_gguf(*file);
        EXPECT_TRUE(t.ok()) << t.error().message;
        tok = std::make_unique<tokenizer::Tokenizer>(std::move(*t));
    }

    std::unique_ptr<Engine> engine(EngineOptions o) {
        auto e = Engine::create(*model, o);
        EXPECT_TRUE(e.ok()) << e.error().message;
        return std::make_unique<Engine>(std::move(*e));
    }
};

// The smallest cache shape: one layer, one KV head of 4 values.
inline model::HParams tiny_hparams() {
    model::HParams hp;
    hp.n_layer = 1;
    hp.n_head_kv = 1;
    hp.head_dim_k = hp.head_dim_v = 4;
    return hp;
}

}  // namespace rf::engine::test
