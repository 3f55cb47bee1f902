// A weight matrix as backends see it: `rows` rows of `cols` values each, stored in `type` blocks,
// row r at data + r * row_bytes. (In ggml order a 2-D tensor's shape is {cols, rows}.)
//
// A backend may rearrange the bytes when it imports the matrix (layout Tiles16: each group of 16
// consecutive rows interleaved block by block for its kernels; the bytes of a group stay where
// the group's rows were, and the rows past the last whole group stay as they are). Only that
// backend reads such a matrix, through its own accessors.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace rf {

enum class WeightLayout {
    Rows,     // as in the file
    Tiles16,  // groups of 16 rows interleaved by the CPU backend (backend/cpu/kernels/weight_tiles.h)
};

struct WeightMatrix {
    TensorType type = TensorType::F32;
    const uint8_t* data = nullptr;  // backend memory; on the CPU, the model file's bytes
    int64_t cols = 0;               // inputs: length of one row
    int64_t rows = 0;               // outputs
    size_t row_bytes = 0;
    WeightLayout layout = WeightLayout::Rows;

    // Row r as stored in the file (for layout Rows, or a row past the last whole group of 16).
    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

}  // namespace rf
