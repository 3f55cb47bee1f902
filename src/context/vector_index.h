// Approximate nearest-neighbour search over unit vectors (cosine similarity) with an HNSW graph
// (hnswlib), labelled by node id. Many threads may search at once; adding, removing and saving
// take the index alone (a shared mutex). Saved as the graph file plus a small JSON sidecar with
// the store revision it reflects and a checksum of the graph, so that a stale, truncated or
// corrupt file is detected before hnswlib reads it (and the caller rebuilds it from the store).
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace rf::context {

struct HnswOptions {
    // Chosen for recall@10 >= 0.95 on 100k random unit vectors of dimension 256 (the hard case;
    // real embeddings cluster): there ef_search 400 found 0.72, 1,200 0.948, 1,600 0.974; M 48
    // needs as many distances for the same recall (docs/context.md).
    int64_t m = 32;                 // links per node
    int64_t ef_construction = 200;  // candidate list while building
    int64_t ef_search = 1500;       // candidate list while searching (k when k is larger)
    // Up to this many vectors a search compares the query with every one: exact, and as fast as
    // the graph there (20k vectors of 256 floats are 20 MB to read).
    int64_t exact_up_to = 20'000;
};

struct Hit {
    int64_t id = 0;
    float score = 0.0f;  // cosine similarity, best first
};

class VectorIndex {
public:
    static Result<std::unique_ptr<VectorIndex>> create(int64_t dimension, HnswOptions options = {});
    // Loads `path` if its sidecar says it reflects `revision` for `dimension` and the checksum
    // matches; null (with `why` set) when it is missing, stale or damaged.
    static Result<std::unique_ptr<VectorIndex>> load(const std::string& path, int64_t dimension, int64_t revision,
                                                     HnswOptions options, std::string* why);
    ~VectorIndex();

    // Adds or replaces the vector of `id` (dimension floats).
    Status add(int64_t id, std::span<const float> vector);
    // Adds or replaces many at once (vectors: ids.size() * dimension floats), on `threads`
    // threads (0: one per core): how an index is rebuilt from the store.
    Status add_many(std::span<const int64_t> ids, std::span<const float> vectors, int threads = 0);
    void remove(int64_t id);
    // The candidate list of later searches (k when k is larger).
    void set_ef_search(int64_t ef);
    // The k best, best first; an empty index gives none.
    Result<std::vector<Hit>> search(std::span<const float> query, int64_t k) const;
    // Writes the graph and its sidecar (each to a temporary name, then renamed into place).
    Status save(const std::string& path, int64_t revision) const;

    int64_t dimension() const { return dimension_; }
    int64_t size() const;  // live vectors

    struct Graph;  // hnswlib's types stay in vector_index.cpp

private:
    VectorIndex(int64_t dimension, HnswOptions options);
    std::vector<Hit> scan(std::span<const float> query, int64_t k) const;
    int64_t dimension_;
    HnswOptions options_;
    std::unique_ptr<Graph> graph_;
    mutable std::shared_mutex mu_;
};

// Exact search by brute force (the reference the HNSW recall is measured against).
std::vector<Hit> exact_search(std::span<const float> vectors, int64_t dimension, std::span<const float> query,
                              int64_t k);

}  // namespace rf::context
