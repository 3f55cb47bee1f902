#include "model/weight_loader.h"

#include <cstdlib>
#include <cstring>

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

namespace {

// How a tensor-parallel rank shares a tensor out (see the header).
enum class Split { Whole, Rows, Cols, Vocab };

Split split_of(TensorName name) {
    switch (name) {
    case TensorName::AttnQ: case TensorName::AttnK: case TensorName::AttnV: case TensorName::AttnQkv:
    case TensorName::AttnQBias: case TensorName::AttnKBias: case TensorName::AttnVBias:
    case TensorName::FfnGate: case TensorName::FfnUp: case TensorName::FfnGateExps: case TensorName::FfnUpExps:
        return Split::Rows;
    case TensorName::AttnOut: case TensorName::FfnDown: case TensorName::FfnDownExps:
        return Split::Cols;
    case TensorName::Output:
        return Split::Vocab;
    default:
        return Split::Whole;
    }
}

// Host memory for a share, aligned as the file's tensors are (the CPU's kernels load it in
// vectors), owned like backend memory.
Result<DeviceBuffer> host_bytes(size_t bytes) {
    constexpr size_t kAlign = 64;
    const size_t rounded = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
    void* memory = std::aligned_alloc(kAlign, rounded);
    if (!memory) return make_error("out of host memory: {} bytes wanted for a weight's share", bytes);
    return DeviceBuffer(std::shared_ptr<void>(memory, [](void* p) { std::free(p); }), bytes);
}

}  // namespace

Result<WeightLoader::Share> WeightLoader::share_of(TensorName name, int64_t cols, int64_t rows,
                                                   std::span<const int64_t> row_groups) const {
    const TensorShard& shard = placement_.shard;
    Share share{.row_runs = {{0, rows}}, .col_first = 0, .cols = cols};
    if (shard.whole()) return share;
    switch (split_of(name)) {
    case Split::Whole:
        break;
    case Split::Rows: {
        const int64_t whole_group[] = {rows};
        if (row_groups.empty()) row_groups = whole_group;
        share.row_runs.clear();
        int64_t first = 0;
        for (int64_t height : row_groups) {
            if (height % shard.world != 0)
                return make_error("{}: {} rows of {} do not split over {} ranks", file_.path(), height,
                                  tensor_base_name(name), shard.world);
            share.row_runs.emplace_back(first + shard.even_first(height), shard.even_count(height));
            first += height;
        }
        break;
    }
    case Split::Cols:
        if (cols % shard.world != 0)
            return make_error("{}: {} columns of {} do not split over {} ranks", file_.path(), cols,
                              tensor_base_name(name), shard.world);
        share.col_first = shard.even_first(cols);
        share.cols = shard.even_count(cols);
        break;
    case Split::Vocab:
        share.row_runs = {{shard.vocab_first(rows), shard.vocab_count(rows)}};
        break;
    }
    return share;
}

Result<WeightMatrix> WeightLoader::import(Backend& backend, const WeightMatrix& host, const Share& share,
                                          bool writable) {
    int64_t share_rows = 0;
    for (const auto& run : share.row_runs) share_rows += run.second;
    if (share_rows == host.rows && share.cols == host.cols) return backend.import_weight(host, writable);
    // Columns are cut on block boundaries: a quantized row is whole blocks.
    const TensorTypeInfo& type = tensor_type_info(host.type);
    if (share.col_first % type.block_size != 0 || share.cols % type.block_size != 0)
        return make_error("{}: a share of {} columns at column {} does not fall on the {}-value blocks of {}",
                          file_.path(), share.cols, share.col_first, type.block_size, type.name);
    const size_t skip = static_cast<size_t>(share.col_first / type.block_size) * type.block_bytes;
    const size_t row_bytes = static_cast<size_t>(share.cols / type.block_size) * type.block_bytes;
    RF_ASSIGN_OR_RETURN(DeviceBuffer copy, host_bytes(row_bytes * static_cast<size_t>(share_rows * host.count)));
    uint8_t* out = copy.bytes();
    for (int64_t e = 0; e < host.count; ++e) {
        const WeightMatrix m = host.matrix(e);
        for (const auto& [first, count] : share.row_runs)
            for (int64_t r = first; r < first + count; ++r, out += row_bytes)
                std::memcpy(out, m.row(r) + skip, row_bytes);
    }
    const WeightMatrix part{.type = host.type, .data = copy.bytes(), .cols = share.cols, .rows = share_rows,
                            .row_bytes = row_bytes, .count = host.count};
    RF_ASSIGN_OR_RETURN(WeightMatrix imported, backend.import_weight(part, true));
    // A backend that copied the share (a GPU) no longer needs this one; the CPU computes from it.
    if (imported.storage.empty()) buffers_.push_back(std::move(copy));
    return imported;
}

Result<WeightMatrix> WeightLoader::matrix(TensorName name, int64_t layer, int64_t cols, int64_t rows,
                                          std::span<const int64_t> row_groups) {
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                        find(name, layer, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}));
    const WeightMatrix host{.type = t->type,
                            .data = t->data,
                            .cols = cols,
                            .rows = rows,
                            .row_bytes = static_cast<size_t>(t->n_bytes / rows)};
    RF_ASSIGN_OR_RETURN(Share share, share_of(name, cols, rows, row_groups));
    // A CPU backend may rearrange writable bytes in place for its kernels: never those that a
    // second backend still has to import (the embedding of a model that ties it to the output).
    const bool shared = name == TensorName::TokenEmbd && (placement_.input != placement_.output ||
                                                          !placement_.shard.whole());
    return import(placement_.backend(part_of(name, layer)), host, share, file_.owns_bytes() && !shared);
}

Result<WeightMatrix> WeightLoader::tied_output(const WeightMatrix& embedding, int64_t cols, int64_t rows) {
    if (placement_.input == placement_.output && placement_.shard.whole()) return embedding;
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                        find(TensorName::TokenEmbd, -1, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}));
    const WeightMatrix host{.type = t->type,
                            .data = t->data,
                            .cols = cols,
                            .rows = rows,
                            .row_bytes = static_cast<size_t>(t->n_bytes / rows)};
    // The output head's share of the table: its run of the vocabulary.
    RF_ASSIGN_OR_RETURN(Share share, share_of(TensorName::Output, cols, rows, {}));
    return import(placement_.backend(placement_.output), host, share, false);
}

Result<WeightMatrix> WeightLoader::stacked(TensorName name, int64_t layer, int64_t cols, int64_t rows, int64_t count) {
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                        find(name, layer,
                             {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows), static_cast<uint64_t>(count)}));
    const size_t row_bytes = t->n_bytes / static_cast<uint64_t>(rows * count);
    const WeightMatrix host{.type = t->type, .data = t->data, .cols = cols, .rows = rows, .row_bytes = row_bytes,
                            .count = count};
    RF_ASSIGN_OR_RETURN(Share share, share_of(name, cols, rows, {}));
    return import(placement_.backend(part_of(name, layer)), host, share, file_.owns_bytes());
}

Result<ParamVector> WeightLoader::upload_vector(const gguf::TensorInfo& t, Backend& backend, int64_t first,
                                                int64_t count) {
    std::vector<float> values(static_cast<size_t>(t.n_elements));
    RF_TRY(quant::dequantize_row(t.type, t.bytes(), values));
    const size_t bytes = static_cast<size_t>(count) * sizeof(float);
    RF_ASSIGN_OR_RETURN(DeviceBuffer buffer, backend.allocate(bytes));
    RF_TRY(backend.upload(buffer, values.data() + first, bytes));
    buffers_.push_back(buffer);
    return ParamVector{buffer.f32(), count};
}

Result<ParamVector> WeightLoader::vector(TensorName name, int64_t layer, int64_t size) {
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, layer, {static_cast<uint64_t>(size)}));
    // A bias of rows a rank holds a share of (Q, K, V) is shared out with them.
    RF_ASSIGN_OR_RETURN(Share share, share_of(name, 1, size, {}));
    const auto [first, count] = share.row_runs.front();
    return upload_vector(*t, placement_.backend(part_of(name, layer)), first, count);
}

Result<ParamVector> WeightLoader::optional_shared_vector(TensorName name, int64_t used_by_layer, int64_t size) {
    if (!has(name)) return ParamVector{};
    const int part = placement_.layers[static_cast<size_t>(used_by_layer)];
    if (auto it = shared_.find({name, part}); it != shared_.end()) return it->second;
    RF_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, -1, {static_cast<uint64_t>(size)}));
    RF_ASSIGN_OR_RETURN(ParamVector v, upload_vector(*t, placement_.backend(part), 0, size));
    shared_[{name, part}] = v;
    return v;
}

Result<ParamVector> WeightLoader::optional_vector(TensorName name, int64_t layer, int64_t size) {
    if (!has(name, layer)) return ParamVector{};
    return vector(name, layer, size);
}

}  // namespace rf::model
