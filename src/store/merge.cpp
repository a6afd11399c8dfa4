// Merging result databases from several hosts (docs/schema.md, "Merging").
//
// Rows are matched by identity, never by id: hosts by fingerprint, models by content hash,
// schemes by canonical string, runs by uuid, cells by natural key. Ids differ between files, so
// everything is re-inserted through the destination's own lookups (which is the id remapping).

#include <fmt/format.h>

#include <unistd.h>

#include <map>
#include <optional>

#include "store/sql.hpp"
#include "joulebench/store.hpp"
#include "joulebench/error.hpp"

namespace jb {

using sql::Stmt;

static bool insert_host_if_absent(sqlite3 * db, const std::string & path, const HostRecord & h) {
    Stmt s(
        db, path,
        "INSERT INTO hosts (fingerprint, hostname, cpu_model, cpu_cores, ram_bytes, gpus_json, driver, llama_commit,"
        " joulebench_version, os, first_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (fingerprint) DO NOTHING");
    s.bind(1, h.fingerprint).bind(2, h.hostname).bind(3, h.cpu_model);
    s.bind(4, h.cpu_cores).bind(5, h.ram_bytes).bind(6, h.gpus_json).bind(7, h.driver);
    s.bind(8, h.llama_commit).bind(9, h.joulebench_version);
    s.bind(10, h.os).bind(11, utc_now_iso()).run();
    return sqlite3_changes(db) == 1;
}

static bool insert_model_if_absent(sqlite3 * db, const std::string & path, const ModelRecord & m) {
    Stmt s(db, path,
           "INSERT INTO models (hash, path, file_name, arch, n_params, file_bytes, synthetic) VALUES (?,?,?,?,?,?,?)"
           " ON CONFLICT (hash) DO NOTHING");
    s.bind(1, m.hash).bind(2, m.path).bind(3, m.file_name);
    s.bind(4, m.arch).bind(5, m.n_params).bind(6, m.file_bytes).bind(7, int64_t(m.synthetic)).run();
    return sqlite3_changes(db) == 1;
}

static bool insert_scheme_if_absent(sqlite3 * db, const std::string & path, const SchemeRecord & sc) {
    Stmt s(db, path,
           "INSERT INTO schemes (canonical, name, default_type, kv_type, bpw, file_bytes, tensor_types_json,"
           " sensitivity_json) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (canonical) DO NOTHING");
    s.bind(1, sc.canonical).bind(2, sc.name);
    s.bind(3, sc.default_type).bind(4, sc.kv_type).bind(5, sc.bpw);
    s.bind(6, sc.file_bytes).bind(7, sc.tensor_types_json).bind_opt_text(8, sc.sensitivity_json);
    s.run();
    return sqlite3_changes(db) == 1;
}

static bool insert_run_if_absent(sqlite3 * db, const std::string & path, const RunRecord & r) {
    Stmt s(db, path,
           "INSERT INTO runs (uuid, host_id, started_at, finished_at, command_line, joulebench_version)"
           " VALUES (?, (SELECT id FROM hosts WHERE fingerprint = ?), ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING");
    s.bind(1, r.uuid).bind(2, r.host_fingerprint);
    s.bind(3, r.started_at).bind_opt_text(4, r.finished_at);
    s.bind(5, r.command_line).bind(6, r.joulebench_version).run();
    return sqlite3_changes(db) == 1;
}

MergeCounts merge_into(Store & dst, const std::string & src_path) {
    dst.require_writable("merge");
    // The source is checked from its header and opened read-only: merging never writes to it,
    // and a foreign or damaged file is refused before the destination is touched.
    const Store src = Store::open_readonly(src_path);
    sqlite3 * db = dst.db_.get();
    const std::string & path = dst.path_;

    MergeCounts n;
    auto count = [](MergeCounts::Pair & p, bool added) { ++(added ? p.added : p.skipped); };

    // One transaction: a merge that fails halfway (a damaged source page, a full disk) leaves the
    // destination exactly as it was.
    sql::Transaction tx(db, path);
    for (const HostRecord & h : src.list_hosts()) count(n.hosts, insert_host_if_absent(db, path, h));
    for (const ModelRecord & m : src.list_models()) count(n.models, insert_model_if_absent(db, path, m));
    for (const SchemeRecord & s : src.list_schemes()) count(n.schemes, insert_scheme_if_absent(db, path, s));

    // Per-model scheme sizes and model relations: present (same pair / same family and role) ->
    // the destination's row stays, as for the descriptions above.
    for (const ModelSchemeRecord & r : src.list_model_schemes()) {
        Stmt s(db, path,
               "INSERT INTO model_schemes (model_id, scheme_id, bpw, file_bytes) SELECT m.id, s.id, ?, ?"
               " FROM models m, schemes s WHERE m.hash = ? AND s.canonical = ? ON CONFLICT DO NOTHING");
        s.bind(1, r.bpw).bind(2, r.file_bytes).bind(3, r.model_hash).bind(4, r.scheme_canonical).run();
        count(n.model_schemes, sqlite3_changes(db) == 1);
    }
    for (const Store::ModelRelation & r : src.model_relations()) {
        Stmt s(db, path,
               "INSERT INTO model_relations (family, role, model_id) SELECT ?, ?, id FROM models WHERE hash = ?"
               " ON CONFLICT DO NOTHING");
        s.bind(1, r.family).bind(2, r.role).bind(3, r.model_hash).run();
        count(n.model_relations, sqlite3_changes(db) == 1);
    }

    std::map<int64_t, int64_t> run_ids;  // source id -> destination id
    for (const RunRecord & r : src.list_runs()) {
        count(n.runs, insert_run_if_absent(db, path, r));
        Stmt id(db, path, "SELECT id FROM runs WHERE uuid = ?");
        id.bind(1, r.uuid);
        run_ids[r.id] = id.step() ? id.int64(0) : 0;
    }

    for (const CellRecord & c : src.list_cells()) {
        const std::optional<CellRecord> have = dst.find_cell(c.key());
        // One row per key: keep the destination's, unless it failed where the source succeeded.
        if (have && (have->ok() || !c.ok())) {
            ++n.cells_skipped;
            continue;
        }
        const std::vector<CellItem> items = src.cell_items(c.id);
        const std::optional<PowerTimeline> timeline = src.cell_timeline(c.id);  // decoding checks it
        const auto run = run_ids.find(c.run_id);
        dst.insert_cell(c, run == run_ids.end() ? 0 : run->second, items, timeline ? *timeline : PowerTimeline{});
        ++(have ? n.cells_replaced : n.cells_added);
        n.items_added += int64_t(items.size());
        n.timelines_added += timeline && !timeline->empty() ? 1 : 0;
    }
    // Serve levels (schema 3) by natural key: a better status replaces a worse one.
    auto rank = [](const std::string & status) { return status == kServeOk ? 2 : status == kServePartial ? 1 : 0; };
    for (const ServeLevelRecord & l : src.list_serve_levels()) {
        const std::optional<ServeLevelRecord> have = dst.find_serve_level(l.key());
        if (have && rank(have->status) >= rank(l.status)) {
            ++n.serve_levels_skipped;
            continue;
        }
        const auto run = run_ids.find(l.run_id);
        dst.insert_serve_level(l, run == run_ids.end() ? 0 : run->second);
        ++(have ? n.serve_levels_replaced : n.serve_levels_added);
    }
    tx.commit();
    return n;
}

void merge_files(const std::string & output, const std::vector<std::string> & inputs,
                 const std::function<void(const std::string &)> & before,
                 const std::function<void(const std::string &, const MergeCounts &)> & after) {
    // Opening checks that a file is a joulebench database.
    const bool created = ::access(output.c_str(), F_OK) != 0;
    if (!created) Store::open(output, false);
    for (const std::string & in : inputs) Store::open_readonly(in);

    std::optional<Store> dst;
    try {
        dst.emplace(Store::open(output, true));
        for (const std::string & in : inputs) {
            if (before) before(in);
            const MergeCounts n = merge_into(*dst, in);
            if (after) after(in, n);
        }
    } catch (...) {
        if (created && dst) {
            dst.reset();
            for (const char * suffix : {"", "-wal", "-shm"}) ::unlink((output + suffix).c_str());
        }
        throw;
    }
}

}  // namespace jb
