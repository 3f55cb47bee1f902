#include "model/weight_loader.h"

#include <fmt/ranges.h>

#include "quant/dequantize.h"

namespace rf::model {

bool WeightLoader::has(TensorName name, int64_t layer) const {
    return file_.find_tensor(tensor_name(name, layer)) != nullptr;
}

Result<const gguf::TensorInfo*> WeightLoader::find(TensorName name, int64_t layer, std::vector<uint64_t> shape) const {
    const std::string full = tensor_name(name, layer);
    const gguf::TensorInfo* t = file_.find_tensor(full);
    if (!t) return make_error("{}: tensor {} is missing", file_.path(), full);
    // Trailing dimensions of 1 are equivalent (a vector may be stored as {n, 1}).
    std::vector<uint64_t> actual = t->shape;
    while (actual.size() > shape.size() && actual.back() == 1) actual.pop_back();
    if (actual != shape)
        return make_error("{}: tensor {} has shape [{}], the hyper-parameters imply [{}]", file_.path(), full,
                          fmt::join(t->shape, ", "), fmt::join(shape, ", "));
    if (!quant::can_dequantize(t->type))
        return make_error("{}: tensor {} has type {}, which cannot be computed with", file_.path(), full,
                          tensor_type_name(t->type));
    return t;
}

int WeightLoader::part_of(TensorName name, int64_t layer) const {
    if (layer >= 0) return placement_.layers[static_cast<size_t>(layer)];
    if (name == TensorName::Output || name == TensorName::OutputNorm) return placement_.output;
    return placement_.input;
}

Result<WeightMatrix> WeightLoader::matrix(TensorName name, int64_t layer, int64_t cols, int64_t rows) {
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                        find(name, layer, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}));
    const WeightMatrix host{.type = t->type,
                            .data = t->data,
                            .cols = cols,
                            .rows = rows,
                            .row_bytes = static_cast<size_t>(t->n_bytes / rows)};
    // A CPU backend may rearrange writable bytes in place for its kernels: never those that a
    // second backend still has to import (the embedding of a model that ties it to the output).
    const bool shared = name == TensorName::TokenEmbd && placement_.input != placement_.output;
    return placement_.backend(part_of(name, layer)).import_weight(host, file_.owns_bytes() && !shared);
}

Result<WeightMatrix> WeightLoader::tied_output(const WeightMatrix& embedding, int64_t cols, int64_t rows) {
    if (placement_.input == placement_.output) return embedding;
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                        find(TensorName::TokenEmbd, -1, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}));
    const WeightMatrix host{.type = t->type,
                            .data = t->data,
                            .cols = cols,
                            .rows = rows,
                            .row_bytes = static_cast<size_t>(t->n_bytes / rows)};
    return placement_.backend(placement_.output).import_weight(host, false);
}

Result<WeightMatrix> WeightLoader::stacked(TensorName name, int64_t layer, int64_t cols, int64_t rows, int64_t count) {
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                        find(name, layer,
                             {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows), static_cast<uint64_t>(count)}));
    const size_t row_bytes = t->n_bytes / static_cast<uint64_t>(rows * count);
    const WeightMatrix host{.type = t->type, .data = t->data, .cols = cols, .rows = rows, .row_bytes = row_bytes,
                            .count = count};
    return placement_.backend(part_of(name, layer)).import_weight(host, file_.owns_bytes());
}

Result<ParamVector> WeightLoader::upload_vector(const gguf::TensorInfo& t, Backend& backend) {
    std::vector<float> values(static_cast<size_t>(t.n_elements));
    RF_TRY(quant::dequantize_row(t.type, t.bytes(), values));
    RF_ASSIGN_OR_RETURN(DeviceBuffer buffer, backend.allocate(values.size() * sizeof(float)));
    RF_TRY(backend.upload(buffer, values.data(), values.size() * sizeof(float)));
    buffers_.push_back(buffer);
    return ParamVector{buffer.f32(), static_cast<int64_t>(values.size())};
}

Result<ParamVector> WeightLoader::vector(TensorName name, int64_t layer, int64_t size) {
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, layer, {static_cast<uint64_t>(size)}));
    return upload_vector(*t, placement_.backend(part_of(name, layer)));
}

Result<ParamVector> WeightLoader::optional_shared_vector(TensorName name, int64_t used_by_layer, int64_t size) {
    if (!has(name)) return ParamVector{};
    const int part = placement_.layers[static_cast<size_t>(used_by_layer)];
    if (auto it = shared_.find({name, part}); it != shared_.end()) return it->second;
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, -1, {static_cast<uint64_t>(size)}));
    RF_ASSIGN_OR_RETURN(ParamVector v, upload_vector(*t, placement_.backend(part)));
    shared_[{name, part}] = v;
    return v;
}

Result<ParamVector> WeightLoader::optional_vector(TensorName name, int64_t layer, int64_t size) {
    if (!has(name, layer)) return ParamVector{};
    return vector(name, layer, size);
}

}  // namespace rf::model
