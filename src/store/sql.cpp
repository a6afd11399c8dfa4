#include "store/sql.hpp"

#include <fmt/format.h>

#include <cmath>

#include "joulebench/error.hpp"

namespace jb::sql {

void fail(sqlite3 * db, const std::string & path, std::string_view doing) {
    const char * msg = db ? sqlite3_errmsg(db) : "out of memory";
    throw Error(fmt::format("{}: {}: {}", path, doing, msg));
}

void exec(sqlite3 * db, const std::string & path, const char * sql) {
    char * err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        std::string_view first(sql);
        first = first.substr(0, first.find_first_of("(\n;"));
        throw Error(fmt::format("{}: {}: {}", path, first, msg));
    }
}

Stmt::Stmt(sqlite3 * db, const std::string & path, std::string_view sql) : db_(db), path_(path), sql_(sql) {
    sqlite3_stmt * s = nullptr;
    if (sqlite3_prepare_v2(db, sql.data(), int(sql.size()), &s, nullptr) != SQLITE_OK) {
        fail(db, path, fmt::format("preparing '{}'", sql.substr(0, 60)));
    }
    stmt_.reset(s);
}

Stmt & Stmt::bind_null(int i) {
    if (sqlite3_bind_null(stmt_.get(), i) != SQLITE_OK) fail(db_, path_, "bind");
    return *this;
}

Stmt & Stmt::bind(int i, int64_t v) {
    if (sqlite3_bind_int64(stmt_.get(), i, v) != SQLITE_OK) fail(db_, path_, "bind");
    return *this;
}

Stmt & Stmt::bind(int i, double v) {
    if (std::isnan(v)) {
        return bind_null(i);
    }
    if (sqlite3_bind_double(stmt_.get(), i, v) != SQLITE_OK) fail(db_, path_, "bind");
    return *this;
}

Stmt & Stmt::bind(int i, std::string_view v) {
    if (sqlite3_bind_text64(stmt_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK) {
        fail(db_, path_, "bind");
    }
    return *this;
}

Stmt & Stmt::bind_blob(int i, const void * data, size_t size) {
    // a zero-length blob must still be a blob, not NULL: give SQLite a non-null pointer
    static const uint8_t empty = 0;
    if (sqlite3_bind_blob64(stmt_.get(), i, size ? data : &empty, size, SQLITE_TRANSIENT) != SQLITE_OK) {
        fail(db_, path_, "bind");
    }
    return *this;
}

Stmt & Stmt::bind_opt_text(int i, const std::string & v) {
    return v.empty() ? bind_null(i) : bind(i, std::string_view(v));
}

Stmt & Stmt::bind_value(int i, const FieldValue & v) {
    if (const auto * s = std::get_if<std::string>(&v)) return bind(i, std::string_view(*s));
    if (const auto * n = std::get_if<int64_t>(&v)) return bind(i, *n);
    if (const auto * d = std::get_if<double>(&v)) return bind(i, *d);
    return bind_null(i);
}

bool Stmt::step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // name the statement by its first words ("INSERT INTO cells"), not its whole text
    std::string_view head(sql_);
    size_t end = 0;
    for (int spaces = 0; end < head.size() && head[end] != '('; ++end) {
        if (head[end] == ' ' && ++spaces == 3) break;
    }
    while (end > 0 && head[end - 1] == ' ') --end;
    fail(db_, path_, head.substr(0, end));
}

void Stmt::run() {
    step();
    reset();
}

void Stmt::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

bool Stmt::is_null(int col) const {
    return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

int64_t Stmt::int64(int col) const {
    return sqlite3_column_int64(stmt_.get(), col);
}

double Stmt::real(int col) const {
    return is_null(col) ? std::nan("") : sqlite3_column_double(stmt_.get(), col);
}

std::string Stmt::text(int col) const {
    const auto * p = reinterpret_cast<const char *>(sqlite3_column_text(stmt_.get(), col));
    return p ? std::string(p, size_t(sqlite3_column_bytes(stmt_.get(), col))) : std::string();
}

std::vector<uint8_t> Stmt::blob(int col) const {
    const auto * p = static_cast<const uint8_t *>(sqlite3_column_blob(stmt_.get(), col));
    const int n = sqlite3_column_bytes(stmt_.get(), col);
    return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}

FieldValue Stmt::value(int col) const {
    switch (sqlite3_column_type(stmt_.get(), col)) {
        case SQLITE_INTEGER:
            return int64(col);
        case SQLITE_FLOAT:
            return sqlite3_column_double(stmt_.get(), col);
        case SQLITE_NULL:
            return std::monostate{};
        default:
            return text(col);
    }
}

Transaction::Transaction(sqlite3 * db, const std::string & path) : db_(db), path_(path) {
    // IMMEDIATE takes the write lock now, so a concurrent writer waits (busy timeout) here
    // instead of failing halfway through our statements.
    exec(db_, path_, "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
    if (!done_ && !sqlite3_get_autocommit(db_)) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Transaction::commit() {
    exec(db_, path_, "COMMIT");
    done_ = true;
}

}  // namespace jb::sql
