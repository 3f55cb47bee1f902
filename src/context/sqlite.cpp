#include "context/sqlite.h"

#include <sqlite3.h>

#include <cstring>

namespace rf::context {

namespace {

Error sqlite_error(sqlite3* db, std::string_view what) {
    return make_error("sqlite: {}: {}", what, db ? sqlite3_errmsg(db) : "out of memory");
}

}  // namespace

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        db_ = other.db_;
        stmt_ = other.stmt_;
        bind_error_ = std::move(other.bind_error_);
        other.stmt_ = nullptr;
    }
    return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) bind_error_ = sqlite_error(db_, "bind");
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    if (sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK)
        bind_error_ = sqlite_error(db_, "bind");
    return *this;
}

Statement& Statement::bind(int index, std::span<const float> blob) {
    // Host byte order: the files are read back on the machine that wrote them (x86-64 and
    // AArch64 are both little-endian).
    if (sqlite3_bind_blob64(stmt_, index, blob.data(), blob.size_bytes(), SQLITE_TRANSIENT) != SQLITE_OK)
        bind_error_ = sqlite_error(db_, "bind");
    return *this;
}

Statement& Statement::bind_null(int index) {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) bind_error_ = sqlite_error(db_, "bind");
    return *this;
}

Result<bool> Statement::step() {
    RF_TRY(bind_error_);
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqlite_error(db_, sqlite3_sql(stmt_) ? std::string_view(sqlite3_sql(stmt_)).substr(0, 60) : "step");
}

Status Statement::run() {
    for (;;) {
        RF_ASSIGN_OR_RETURN(bool row, step());
        if (!row) return ok_status();
    }
}

int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Statement::column_text(int index) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
    return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index))) : std::string();
}

bool Statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

std::vector<float> Statement::column_floats(int index) const {
    const void* data = sqlite3_column_blob(stmt_, index);
    const auto bytes = static_cast<size_t>(sqlite3_column_bytes(stmt_, index));
    std::vector<float> out(bytes / sizeof(float));
    if (data && !out.empty()) std::memcpy(out.data(), data, out.size() * sizeof(float));
    return out;
}

Result<Database> Database::open(const std::string& path, bool create) {
    sqlite3* raw = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    Database db(raw, path);
    if (rc != SQLITE_OK) return sqlite_error(raw, "cannot open " + path);
    // SQLite opens a file it may not write read-only, and only the first write would fail, with
    // a message that names no cause.
    if (sqlite3_db_readonly(raw, "main") == 1)
        return make_error("{} is read-only for this process (its permissions, owner or file system): the context "
                          "store writes to it",
                          path);
    sqlite3_busy_timeout(raw, 10'000);  // another process holds the write lock: wait for it
    sqlite3_extended_result_codes(raw, 1);
    // Reading the schema is the first access to the file: a file that is not a database fails here.
    RF_TRY(db.exec("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"));
    return db;
}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        sqlite3_close_v2(db_);
        db_ = other.db_;
        path_ = std::move(other.path_);
        other.db_ = nullptr;
    }
    return *this;
}

Database::~Database() { sqlite3_close_v2(db_); }

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
        return sqlite_error(db_, "prepare");
    return Statement(db_, stmt);
}

Status Database::exec(std::string_view sql) {
    char* message = nullptr;
    const std::string text(sql);
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
        Error e = make_error("sqlite: {} ({})", message ? message : sqlite3_errmsg(db_), path_);
        sqlite3_free(message);
        return e;
    }
    return ok_status();
}

int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
int64_t Database::changes() const { return sqlite3_changes64(db_); }

Result<Transaction> Transaction::begin(Database& db) {
    RF_TRY(db.exec("BEGIN IMMEDIATE"));
    return Transaction(db);
}

Transaction::~Transaction() {
    if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
    Database* db = db_;
    db_ = nullptr;
    Status committed = db->exec("COMMIT");
    if (!committed.ok()) (void)db->exec("ROLLBACK");
    return committed;
}

}  // namespace rf::context
