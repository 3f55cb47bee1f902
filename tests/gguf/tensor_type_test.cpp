#include <set>

#include <gtest/gtest.h>

#include "gguf/tensor_type.h"

namespace rf {
namespace {

TEST(TensorTypes, TableCoversEveryGgmlType) {
    const std::set<std::string_view> expected = {
        "F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
        "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S",
        "IQ3_XXS", "IQ3_S", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4"};
    std::set<std::string_view> names;
    for (const auto& info : all_tensor_types()) {
        names.insert(info.name);
        EXPECT_EQ(tensor_type_info(static_cast<uint32_t>(info.type)), &info);
        EXPECT_EQ(tensor_type_from_name(info.name), info.type);
        EXPECT_EQ(info.quantized, info.block_size > 1) << info.name;
    }
    EXPECT_EQ(names, expected);
}

TEST(TensorTypes, KnownLayouts) {
    EXPECT_EQ(tensor_type_info(TensorType::Q4_0).block_bytes, 18u);
    EXPECT_EQ(tensor_type_info(TensorType::Q4_K).block_bytes, 144u);
    EXPECT_EQ(tensor_type_info(TensorType::Q6_K).block_bytes, 210u);
    EXPECT_EQ(tensor_type_info(TensorType::MXFP4).block_bytes, 17u);
    EXPECT_EQ(static_cast<uint32_t>(TensorType::MXFP4), 39u);
    EXPECT_EQ(tensor_bytes(TensorType::Q4_0, 64), 36u);
    EXPECT_EQ(tensor_bytes(TensorType::Q4_0, 33), std::nullopt);
    EXPECT_EQ(tensor_bytes(TensorType::F32, ~uint64_t{0}), std::nullopt);
    EXPECT_EQ(tensor_type_info(4), nullptr);  // retired Q4_2
    EXPECT_EQ(tensor_type_from_name("q4_k"), TensorType::Q4_K);
    EXPECT_EQ(tensor_type_from_name("Q9_9"), std::nullopt);
}

}  // namespace
}  // namespace rf
