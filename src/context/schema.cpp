#include "context/schema.h"

#include <array>
#include <string_view>

namespace rf::context {

namespace {

// migrations[v] takes a database from version v to v + 1.
constexpr std::array<std::string_view, kSchemaVersion> kMigrations = {
    // 0 -> 1: nodes, edges between them, embeddings per model, and a revision per (namespace,
    // model) that every change of its embeddings bumps (the vector index records the revision it
    // reflects, which tells whether it is stale).
    R"sql(
CREATE TABLE nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('message', 'document', 'chunk')),
    role TEXT,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX nodes_by_namespace ON nodes (namespace, id);
CREATE TABLE edges (
    src INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    dst INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('reply-to', 'part-of', 'references')),
    PRIMARY KEY (src, dst, kind)
);
CREATE INDEX edges_by_dst ON edges (dst, kind);
CREATE TABLE embeddings (
    node INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (node, model)
);
CREATE TABLE index_revisions (
    namespace TEXT NOT NULL,
    model TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (namespace, model)
);
)sql",
};

Result<int64_t> user_version(Database& db) {
    RF_ASSIGN_OR_RETURN(Statement st, db.prepare("PRAGMA user_version"));
    RF_ASSIGN_OR_RETURN(bool row, st.step());
    return row ? st.column_int(0) : 0;
}

}  // namespace

Status migrate(Database& db) {
    RF_ASSIGN_OR_RETURN(int64_t version, user_version(db));
    if (version > kSchemaVersion)
        return make_error("{}: schema version {} is newer than this build understands ({})", db.path(), version,
                          kSchemaVersion);
    while (version < kSchemaVersion) {
        RF_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
        // Another process may have migrated while this one waited for the write lock.
        RF_ASSIGN_OR_RETURN(int64_t now, user_version(db));
        if (now != version) {
            version = now;
            continue;
        }
        RF_TRY(db.exec(kMigrations[static_cast<size_t>(version)]));
        RF_TRY(db.exec("PRAGMA user_version = " + std::to_string(version + 1)));
        RF_TRY(tx.commit());
        ++version;
    }
    return ok_status();
}

}  // namespace rf::context
