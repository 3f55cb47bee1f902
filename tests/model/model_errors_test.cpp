// Loading fails with a clear message for missing or inconsistent metadata, wrong tensor shapes and
// unsupported architectures; bad batches are refused.
#include <functional>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "synthetic_model.h"

namespace rf {
namespace {

Result<std::unique_ptr<model::Model>> load_with(test::SyntheticModel& synth, Backend& backend,
                                                std::vector<uint8_t>& storage, std::unique_ptr<gguf::File>& file) {
    RF_ASSIGN_OR_RETURN(storage, synth.build());
    RF_ASSIGN_OR_RETURN(gguf::File parsed, gguf::File::parse(storage, "synthetic"));
    file = std::make_unique<gguf::File>(std::move(parsed));
    return model::load_model(*file, backend);
}

std::string load_error(test::SyntheticShape shape, const std::function<void(gguf::Writer&)>& edit = {}) {
    cpu::CpuBackend backend({.threads = 1});
    test::SyntheticModel synth(shape);
    std::vector<uint8_t> storage;
    std::unique_ptr<gguf::File> file;
    // Edits are applied after the standard keys by building twice: once to fill, once to edit.
    auto bytes = synth.build();
    if (!bytes.ok()) return "build failed: " + bytes.error().message;
    if (edit) edit(synth.writer());
    auto edited = synth.writer().to_bytes();
    if (!edited.ok()) return "build failed: " + edited.error().message;
    storage = std::move(*edited);
    auto parsed = gguf::File::parse(storage, "synthetic");
    if (!parsed.ok()) return parsed.error().message;
    auto model = model::load_model(*parsed, backend);
    return model.ok() ? "" : model.error().message;
}

TEST(ModelErrors, ValidModelsLoad) {
    for (std::string arch : {"llama", "qwen2", "qwen3", "phi3", "gemma2"})
        EXPECT_EQ(load_error({.arch = arch}), "") << arch;
}

TEST(ModelErrors, UnsupportedArchitectureIsNamed) {
    const std::string e = load_error({.arch = "mamba"});
    EXPECT_NE(e.find("'mamba' is not supported"), std::string::npos) << e;
    EXPECT_NE(e.find("llama"), std::string::npos) << e;
}

TEST(ModelErrors, MissingKeyIsNamed) {
    const std::string e = load_error({}, [](gguf::Writer& w) {
        w.set("llama.block_count", gguf::Value::string("two"));
    });
    EXPECT_NE(e.find("llama.block_count"), std::string::npos) << e;
}

TEST(ModelErrors, InconsistentHeadsAreRefused) {
    const std::string e = load_error({}, [](gguf::Writer& w) { w.set("llama.attention.head_count_kv", gguf::Value::u32(3)); });
    EXPECT_NE(e.find("KV heads"), std::string::npos) << e;
}

TEST(ModelErrors, ShapeMismatchNamesTheTensor) {
    // 64 embedding values but 8 heads of 16 would need q rows of 128.
    const std::string e = load_error({}, [](gguf::Writer& w) { w.set("llama.attention.head_count", gguf::Value::u32(8)); });
    EXPECT_NE(e.find("blk.0.attn_q.weight"), std::string::npos) << e;
}

TEST(ModelErrors, RopeLargerThanHeadIsRefused) {
    const std::string e = load_error({}, [](gguf::Writer& w) { w.set("llama.rope.dimension_count", gguf::Value::u32(64)); });
    EXPECT_NE(e.find("rope.dimension_count"), std::string::npos) << e;
}

// Heads of (2^29 + 2^15 + 1) values, 64 * (2^29 - 2^15 + 1) of them: the product is 2^64 + 64,
// which wraps to the 64 query rows the synthetic tensors have. The counts must be refused on their
// own, before any product is formed.
TEST(ModelErrors, HeadProductsThatWrapAreRefused) {
    const uint64_t x = (uint64_t{1} << 29) - (uint64_t{1} << 15) + 1, head = (uint64_t{1} << 29) + (uint64_t{1} << 15) + 1;
    const std::string e = load_error({}, [&](gguf::Writer& w) {
        w.set("llama.attention.head_count", gguf::Value::u64(64 * x));
        w.set("llama.attention.head_count_kv", gguf::Value::u64(32 * x));
        w.set("llama.attention.key_length", gguf::Value::u64(head));
        w.set("llama.attention.value_length", gguf::Value::u64(head));
    });
    EXPECT_NE(e.find("llama.attention.head_count = 34357641280 is not a usable value"), std::string::npos) << e;
}

// Each hyper-parameter has its own bound (model/hparams.h); a value past it is named with its key,
// not found later as a tensor that does not match.
TEST(ModelErrors, ValuesBeyondTheirBoundsNameKeyAndValue) {
    const uint64_t big = uint64_t{1} << 40;
    for (std::string key : {"context_length", "embedding_length", "block_count", "feed_forward_length",
                            "attention.key_length", "attention.value_length", "attention.sliding_window",
                            "expert_count", "rope.dimension_count", "rope.scaling.original_context_length"}) {
        const std::string e = load_error({}, [&](gguf::Writer& w) { w.set("llama." + key, gguf::Value::u64(big)); });
        EXPECT_NE(e.find("llama." + key + " = 1099511627776 is not a usable value"), std::string::npos) << e;
    }
}

// expert_used_count sizes the forward state's rows even for a dense model, so it must be 0 there.
TEST(ModelErrors, ExpertsUsedByADenseModelAreRefused) {
    const std::string e = load_error({}, [](gguf::Writer& w) {
        w.set("llama.expert_used_count", gguf::Value::u64(uint64_t{1} << 14));
    });
    EXPECT_NE(e.find("llama.expert_used_count = 16384 but the model has no experts"), std::string::npos) << e;
}

// Finite f64 values that become infinite as f32 (and a scaling factor without an f32 inverse).
TEST(ModelErrors, FloatsThatOverflowF32AreRefused) {
    for (std::string key : {"rope.freq_base", "attention.layer_norm_rms_epsilon", "attn_logit_softcapping"}) {
        const std::string e = load_error({}, [&](gguf::Writer& w) { w.set("llama." + key, gguf::Value::f64(1e300)); });
        EXPECT_NE(e.find("llama." + key + " = 1e+300 is not a finite f32"), std::string::npos) << e;
    }
    const std::string e = load_error({}, [](gguf::Writer& w) {
        w.set("llama.rope.scaling.type", gguf::Value::string("linear"));
        w.set("llama.rope.scaling.factor", gguf::Value::f32(1e-45f));
    });
    EXPECT_NE(e.find("needs a positive llama.rope.scaling.factor"), std::string::npos) << e;
}

TEST(ModelErrors, BadTokensAndOverlongPromptsAreRefused) {
    cpu::CpuBackend backend({.threads = 1});
    test::SyntheticModel synth({});
    std::vector<uint8_t> storage;
    std::unique_ptr<gguf::File> file;
    auto model = load_with(synth, backend, storage, file);
    ASSERT_TRUE(model.ok()) << model.error().message;
    auto engine = engine::Engine::create(**model, {.n_ctx = 8, .n_batch = 4, .max_sequences = 1, .block_size = 4, .kv_type = KvType::F32});
    ASSERT_TRUE(engine.ok());
    std::vector<float> logits;
    const std::vector<int32_t> bad = {1, 100000};
    auto st = engine->feed(0, bad, false, logits);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("outside the vocabulary"), std::string::npos) << st.error().message;
    const std::vector<int32_t> long_prompt(9, 1);
    st = engine->feed(0, long_prompt, false, logits);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("context"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace rf
