// Finds a model's tensors by name, checks their shapes against the hyper-parameters and hands
// them to the backend the placement gives their part of the model (a layer's tensors to its
// layer's backend, token_embd to the embedding's, output and output_norm to the output head's):
// matrices stay in the file mapping (on the CPU; a GPU backend copies them and the matrix owns
// the copy), 1-D parameters (norm weights, biases) are converted to f32 in backend memory.
//
// A tensor-parallel rank (the placement's shard) takes its share of each tensor: the rows of Q, K,
// V, gate and up and of their biases (column-parallel products), the columns of the attention
// output and down projections (row-parallel: each rank's product is a partial sum), the output
// head's run of the vocabulary; everything else (embedding, norms, router) whole. A share is copied
// out of the file once: the backend keeps the copy (the CPU computes from it) or its own.
#pragma once

#include <map>
#include <span>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "model/placement.h"
#include "model/tensor_names.h"

namespace rf::model {

class WeightLoader {
public:
    WeightLoader(const gguf::File& file, const Placement& placement) : file_(file), placement_(placement) {}

    bool has(TensorName name, int64_t layer = -1) const;
    // A matrix of `rows` outputs by `cols` inputs (ggml shape {cols, rows}). When its rows are
    // several matrices fused (Q, K and V; gate and up), `row_groups` gives their heights, and a
    // rank takes its share of each.
    Result<WeightMatrix> matrix(TensorName name, int64_t layer, int64_t cols, int64_t rows,
                                std::span<const int64_t> row_groups = {});
    // `count` matrices stacked in one 3-D tensor of shape {cols, rows, count} (experts), imported
    // whole so that a backend can keep them together (a rank's share of each, stacked).
    Result<WeightMatrix> stacked(TensorName name, int64_t layer, int64_t cols, int64_t rows, int64_t count);
    Result<ParamVector> vector(TensorName name, int64_t layer, int64_t size);
    // An empty ParamVector when the tensor is absent.
    Result<ParamVector> optional_vector(TensorName name, int64_t layer, int64_t size);
    // A model-wide vector (no layer in its name, e.g. rope_freqs) in the memory of the backend of
    // `used_by_layer`, converted once per backend; empty when the tensor is absent.
    Result<ParamVector> optional_shared_vector(TensorName name, int64_t used_by_layer, int64_t size);
    // The output head's copy of the embedding table (models that tie them): `embedding` itself when
    // the embedding and the output head share a backend.
    Result<WeightMatrix> tied_output(const WeightMatrix& embedding, int64_t cols, int64_t rows);

    // The backend memory of the converted vectors; the model keeps it.
    std::vector<DeviceBuffer> take_buffers() { return std::move(buffers_); }

private:
    // Which rows (runs of [first, first + count)) and columns of each stacked matrix a rank takes.
    struct Share {
        std::vector<std::pair<int64_t, int64_t>> row_runs;
        int64_t col_first = 0, cols = 0;
    };
    Result<Share> share_of(TensorName name, int64_t cols, int64_t rows, std::span<const int64_t> row_groups) const;
    // Imports `host` (the file's bytes) on `backend`, or the rank's share of it.
    Result<WeightMatrix> import(Backend& backend, const WeightMatrix& host, const Share& share, bool writable);
    Result<const gguf::TensorInfo*> find(TensorName name, int64_t layer, std::vector<uint64_t> shape) const;
    // Which part of the placement holds the tensor.
    int part_of(TensorName name, int64_t layer) const;
    Result<ParamVector> upload_vector(const gguf::TensorInfo& t, Backend& backend, int64_t first, int64_t count);

    const gguf::File& file_;
    const Placement& placement_;
    std::vector<DeviceBuffer> buffers_;
    std::map<std::pair<TensorName, int>, ParamVector> shared_;
};

}  // namespace rf::model
