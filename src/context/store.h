// The context store: texts kept as nodes in SQLite, embedded by an Embedder, found again by
// meaning through one HNSW index per namespace. Adding a text longer than a chunk stores it as a
// document node with chunk nodes that are part of it (each chunk embedded); a shorter text is one
// embedded node. Writes go through one writer at a time (in this process by a mutex, between
// processes by SQLite's write lock); searches run concurrently.
//
//   RF_ASSIGN_OR_RETURN(auto store, ContextStore::open(dir, embedder, "model.gguf#mean", {}));
//   RF_ASSIGN_OR_RETURN(Added a, store->add("notes", {.text = "..."}));
//   RF_ASSIGN_OR_RETURN(std::vector<SearchHit> hits, store->search("notes", "query", 5));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "context/chunker.h"
#include "context/index_set.h"
#include "context/node_store.h"
#include "engine/embedder.h"

namespace rf::context {

struct StoreOptions {
    ChunkOptions chunks = {};
    HnswOptions hnsw = {};
};

struct AddRequest {
    std::string text = {};
    NodeKind kind = NodeKind::Document;  // Document or Message
    std::string role = {};                    // messages: "user", "assistant", ...
    std::string metadata = "{}";         // a JSON object
    std::optional<int64_t> reply_to = {};     // a message of the same namespace this one answers
};

struct Added {
    int64_t id = 0;
    int64_t chunks = 0;  // 0: the text was embedded whole
    int64_t tokens = 0;
};

struct SearchHit {
    Node node = {};
    float score = 0.0f;                // cosine similarity
    std::optional<int64_t> document = {};   // for a chunk: the document it is part of
};

struct NodeDetail {
    Node node = {};
    std::vector<Edge> edges = {};
};

class ContextStore {
public:
    // DIR/context.db and DIR/index/ (created). `model` names the embedding model: vectors of
    // different models are kept apart.
    static Result<std::unique_ptr<ContextStore>> open(const std::string& dir, engine::TextEmbedder& embedder,
                                                      std::string model, StoreOptions options = {});

    Result<Added> add(std::string_view ns, const AddRequest& request);
    // The k most similar embedded nodes (messages, short documents, chunks), best first.
    Result<std::vector<SearchHit>> search(std::string_view ns, std::string_view query, int64_t k);
    Result<std::vector<Node>> list(std::string_view ns, int64_t limit = 100, int64_t offset = 0);
    Result<NodeDetail> show(std::string_view ns, int64_t id);
    // Deletes the node with its chunks; returns how many nodes went.
    Result<int64_t> remove(std::string_view ns, int64_t id);
    Result<int64_t> clear(std::string_view ns);
    Result<std::vector<std::string>> namespaces();
    Result<bool> has_namespace(std::string_view ns);

    const std::string& model() const { return model_; }
    IndexSet& indexes() { return indexes_; }

private:
    void follow_write(std::string_view ns, int64_t before, int64_t after,
                      const std::function<Status(VectorIndex&)>& apply);
    ContextStore(NodeStore store, engine::TextEmbedder& embedder, std::string dir, std::string model, StoreOptions o);
    // An Error naming the namespace when it has nothing stored.
    Status require_namespace(std::string_view ns);

    NodeStore store_;
    engine::TextEmbedder& embedder_;
    std::string model_;
    StoreOptions options_;
    IndexSet indexes_;
    // One writer at a time (write_mu_, held from the transaction to the index update). The
    // connection is shared by every thread: rw_ keeps reads out of a write transaction's way
    // (they would see its uncommitted rows), readers together.
    std::mutex write_mu_;
    std::shared_mutex rw_;
};

}  // namespace rf::context
