#include "context/node_store.h"

#include <algorithm>
#include <chrono>

#include "context/schema.h"

namespace rf::context {

namespace {

constexpr std::string_view kNodeKinds[] = {"message", "document", "chunk"};
constexpr std::string_view kEdgeKinds[] = {"reply-to", "part-of", "references"};

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

constexpr std::string_view kNodeColumns = "id, namespace, kind, role, text, metadata, created_at, updated_at";

Result<Node> read_node(const Statement& st) {
    Node n;
    n.id = st.column_int(0);
    n.ns = st.column_text(1);
    RF_ASSIGN_OR_RETURN(n.kind, parse_node_kind(st.column_text(2)));
    n.role = st.column_text(3);
    n.text = st.column_text(4);
    n.metadata = st.column_text(5);
    n.created_ms = st.column_int(6);
    n.updated_ms = st.column_int(7);
    return n;
}

}  // namespace

std::string_view node_kind_name(NodeKind kind) { return kNodeKinds[static_cast<int>(kind)]; }
std::string_view edge_kind_name(EdgeKind kind) { return kEdgeKinds[static_cast<int>(kind)]; }

Result<NodeKind> parse_node_kind(std::string_view name) {
    for (int i = 0; i < 3; ++i)
        if (kNodeKinds[i] == name) return static_cast<NodeKind>(i);
    return make_error("node kind '{}' is not one of message, document, chunk", name);
}

Result<EdgeKind> parse_edge_kind(std::string_view name) {
    for (int i = 0; i < 3; ++i)
        if (kEdgeKinds[i] == name) return static_cast<EdgeKind>(i);
    return make_error("edge kind '{}' is not one of reply-to, part-of, references", name);
}

Status check_namespace(std::string_view ns) {
    auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    };
    if (ns.empty() || ns.size() > 64 || ns[0] == '.' || !std::all_of(ns.begin(), ns.end(), allowed))
        return make_error("namespace '{}' must be 1 to 64 of A-Z a-z 0-9 _ . - and not start with '.'", ns);
    return ok_status();
}

Result<NodeStore> NodeStore::open(const std::string& path) {
    RF_ASSIGN_OR_RETURN(Database db, Database::open(path));
    Status migrated = migrate(db);
    if (!migrated.ok()) return make_error("context store {}: {}", path, migrated.error().message);
    return NodeStore(std::move(db));
}

Result<int64_t> NodeStore::add_node(std::string_view ns, NodeKind kind, std::string_view role, std::string_view text,
                                    std::string_view metadata) {
    RF_TRY(check_namespace(ns));
    RF_ASSIGN_OR_RETURN(Statement st,
                        db_.prepare("INSERT INTO nodes (namespace, kind, role, text, metadata, created_at, updated_at) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"));
    st.bind(1, ns).bind(2, node_kind_name(kind)).bind(4, text).bind(5, metadata.empty() ? "{}" : metadata);
    if (role.empty()) st.bind_null(3);
    else st.bind(3, role);
    st.bind(6, now_ms());
    RF_TRY(st.run());
    return db_.last_insert_id();
}

Status NodeStore::add_edge(int64_t src, int64_t dst, EdgeKind kind) {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare("INSERT OR IGNORE INTO edges (src, dst, kind) VALUES (?1, ?2, ?3)"));
    return st.bind(1, src).bind(2, dst).bind(3, edge_kind_name(kind)).run();
}

Status NodeStore::put_embedding(int64_t node, std::string_view model, std::span<const float> vector) {
    RF_ASSIGN_OR_RETURN(Statement st,
                        db_.prepare("INSERT OR REPLACE INTO embeddings (node, model, vector) VALUES (?1, ?2, ?3)"));
    return st.bind(1, node).bind(2, model).bind(3, vector).run();
}

Status NodeStore::bump_revisions(std::string_view ns, std::string_view model_to_create) {
    if (!model_to_create.empty()) {
        RF_ASSIGN_OR_RETURN(Statement create, db_.prepare("INSERT OR IGNORE INTO index_revisions (namespace, model, "
                                                          "revision) VALUES (?1, ?2, 0)"));
        RF_TRY(create.bind(1, ns).bind(2, model_to_create).run());
    }
    RF_ASSIGN_OR_RETURN(Statement st,
                        db_.prepare("UPDATE index_revisions SET revision = revision + 1 WHERE namespace = ?1"));
    return st.bind(1, ns).run();
}

Result<std::vector<int64_t>> NodeStore::delete_node(std::string_view ns, int64_t id) {
    std::vector<int64_t> ids;
    RF_ASSIGN_OR_RETURN(Statement find, db_.prepare("SELECT id FROM nodes WHERE namespace = ?1 AND (id = ?2 OR id IN "
                                                    "(SELECT src FROM edges WHERE dst = ?2 AND kind = 'part-of'))"));
    find.bind(1, ns).bind(2, id);
    for (;;) {
        RF_ASSIGN_OR_RETURN(bool row, find.step());
        if (!row) break;
        ids.push_back(find.column_int(0));
    }
    for (int64_t victim : ids) {
        RF_ASSIGN_OR_RETURN(Statement d, db_.prepare("DELETE FROM nodes WHERE namespace = ?1 AND id = ?2"));
        RF_TRY(d.bind(1, ns).bind(2, victim).run());
    }
    if (!ids.empty()) RF_TRY(bump_revisions(ns));
    return ids;
}

Result<int64_t> NodeStore::clear(std::string_view ns) {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare("DELETE FROM nodes WHERE namespace = ?1"));
    RF_TRY(st.bind(1, ns).run());
    const int64_t n = db_.changes();
    RF_TRY(bump_revisions(ns));
    return n;
}

Result<std::optional<Node>> NodeStore::node(std::string_view ns, int64_t id) {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare(fmt::format("SELECT {} FROM nodes WHERE namespace = ?1 AND id = ?2",
                                                              kNodeColumns)));
    st.bind(1, ns).bind(2, id);
    RF_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return std::optional<Node>();
    RF_ASSIGN_OR_RETURN(Node n, read_node(st));
    return std::optional<Node>(std::move(n));
}

Result<std::vector<Node>> NodeStore::list(std::string_view ns, int64_t limit, int64_t offset) {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare(fmt::format("SELECT {} FROM nodes WHERE namespace = ?1 AND kind != "
                                                              "'chunk' ORDER BY id DESC LIMIT ?2 OFFSET ?3",
                                                              kNodeColumns)));
    st.bind(1, ns).bind(2, limit).bind(3, offset);
    std::vector<Node> out;
    for (;;) {
        RF_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return out;
        RF_ASSIGN_OR_RETURN(Node n, read_node(st));
        out.push_back(std::move(n));
    }
}

Result<std::vector<Edge>> NodeStore::edges(int64_t node) {
    RF_ASSIGN_OR_RETURN(Statement st,
                        db_.prepare("SELECT src, dst, kind FROM edges WHERE src = ?1 OR dst = ?1 ORDER BY src, dst"));
    st.bind(1, node);
    std::vector<Edge> out;
    for (;;) {
        RF_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return out;
        RF_ASSIGN_OR_RETURN(EdgeKind kind, parse_edge_kind(st.column_text(2)));
        out.push_back({st.column_int(0), st.column_int(1), kind});
    }
}

Result<int64_t> NodeStore::count(std::string_view ns) {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare("SELECT count(*) FROM nodes WHERE namespace = ?1 AND kind != 'chunk'"));
    st.bind(1, ns);
    RF_ASSIGN_OR_RETURN(bool row, st.step());
    return row ? st.column_int(0) : 0;
}

Result<bool> NodeStore::exists(std::string_view ns) {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare("SELECT EXISTS (SELECT 1 FROM nodes WHERE namespace = ?1) OR EXISTS "
                                                  "(SELECT 1 FROM index_revisions WHERE namespace = ?1)"));
    st.bind(1, ns);
    RF_ASSIGN_OR_RETURN(bool row, st.step());
    return row && st.column_int(0) != 0;
}

Result<std::vector<std::string>> NodeStore::namespaces() {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare("SELECT DISTINCT namespace FROM nodes UNION SELECT namespace FROM "
                                                  "index_revisions ORDER BY 1"));
    std::vector<std::string> out;
    for (;;) {
        RF_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return out;
        out.push_back(st.column_text(0));
    }
}

Result<int64_t> NodeStore::revision(std::string_view ns, std::string_view model) {
    RF_ASSIGN_OR_RETURN(Statement st,
                        db_.prepare("SELECT revision FROM index_revisions WHERE namespace = ?1 AND model = ?2"));
    st.bind(1, ns).bind(2, model);
    RF_ASSIGN_OR_RETURN(bool row, st.step());
    return row ? st.column_int(0) : 0;
}

Status NodeStore::for_each_embedding(std::string_view ns, std::string_view model,
                                     const std::function<Status(int64_t, std::span<const float>)>& visit) {
    RF_ASSIGN_OR_RETURN(Statement st, db_.prepare("SELECT e.node, e.vector FROM embeddings e JOIN nodes n ON n.id = "
                                                  "e.node WHERE n.namespace = ?1 AND e.model = ?2 ORDER BY e.node"));
    st.bind(1, ns).bind(2, model);
    for (;;) {
        RF_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return ok_status();
        const std::vector<float> v = st.column_floats(1);
        RF_TRY(visit(st.column_int(0), v));
    }
}

}  // namespace rf::context
