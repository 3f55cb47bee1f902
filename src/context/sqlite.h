// A thin RAII layer over the SQLite C API with errors as values: a connection and prepared
// statements that bind by position and read columns by index. Only src/context's data-access
// layer (node_store.cpp, schema.cpp) uses it; no SQL lives elsewhere.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rf::context {

class Statement {
public:
    Statement() = default;
    Statement(Statement&& other) noexcept
        : db_(other.db_), stmt_(other.stmt_), bind_error_(std::move(other.bind_error_)) {
        other.stmt_ = nullptr;
    }
    Statement& operator=(Statement&& other) noexcept;
    ~Statement();

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, std::span<const float> blob);
    Statement& bind_null(int index);
    // One row: true while there is a row to read, false when done.
    Result<bool> step();
    // Runs to completion (statements that return no rows).
    Status run();

    int64_t column_int(int index) const;
    std::string column_text(int index) const;
    bool column_is_null(int index) const;
    std::vector<float> column_floats(int index) const;

private:
    friend class Database;
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    Status bind_error_ = ok_status();
};

class Database {
public:
    // Opens (creating when allowed) with foreign keys on, WAL journaling and a busy timeout, so
    // that several processes can share the file (one writer at a time, readers never blocked).
    static Result<Database> open(const std::string& path, bool create = true);
    Database(Database&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) { other.db_ = nullptr; }
    Database& operator=(Database&& other) noexcept;
    ~Database();

    Result<Statement> prepare(std::string_view sql);
    Status exec(std::string_view sql);  // one or more statements without parameters
    int64_t last_insert_id() const;
    int64_t changes() const;
    const std::string& path() const { return path_; }

private:
    Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    sqlite3* db_ = nullptr;
    std::string path_;
};

// BEGIN IMMEDIATE (the write lock taken up front, so that two writers queue instead of failing
// half-way) ... COMMIT; rolled back when destroyed uncommitted.
class Transaction {
public:
    static Result<Transaction> begin(Database& db);
    Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();
    Status commit();

private:
    explicit Transaction(Database& db) : db_(&db) {}
    Database* db_;
};

}  // namespace rf::context
