// Internal: the per-type block codecs that dequantize.cpp / quantize.cpp dispatch to, one list per
// format family (each family's .cpp file defines its list).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/tensor_type.h"

namespace rf::quant::detail {

struct Codec {
    TensorType type;
    // Converts n_blocks consecutive blocks; sizes were checked by the caller.
    void (*dequantize)(const uint8_t* src, float* dst, size_t n_blocks);
    // nullptr where there is no quantizer. Inputs are finite for the block types.
    void (*quantize)(const float* src, uint8_t* dst, size_t n_blocks);
};

std::span<const Codec> plain_codecs();           // plain.cpp: F32, F16, BF16, F64, I8..I64
std::span<const Codec> legacy_codecs();          // legacy.cpp: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1
std::span<const Codec> kquant_codecs();          // kquants.cpp: Q2_K..Q6_K, Q8_K
std::span<const Codec> iquant_codecs();          // iquants.cpp: IQ1_S..IQ4_XS
std::span<const Codec> ternary_mxfp4_codecs();   // ternary_mxfp4.cpp: TQ1_0, TQ2_0, MXFP4

// nullptr for a type no family handles.
const Codec* find_codec(TensorType type);

}  // namespace rf::quant::detail
