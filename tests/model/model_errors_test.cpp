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

TEST(ModelErrors, BadTokensAndOverlongPromptsAreRefused) {
    cpu::CpuBackend backend({.threads = 1});
    test::SyntheticModel synth({});
    std::vector<uint8_t> storage;
    std::unique_ptr<gguf::File> file;
    auto model = load_with(synth, backend, storage, file);
    ASSERT_TRUE(model.ok()) << model.error().message;
    auto engine = engine::Engine::create(**model, backend, {.n_ctx = 8, .n_batch = 4, .max_sequences = 1, .block_size = 4, .kv_type = KvType::F32});
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
