#include "context/index_set.h"

#include <filesystem>

#include <fmt/format.h>

namespace rf::context {

IndexSet::IndexSet(std::string dir, std::string model, int64_t dimension, HnswOptions options)
    : dir_(std::move(dir)), model_(std::move(model)), dimension_(dimension), options_(options) {}

std::string IndexSet::path(std::string_view ns) const {
    uint64_t h = 0xcbf29ce484222325ull;  // the model key may hold any characters: name the file by its hash
    for (unsigned char c : model_) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return (std::filesystem::path(dir_) / "index" / fmt::format("{}.{:016x}.hnsw", ns, h)).string();
}

Result<std::shared_ptr<VectorIndex>> IndexSet::kept(std::string_view ns, int64_t revision) {
    auto it = entries_.find(ns);
    if (it != entries_.end() && it->second.revision == revision) return it->second.index;
    std::string why;
    RF_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> loaded,
                        VectorIndex::load(path(ns), dimension_, revision, options_, &why));
    if (!loaded) {
        last_reason_ = why;
        return std::shared_ptr<VectorIndex>();
    }
    std::shared_ptr<VectorIndex> index = std::move(loaded);
    entries_[std::string(ns)] = {index, revision};
    return index;
}

Result<std::shared_ptr<VectorIndex>> IndexSet::current(NodeStore& store, std::string_view ns, int64_t revision) {
    std::lock_guard lock(mu_);
    RF_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndex> index, kept(ns, revision));
    return index ? index : rebuild(store, ns, revision);
}

Result<std::shared_ptr<VectorIndex>> IndexSet::rebuild(NodeStore& store, std::string_view ns, int64_t revision) {
    ++rebuilds_;
    RF_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> fresh, VectorIndex::create(dimension_, options_));
    std::vector<int64_t> ids;
    std::vector<float> vectors;
    RF_TRY(store.for_each_embedding(ns, model_, [&](int64_t id, std::span<const float> v) {
        if (static_cast<int64_t>(v.size()) != dimension_)
            return Status(make_error("node {} has an embedding of {} floats, not {}", id, v.size(), dimension_));
        ids.push_back(id);
        vectors.insert(vectors.end(), v.begin(), v.end());
        return ok_status();
    }));
    RF_TRY(fresh->add_many(ids, vectors));  // on every core: a rebuild of 100k vectors takes a while
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path(ns)).parent_path(), ec);
    // A failed save (a read-only directory) still leaves a usable index in memory.
    (void)fresh->save(path(ns), revision);
    std::shared_ptr<VectorIndex> index = std::move(fresh);
    entries_[std::string(ns)] = {index, revision};
    return index;
}

Result<bool> IndexSet::follow(std::string_view ns, int64_t before, int64_t after,
                              const std::function<Status(VectorIndex&)>& apply) {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(ns); it != entries_.end() && it->second.revision == after) return true;
    RF_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndex> index, kept(ns, before));
    auto it = entries_.find(ns);
    if (!index) {
        if (it != entries_.end()) entries_.erase(it);
        return false;
    }
    Status applied = apply(*index);
    if (!applied.ok()) {
        entries_.erase(it);
        return applied.error();
    }
    it->second.revision = after;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path(ns)).parent_path(), ec);
    // A failed save (a read-only directory) still leaves a current index in memory.
    (void)index->save(path(ns), after);
    return true;
}

}  // namespace rf::context
