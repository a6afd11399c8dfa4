// Served load levels in the store (schema 3): commit, look up, list. docs/schema.md, "serve_levels".

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "store/sql.hpp"

namespace jb {

using sql::Stmt;

namespace {

const char * kLevelKeyWhere =
    "h.fingerprint = ? AND m.hash = ? AND s.canonical = ? AND l.level = ? AND l.workload_fp = ? AND l.settings_fp = ?";

std::vector<FieldValue> key_args(const ServeLevelKey & k) {
    return {k.host_fingerprint, k.model_hash, k.scheme_canonical, k.level, k.workload_fp, k.settings_fp};
}

std::string describe(const ServeLevelKey & k) {
    return fmt::format("serve level ({}, {}, {}, {}, {}, {})", k.host_fingerprint, k.model_hash, k.scheme_canonical,
                       k.level, k.workload_fp, k.settings_fp);
}

int64_t lookup_id(sqlite3 * db, const std::string & path, const char * q, const std::string & value) {
    Stmt s(db, path, q);
    s.bind(1, value);
    return s.step() ? s.int64(0) : 0;
}

}  // namespace

std::vector<ServeLevelRecord> Store::select_serve_levels(const std::string & where,
                                                         const std::vector<FieldValue> & args) const {
    const auto & fields = serve_level_fields();
    std::string q = "SELECT ";
    for (size_t i = 0; i < fields.size(); ++i) {
        q += i ? ", " : "";
        q += fields[i].select_sql;
    }
    q += " FROM serve_levels l JOIN hosts h ON h.id = l.host_id JOIN models m ON m.id = l.model_id"
         " JOIN schemes s ON s.id = l.scheme_id";
    if (!where.empty()) q += " WHERE " + where;
    q += " ORDER BY l.id";
    Stmt s(db_.get(), path_, q);
    for (size_t i = 0; i < args.size(); ++i) s.bind_value(int(i + 1), args[i]);
    std::vector<ServeLevelRecord> out;
    while (s.step()) {
        ServeLevelRecord r;
        for (size_t i = 0; i < fields.size(); ++i) fields[i].set(r, s.value(int(i)));
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<ServeLevelRecord> Store::list_serve_levels(const ServeLevelFilter & f) const {
    std::string where;
    std::vector<FieldValue> args;
    auto any_of = [&](const char * column, const std::vector<std::string> & values) {
        if (values.empty()) return;
        where += where.empty() ? "" : " AND ";
        where += fmt::format("{} IN ({})", column, fmt::join(std::vector<std::string>(values.size(), "?"), ", "));
        for (const auto & v : values) args.emplace_back(v);
    };
    any_of("h.fingerprint", f.host_fingerprints);
    any_of("m.hash", f.model_hashes);
    any_of("s.canonical", f.scheme_canonicals);
    if (!f.status.empty()) any_of("l.status", {f.status});
    return select_serve_levels(where, args);
}

std::optional<ServeLevelRecord> Store::find_serve_level(const ServeLevelKey & key) const {
    auto rows = select_serve_levels(kLevelKeyWhere, key_args(key));
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
}

bool Store::has_serve_level(const ServeLevelKey & key, bool failed_is_done) const {
    Stmt s(db_.get(), path_,
           fmt::format("SELECT l.status FROM serve_levels l JOIN hosts h ON h.id = l.host_id JOIN models m ON m.id = "
                       "l.model_id JOIN schemes s ON s.id = l.scheme_id WHERE {}",
                       kLevelKeyWhere));
    const auto args = key_args(key);
    for (size_t i = 0; i < args.size(); ++i) s.bind_value(int(i + 1), args[i]);
    if (!s.step()) return false;
    return failed_is_done || s.text(0) != kServeFailed;
}

int64_t Store::commit_serve_level(const ServeLevelRecord & rec_in) {
    require_writable("commit_serve_level");
    ServeLevelRecord rec = rec_in;
    rec.committed_at = utc_now_iso();
    if (rec.started_at.empty()) rec.started_at = rec.committed_at;
    if (rec.finished_at.empty()) rec.finished_at = rec.committed_at;
    sql::Transaction tx(db_.get(), path_);
    const int64_t id = insert_serve_level(rec, rec.run_id);
    tx.commit();
    return id;
}

int64_t Store::insert_serve_level(const ServeLevelRecord & rec, int64_t run_id) {
    const std::string what = describe(rec.key());
    if (rec.status != kServeOk && rec.status != kServePartial && rec.status != kServeFailed) {
        throw Error(fmt::format("{}: {}: field 'status': must be 'ok', 'partial' or 'failed', not '{}'", path_, what,
                                rec.status));
    }
    if (rec.mode != "closed" && rec.mode != "open") {
        throw Error(fmt::format("{}: {}: field 'mode': must be 'closed' or 'open', not '{}'", path_, what, rec.mode));
    }
    if (rec.level.empty()) throw Error(fmt::format("{}: {}: field 'level' is empty", path_, what));
    if (rec.sent != rec.completed + rec.failed + rec.timed_out) {
        throw Error(fmt::format("{}: {}: field 'sent': {} requests sent but {} completed + {} failed + {} timed out",
                                path_, what, rec.sent, rec.completed, rec.failed, rec.timed_out));
    }
    const int64_t host_id =
        lookup_id(db_.get(), path_, "SELECT id FROM hosts WHERE fingerprint = ?", rec.host_fingerprint);
    const int64_t model_id = lookup_id(db_.get(), path_, "SELECT id FROM models WHERE hash = ?", rec.model_hash);
    const int64_t scheme_id =
        lookup_id(db_.get(), path_, "SELECT id FROM schemes WHERE canonical = ?", rec.scheme_canonical);
    if (!host_id || !model_id || !scheme_id) {
        throw Error(fmt::format("{}: {}: {} is not in the store (upsert it before committing levels)", path_, what,
                                !host_id    ? "host"
                                : !model_id ? "model"
                                            : "scheme"));
    }
    Stmt del(db_.get(), path_,
             "DELETE FROM serve_levels WHERE host_id = ? AND model_id = ? AND scheme_id = ? AND level = ? AND "
             "workload_fp = ? AND settings_fp = ?");
    del.bind(1, host_id).bind(2, model_id).bind(3, scheme_id).bind(4, rec.level);
    del.bind(5, rec.workload_fp).bind(6, rec.settings_fp).run();

    std::string cols = "host_id, model_id, scheme_id, run_id";
    std::string marks = "?, ?, ?, ?";
    std::vector<const ServeLevelField *> stored;
    for (const ServeLevelField & f : serve_level_fields()) {
        if (!f.stored) continue;
        cols += fmt::format(", {}", f.name);
        marks += ", ?";
        stored.push_back(&f);
    }
    Stmt ins(db_.get(), path_, fmt::format("INSERT INTO serve_levels ({}) VALUES ({})", cols, marks));
    ins.bind(1, host_id).bind(2, model_id).bind(3, scheme_id);
    if (run_id)
        ins.bind(4, run_id);
    else
        ins.bind_null(4);
    for (size_t i = 0; i < stored.size(); ++i) ins.bind_value(int(i + 5), stored[i]->get(rec));
    try {
        ins.run();
    } catch (const Error & e) {
        throw Error(fmt::format("{} ({})", e.what(), what));
    }
    return sqlite3_last_insert_rowid(db_.get());
}

}  // namespace jb
