#include "gguf/tensor_type.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/checked_math.h"

namespace rf {
namespace {

// Block layouts follow ggml's block structs (bytes = sum of the fields, no padding).
constexpr std::array kTypes = {
    TensorTypeInfo{TensorType::F32, "F32", 1, 4, false},
    TensorTypeInfo{TensorType::F16, "F16", 1, 2, false},
    TensorTypeInfo{TensorType::Q4_0, "Q4_0", 32, 18, true},
    TensorTypeInfo{TensorType::Q4_1, "Q4_1", 32, 20, true},
    TensorTypeInfo{TensorType::Q5_0, "Q5_0", 32, 22, true},
    TensorTypeInfo{TensorType::Q5_1, "Q5_1", 32, 24, true},
    TensorTypeInfo{TensorType::Q8_0, "Q8_0", 32, 34, true},
    TensorTypeInfo{TensorType::Q8_1, "Q8_1", 32, 36, true},
    TensorTypeInfo{TensorType::Q2_K, "Q2_K", 256, 84, true},
    TensorTypeInfo{TensorType::Q3_K, "Q3_K", 256, 110, true},
    TensorTypeInfo{TensorType::Q4_K, "Q4_K", 256, 144, true},
    TensorTypeInfo{TensorType::Q5_K, "Q5_K", 256, 176, true},
    TensorTypeInfo{TensorType::Q6_K, "Q6_K", 256, 210, true},
    TensorTypeInfo{TensorType::Q8_K, "Q8_K", 256, 292, true},
    TensorTypeInfo{TensorType::IQ2_XXS, "IQ2_XXS", 256, 66, true},
    TensorTypeInfo{TensorType::IQ2_XS, "IQ2_XS", 256, 74, true},
    TensorTypeInfo{TensorType::IQ3_XXS, "IQ3_XXS", 256, 98, true},
    TensorTypeInfo{TensorType::IQ1_S, "IQ1_S", 256, 50, true},
    TensorTypeInfo{TensorType::IQ4_NL, "IQ4_NL", 32, 18, true},
    TensorTypeInfo{TensorType::IQ3_S, "IQ3_S", 256, 110, true},
    TensorTypeInfo{TensorType::IQ2_S, "IQ2_S", 256, 82, true},
    TensorTypeInfo{TensorType::IQ4_XS, "IQ4_XS", 256, 136, true},
    TensorTypeInfo{TensorType::I8, "I8", 1, 1, false},
    TensorTypeInfo{TensorType::I16, "I16", 1, 2, false},
    TensorTypeInfo{TensorType::I32, "I32", 1, 4, false},
    TensorTypeInfo{TensorType::I64, "I64", 1, 8, false},
    TensorTypeInfo{TensorType::F64, "F64", 1, 8, false},
    TensorTypeInfo{TensorType::IQ1_M, "IQ1_M", 256, 56, true},
    TensorTypeInfo{TensorType::BF16, "BF16", 1, 2, false},
    TensorTypeInfo{TensorType::TQ1_0, "TQ1_0", 256, 54, true},
    TensorTypeInfo{TensorType::TQ2_0, "TQ2_0", 256, 66, true},
    TensorTypeInfo{TensorType::MXFP4, "MXFP4", 32, 17, true},
};

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
    });
}

}  // namespace

std::span<const TensorTypeInfo> all_tensor_types() { return kTypes; }

const TensorTypeInfo* tensor_type_info(uint32_t id) {
    for (const auto& info : kTypes) {
        if (static_cast<uint32_t>(info.type) == id) return &info;
    }
    return nullptr;
}

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
    for (const auto& info : kTypes) {
        if (iequals(info.name, name)) return info.type;
    }
    return std::nullopt;
}

std::optional<uint64_t> tensor_bytes(TensorType type, uint64_t n_elements) {
    const TensorTypeInfo& info = tensor_type_info(type);
    if (n_elements % info.block_size != 0) return std::nullopt;
    return checked_mul(n_elements / info.block_size, info.block_bytes);
}

}  // namespace rf
