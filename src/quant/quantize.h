// Reference quantization: turns f32 rows into GGUF blocks. The weight formats search their block
// scales for the smallest squared error (scale_search.h; not ggml's code, and on the quant zoo
// never worse than the reference files). The 8-bit activation formats Q8_0, Q8_1 and Q8_K round
// exactly as ggml's reference does, so CPU kernels that quantize activations can reproduce its
// results (the one difference: a Q8_0/Q8_1 scale beyond the F16 range saturates instead of
// becoming Inf).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.h"
#include "gguf/tensor_type.h"

namespace rf::quant {

// F32, F64, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
// IQ4_NL, IQ4_XS, TQ1_0, TQ2_0 and MXFP4. (Not the lattice IQ types nor the integer types.)
bool can_quantize(TensorType type);

// Bytes of `n_elements` values of `type`; an Error when n_elements is not a whole number of blocks.
Result<size_t> quantized_size(TensorType type, size_t n_elements);

// Quantizes `src` (a whole number of blocks) into `dst`, which must be exactly
// quantized_size(type, src.size()) bytes. For the block types every input must be finite
// (an Error names the first that is not); F32/F64/F16/BF16 convert any value.
Status quantize_row(TensorType type, std::span<const float> src, std::span<uint8_t> dst);

}  // namespace rf::quant
