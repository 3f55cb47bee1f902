// Conformance: every GGUF file under ../shared parses and its tensors lie inside the file.
#include <filesystem>

#include <gtest/gtest.h>

#include "gguf/reader.h"
#include "support/shared_data.h"

namespace rf::gguf {
namespace {

TEST(SharedGgufFiles, EveryFileParses) {
    RF_REQUIRE_SHARED();
    int files = 0;
    for (const char* dir : {"models", "tokenizer", "quant"}) {
        for (const auto& entry : std::filesystem::directory_iterator(test::shared_path(dir))) {
            if (entry.path().extension() != ".gguf") continue;
            auto file = File::open(entry.path().string());
            ASSERT_TRUE(file.ok()) << file.error().message;
            ++files;
            uint64_t tensor_bytes = 0;
            for (const auto& t : file->tensors()) tensor_bytes += t.n_bytes;
            EXPECT_LE(file->data_offset() + tensor_bytes, file->file_size()) << entry.path();
            if (std::string(dir) != "quant") {
                EXPECT_TRUE(file->has("tokenizer.ggml.model")) << entry.path();
            }
            if (std::string(dir) == "models") {
                EXPECT_FALSE(file->architecture().empty());
                EXPECT_TRUE(file->get_uint(file->architecture() + ".block_count").ok());
            }
        }
    }
    EXPECT_GE(files, 18);
}

TEST(SharedGgufFiles, QuantZooHoldsEveryFormat) {
    RF_REQUIRE_SHARED();
    auto file = File::open(test::shared_path("quant/quant-zoo.gguf").string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    const TensorInfo* src = file->find_tensor("src");
    ASSERT_NE(src, nullptr);
    EXPECT_EQ(src->shape, (std::vector<uint64_t>{1024, 8}));
    // Each q.T tensor is of type T (names as ggml spells them, e.g. q.q4_K), with deq.T and y.T beside it.
    int formats = 0;
    for (const auto& t : file->tensors()) {
        if (!t.name.starts_with("q.")) continue;
        std::string type = t.name.substr(2);
        EXPECT_EQ(tensor_type_from_name(type), t.type) << t.name;
        EXPECT_NE(file->find_tensor("deq." + type), nullptr) << t.name;
        EXPECT_NE(file->find_tensor("y." + type), nullptr) << t.name;
        ++formats;
    }
    EXPECT_EQ(formats, 24);
}

}  // namespace
}  // namespace rf::gguf
