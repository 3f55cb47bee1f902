// A weight matrix as backends see it: `rows` rows of `cols` values each, stored in `type` blocks,
// row r at data + r * row_bytes. (In ggml order a 2-D tensor's shape is {cols, rows}.)
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace rf {

struct WeightMatrix {
    TensorType type = TensorType::F32;
    const uint8_t* data = nullptr;  // backend memory; on the CPU, the model file's mapping
    int64_t cols = 0;               // inputs: length of one row
    int64_t rows = 0;               // outputs
    size_t row_bytes = 0;

    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

}  // namespace rf
