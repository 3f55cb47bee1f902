// The ggml tensor types a GGUF file can hold: one table with each type's id, name and block layout.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace rf {

// Values are the ids stored in GGUF files; gaps are ids ggml has retired.
enum class TensorType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
    IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TensorTypeInfo {
    TensorType type;
    std::string_view name;       // as ggml spells it, e.g. "Q4_K"
    uint32_t block_size;         // elements per block (1 for plain types)
    uint32_t block_bytes;        // bytes per block
    bool quantized;
};

// Every known type, in id order.
std::span<const TensorTypeInfo> all_tensor_types();

// nullptr for an id no ggml version defines (or one it has retired).
const TensorTypeInfo* tensor_type_info(uint32_t id);
inline const TensorTypeInfo& tensor_type_info(TensorType type) {
    return *tensor_type_info(static_cast<uint32_t>(type));
}
std::optional<TensorType> tensor_type_from_name(std::string_view name);  // case-insensitive
inline std::string_view tensor_type_name(TensorType type) { return tensor_type_info(type).name; }

// Bytes of `n_elements` values (a whole number of blocks), or nullopt when n_elements is not a
// multiple of the block size or the size overflows.
std::optional<uint64_t> tensor_bytes(TensorType type, uint64_t n_elements);

}  // namespace rf
