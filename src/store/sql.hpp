#pragma once
// Internal to the store module: thin RAII helpers over SQLite's C API. Every failure becomes a
// jb::Error that names the database file.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/record.hpp"

namespace jb::sql {

[[noreturn]] void fail(sqlite3 * db, const std::string & path, std::string_view doing);

// Runs statements without results (schema, PRAGMA, BEGIN/COMMIT).
void exec(sqlite3 * db, const std::string & path, const char * sql);

struct StmtFinalizer {
    void operator()(sqlite3_stmt * s) const { sqlite3_finalize(s); }
};

class Stmt {
public:
    Stmt(sqlite3 * db, const std::string & path, std::string_view sql);

    Stmt & bind_null(int i);
    Stmt & bind(int i, int64_t v);
    Stmt & bind(int i, double v);  // NaN -> NULL
    Stmt & bind(int i, std::string_view v);
    Stmt & bind_blob(int i, const void * data, size_t size);
    Stmt & bind_opt_text(int i, const std::string & v);  // "" -> NULL
    Stmt & bind_value(int i, const FieldValue & v);

    // true: a row is ready; false: done. Throws on error.
    bool step();
    // Steps a statement that returns no rows.
    void run();
    void reset();

    bool is_null(int col) const;
    int64_t int64(int col) const;
    double real(int col) const;  // NULL -> NaN
    std::string text(int col) const;
    std::vector<uint8_t> blob(int col) const;
    FieldValue value(int col) const;

private:
    sqlite3 * db_;
    std::string path_;
    std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
    std::string sql_;
};

// BEGIN IMMEDIATE .. COMMIT; rolls back in the destructor unless committed, so an exception
// anywhere between leaves the database as it was.
class Transaction {
public:
    Transaction(sqlite3 * db, const std::string & path);
    Transaction(const Transaction &) = delete;
    Transaction & operator=(const Transaction &) = delete;
    ~Transaction();
    void commit();

private:
    sqlite3 * db_;
    std::string path_;
    bool done_ = false;
};

// The schema's history: migrations()[i] upgrades user_version i to i + 1 (schema.cpp). Never edit
// a released entry; append a new one and document it in docs/schema.md.
const std::vector<const char *> & migrations();
// Tables every joulebench database has, whatever its version (checked before trusting a file).
const std::vector<const char *> & required_tables();

}  // namespace jb::sql
