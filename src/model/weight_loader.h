// Finds a model's tensors by name, checks their shapes against the hyper-parameters and hands
// them to the backend: matrices stay in the file mapping (on the CPU; a GPU backend copies them
// and the matrix owns the copy), 1-D parameters (norm weights, biases) are converted to f32 in
// backend memory.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "model/tensor_names.h"

namespace rf::model {

class WeightLoader {
public:
    WeightLoader(const gguf::File& file, Backend& backend) : file_(file), backend_(backend) {}

    bool has(TensorName name, int64_t layer = -1) const;
    // A matrix of `rows` outputs by `cols` inputs (ggml shape {cols, rows}).
    Result<WeightMatrix> matrix(TensorName name, int64_t layer, int64_t cols, int64_t rows);
    // `count` matrices stacked in one 3-D tensor of shape {cols, rows, count} (experts), imported
    // whole so that a backend can keep them together.
    Result<WeightMatrix> stacked(TensorName name, int64_t layer, int64_t cols, int64_t rows, int64_t count);
    Result<ParamVector> vector(TensorName name, int64_t layer, int64_t size);
    // An empty ParamVector when the tensor is absent.
    Result<ParamVector> optional_vector(TensorName name, int64_t layer, int64_t size);

    // The backend memory of the converted vectors; the model keeps it.
    std::vector<DeviceBuffer> take_buffers() { return std::move(buffers_); }

private:
    Result<const gguf::TensorInfo*> find(TensorName name, int64_t layer, std::vector<uint64_t> shape) const;

    const gguf::File& file_;
    Backend& backend_;
    std::vector<DeviceBuffer> buffers_;
};

}  // namespace rf::model
