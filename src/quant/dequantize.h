// Reference dequantization: scalar, plainly written, and bit-exact with ggml's reference
// dequantizers (each value is computed with the same float operations in the same order).
// Backends' fast kernels are tested against these functions.
#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"
#include "gguf/tensor_type.h"

namespace rf::quant {

// True for every type dequantize_row accepts: all float, integer and quantized GGUF types.
bool can_dequantize(TensorType type);

// Converts `dst.size()` values (a whole number of blocks) stored as `type` in `src` to f32.
// `src` must hold exactly the bytes of dst.size() values; any mismatch is an Error.
// Integer types (I8..I64) convert by value (I32/I64 round to the nearest float).
Status dequantize_row(TensorType type, std::span<const uint8_t> src, std::span<float> dst);

// Dot product of a row stored as `type` with `x`: the dequantized row (exactly as from
// dequantize_row) times x, products and sum in double, in element order.
// `row` must hold exactly the bytes of x.size() values.
Result<double> dot_row(TensorType type, std::span<const uint8_t> row, std::span<const float> x);

}  // namespace rf::quant
