// The vector indexes of one store and embedding model, one per namespace, each kept in memory
// with the store revision it reflects and persisted next to the database. The database is the
// source of truth: an index whose file is missing, stale (another process wrote since) or
// damaged is rebuilt from the stored embeddings.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "context/node_store.h"
#include "context/vector_index.h"

namespace rf::context {

class IndexSet {
public:
    IndexSet(std::string dir, std::string model, int64_t dimension, HnswOptions options);

    // The namespace's index as of `revision`: the one in memory, else its file, else rebuilt.
    Result<std::shared_ptr<VectorIndex>> current(NodeStore& store, std::string_view ns, int64_t revision);
    // After a write took the namespace from revision `before` to `after`: when the index as of
    // `before` is in memory or its file is current, `apply` brings it along and the result is
    // saved; true then, and also when the index is at `after` already (a search rebuilt it since
    // the write). False when there is no index to bring along (the caller builds one).
    Result<bool> follow(std::string_view ns, int64_t before, int64_t after,
                        const std::function<Status(VectorIndex&)>& apply);

    // Where the namespace's index lives: DIR/index/NS.MODELHASH.hnsw (+ .json).
    std::string path(std::string_view ns) const;
    // Rebuilds printed to the log by the caller (counts, for tests and diagnostics).
    int64_t rebuilds() const { return rebuilds_; }
    const std::string& last_rebuild_reason() const { return last_reason_; }

private:
    // The index as of `revision` in memory or from its file, else null with last_reason_ set (mu_ held).
    Result<std::shared_ptr<VectorIndex>> kept(std::string_view ns, int64_t revision);
    Result<std::shared_ptr<VectorIndex>> rebuild(NodeStore& store, std::string_view ns, int64_t revision);

    struct Entry {
        std::shared_ptr<VectorIndex> index;
        int64_t revision = -1;
    };
    std::string dir_, model_;
    int64_t dimension_;
    HnswOptions options_;
    std::mutex mu_;
    std::map<std::string, Entry, std::less<>> entries_;
    int64_t rebuilds_ = 0;
    std::string last_reason_;
};

}  // namespace rf::context
