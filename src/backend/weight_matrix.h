// A weight matrix as backends see it: `rows` rows of `cols` values each, stored in `type` blocks,
// row r at data + r * row_bytes. (In ggml order a 2-D tensor's shape is {cols, rows}.) Mixtures of
// experts stack `count` such matrices back to back (a 3-D tensor {cols, rows, count}): matrix e
// starts at data + e * rows * row_bytes, so that a grouped product finds every expert in one place.
//
// `storage` owns the bytes when the backend copied them (device memory); it is empty when `data`
// points into the model file. Copies of a WeightMatrix share the storage.
//
// A backend may rearrange the bytes when it imports the matrix (the CPU interleaves rows for its
// kernels); `layout` then holds a value of that backend's own, and only that backend reads such a
// matrix, through its own accessors. Everyone else sees WeightLayout::Rows: rows as in the file.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/device_buffer.h"
#include "gguf/tensor_type.h"

namespace rf {

// Rows as in the file; other values are private to the backend that imported the matrix.
enum class WeightLayout : uint8_t { Rows = 0 };

struct WeightMatrix {
    TensorType type = TensorType::F32;
    const uint8_t* data = nullptr;  // backend memory; on the CPU, the model file's bytes
    int64_t cols = 0;               // inputs: length of one row
    int64_t rows = 0;               // outputs
    size_t row_bytes = 0;
    WeightLayout layout = WeightLayout::Rows;
    int64_t count = 1;              // stacked matrices (experts), each of `rows` rows
    DeviceBuffer storage = {};      // owner of `data` when the backend copied it

    size_t matrix_bytes() const { return static_cast<size_t>(rows) * row_bytes; }
    // Matrix e of a stack, sharing its storage.
    WeightMatrix matrix(int64_t e) const {
        WeightMatrix m = *this;
        m.data = data + static_cast<size_t>(e) * matrix_bytes();
        m.count = 1;
        return m;
    }

    // Row r as stored in the file (for layout Rows; a backend's own layout has its own accessors).
    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

}  // namespace rf
