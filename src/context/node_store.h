// The data-access layer of the context store: every SQL statement of the component is in
// node_store.cpp (and the schema in schema.cpp). Nodes are messages, documents and their chunks,
// each in a namespace; edges link them (a chunk is part-of its document, a message may reply-to
// another); embeddings are kept per node and embedding model.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "context/sqlite.h"

namespace rf::context {

enum class NodeKind { Message, Document, Chunk };
enum class EdgeKind { ReplyTo, PartOf, References };
std::string_view node_kind_name(NodeKind kind);
std::string_view edge_kind_name(EdgeKind kind);
Result<NodeKind> parse_node_kind(std::string_view name);
Result<EdgeKind> parse_edge_kind(std::string_view name);

struct Node {
    int64_t id = 0;
    std::string ns = {};
    NodeKind kind = NodeKind::Document;
    std::string role = {};             // messages: "user", "assistant", ...; empty otherwise
    std::string text = {};
    std::string metadata = "{}";  // a JSON object
    int64_t created_ms = 0;       // milliseconds since the Unix epoch
    int64_t updated_ms = 0;
};

struct Edge {
    int64_t src = 0;
    int64_t dst = 0;
    EdgeKind kind = EdgeKind::PartOf;
};

// Namespaces are path and URL components: 1 to 64 of [A-Za-z0-9_.-], not starting with '.'.
Status check_namespace(std::string_view ns);

class NodeStore {
public:
    // Opens or creates the database file and brings its schema up to date. A file that is not a
    // SQLite database (or a damaged one) is an Error naming it; nothing is written to it then.
    static Result<NodeStore> open(const std::string& path);

    Result<Transaction> begin() { return Transaction::begin(db_); }

    // Writes (inside a transaction the caller holds).
    Result<int64_t> add_node(std::string_view ns, NodeKind kind, std::string_view role, std::string_view text,
                             std::string_view metadata);
    Status add_edge(int64_t src, int64_t dst, EdgeKind kind);
    Status put_embedding(int64_t node, std::string_view model, std::span<const float> vector);
    // Marks the namespace's indexes stale (every model's revision goes up by one).
    Status bump_revisions(std::string_view ns, std::string_view model_to_create = {});
    // Deletes the node and the nodes that are part of it; returns the ids deleted (none: unknown).
    Result<std::vector<int64_t>> delete_node(std::string_view ns, int64_t id);
    // Deletes every node of the namespace; returns how many.
    Result<int64_t> clear(std::string_view ns);

    // Reads.
    Result<std::optional<Node>> node(std::string_view ns, int64_t id);
    // Documents and messages (not chunks), newest first.
    Result<std::vector<Node>> list(std::string_view ns, int64_t limit, int64_t offset);
    Result<std::vector<Edge>> edges(int64_t node);
    Result<int64_t> count(std::string_view ns);
    // Whether anything was ever stored in the namespace (and not cleared away entirely).
    Result<bool> exists(std::string_view ns);
    Result<std::vector<std::string>> namespaces();
    Result<int64_t> revision(std::string_view ns, std::string_view model);
    // Every embedding of the namespace by `model`, in id order.
    Status for_each_embedding(std::string_view ns, std::string_view model,
                              const std::function<Status(int64_t node, std::span<const float> vector)>& visit);

    const std::string& path() const { return db_.path(); }

private:
    explicit NodeStore(Database db) : db_(std::move(db)) {}
    Database db_;
};

}  // namespace rf::context
