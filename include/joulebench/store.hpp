#pragma once
// The results database: one SQLite file holding hosts, models, schemes, runs and every measured
// cell with its per-item results and power timeline. Schema and guarantees: docs/schema.md.
//
// Guarantees a sweep relies on:
//   - commit_cell() is one transaction: a cell is in the file with all its items and timeline,
//     or not at all, whatever kills the process (SIGINT, SIGTERM, SIGKILL, power loss);
//   - the natural key (CellKey) is UNIQUE: committing a key again replaces the old row;
//   - a file that is not a joulebench database of a schema this build knows is refused with one
//     clear error and never written to (it is checked from its header and a read-only connection
//     before any read-write open).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/record.hpp"
#include "joulebench/serve_record.hpp"
#include "joulebench/timeline.hpp"

struct sqlite3;

namespace jb {

// PRAGMA application_id of every joulebench database: "JBDB".
inline constexpr int32_t kStoreApplicationId = 0x4A424442;
// PRAGMA user_version this build creates and understands; older files are migrated on open.
int store_schema_version();

struct HostRecord {
    int64_t id = 0;
    std::string fingerprint;  // identity; host_fingerprint(*this) when left empty
    std::string hostname;
    std::string cpu_model;
    int64_t cpu_cores = 0;
    int64_t ram_bytes = 0;
    std::string gpus_json = "[]";  // [{"name": .., "uuid": .., "memory_bytes": .., "power_limit_w": ..}, ...]
    std::string driver;            // GPU driver version ("" without a GPU)
    std::string llama_commit;
    std::string joulebench_version;
    std::string os;
};

// Stable identity of a machine: hostname, CPU model, core count and the GPUs' UUIDs (names when
// a GPU has no UUID). Driver, OS and versions are left out so updating them keeps the host.
std::string host_fingerprint(const HostRecord & h);

struct ModelRecord {
    int64_t id = 0;
    std::string hash;  // identity: content hash of the source GGUF
    std::string path;
    std::string file_name;
    std::string arch;
    int64_t n_params = 0;
    int64_t file_bytes = 0;
    bool synthetic = false;  // random weights of a real architecture (accuracy is chance)
};

struct SchemeRecord {
    int64_t id = 0;
    std::string canonical;  // identity: must determine the weight and KV types exactly
    std::string name;       // preset or user name ("int8", "dynamic")
    std::string default_type;
    std::string kv_type;
    double bpw = kUnmeasured;  // bits per weight
    int64_t file_bytes = 0;
    std::string tensor_types_json = "{}";  // {"blk.0.attn_q.weight": "q8_0", ...}
    std::string sensitivity_json;          // measured per-tensor sensitivity; "" = none (NULL)
};

// One model's size under one scheme (model_schemes, schema 2).
struct ModelSchemeRecord {
    std::string model_hash;
    std::string scheme_canonical;
    double bpw = kUnmeasured;
    int64_t file_bytes = 0;
};

struct RunRecord {
    int64_t id = 0;
    std::string uuid;  // identity across merged databases
    std::string host_fingerprint;
    std::string started_at;
    std::string finished_at;  // "" while running, or if the run was killed
    std::string command_line;
    std::string joulebench_version;
};

struct CellFilter {
    // Each list: match any of its values; an empty list matches everything.
    std::vector<std::string> host_fingerprints;
    std::vector<std::string> model_hashes;
    std::vector<std::string> scheme_canonicals;
    std::vector<std::string> tasks;
    std::vector<std::string> workload_fps;
    std::string status;  // "", "ok" or "failed"
    std::string origin;  // "", "measured" or "projected"
};

struct ServeLevelFilter {
    // Each list: match any of its values; an empty list matches everything.
    std::vector<std::string> host_fingerprints;
    std::vector<std::string> model_hashes;
    std::vector<std::string> scheme_canonicals;
    std::string status;  // "", "ok", "partial" or "failed"
};

struct MergeCounts {
    struct Pair {
        int64_t added = 0;
        int64_t skipped = 0;  // already present (same identity)
    };
    Pair hosts, models, schemes, runs;
    Pair model_schemes, model_relations;  // matched by (model hash, scheme canonical) / (family, role)
    int64_t cells_added = 0;
    int64_t cells_replaced = 0;  // a failed cell in the destination replaced by an ok one
    int64_t cells_skipped = 0;   // the destination already had the key (ok, or both failed)
    int64_t items_added = 0;
    int64_t timelines_added = 0;
    int64_t serve_levels_added = 0;
    int64_t serve_levels_replaced = 0;  // a failed level replaced by a partial or ok one, or a partial by an ok one
    int64_t serve_levels_skipped = 0;
};

struct SqliteCloser {
    void operator()(sqlite3 * db) const;
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;

class Store {
public:
    // Opens a joulebench database for reading and writing. A missing file is created when
    // `create` (atomically: built beside it, then linked into place), else refused. An existing
    // file must be a joulebench database of this build's schema version or older (then migrated);
    // anything else throws jb::InputError naming the file and leaves the file untouched.
    static Store open(const std::string & path, bool create = false);
    // Read-only (reports, merge sources): never writes the file; refuses an older schema too.
    static Store open_readonly(const std::string & path);

    Store(Store &&) noexcept;
    Store & operator=(Store &&) noexcept;
    ~Store();

    const std::string & path() const { return path_; }
    bool read_only() const { return read_only_; }
    int schema_version() const;
    // "ok", or SQLite's list of problems (PRAGMA integrity_check).
    std::string integrity_check() const;

    // Insert, or update the descriptive fields of, the row with the same identity; return its id.
    int64_t upsert_host(const HostRecord & h);
    int64_t upsert_model(const ModelRecord & m);
    int64_t upsert_scheme(const SchemeRecord & s);

    std::vector<HostRecord> list_hosts() const;
    std::vector<ModelRecord> list_models() const;
    std::vector<SchemeRecord> list_schemes() const;
    std::vector<RunRecord> list_runs() const;

    // Size of one model under one scheme (a scheme's bpw and file size depend on the model).
    // Filled by the sweep for every (model, scheme) it measures; list_cells() joins it into
    // CellRecord::scheme_bpw and CellRecord::scheme_file_bytes (the quantized file's size).  [schema 2]
    void upsert_model_scheme(const std::string & model_hash, const std::string & scheme_canonical, double bpw,
                             int64_t file_bytes);
    std::vector<ModelSchemeRecord> list_model_schemes() const;

    // Named relations between models, e.g. family "llama-distill": role "base" -> teacher's hash,
    // role "distilled" -> student's hash (sweep --family). One model per (family, role).  [schema 2]
    struct ModelRelation {
        std::string family, role, model_hash;
    };
    void set_model_relation(const std::string & family, const std::string & role, const std::string & model_hash);
    std::vector<ModelRelation> model_relations() const;

    // A run = one invocation of a sweep; cells point at it. host_fingerprint may be "".
    int64_t begin_run(const std::string & command_line, const std::string & host_fingerprint = "");
    void finish_run(int64_t run_id);

    // Whether the sweep may skip this cell. Only an ok cell is done, unless failed_is_done (then
    // a failed cell is not retried either).
    bool has_cell(const CellKey & key, bool failed_is_done = false) const;
    std::optional<CellRecord> find_cell(const CellKey & key) const;

    // Commits a cell with its items and timeline in one transaction and returns its id. The
    // host, model and scheme must have been upserted. An existing row with the same key is
    // replaced (its items and timeline with it), so a retried failed cell simply overwrites.
    // Throws jb::Error (and leaves the database as it was) on a bad record or a write failure.
    int64_t commit_cell(const CellRecord & rec, const std::vector<CellItem> & items = {},
                        const PowerTimeline & timeline = {});

    // Ordered by id; the joined display fields are filled.
    std::vector<CellRecord> list_cells(const CellFilter & filter = {}) const;
    std::vector<CellItem> cell_items(int64_t cell_id) const;
    std::optional<PowerTimeline> cell_timeline(int64_t cell_id) const;

    // Served load levels (serve_record.hpp; schema 3). A level is done when it is stored ok or
    // partial (a failed one is run again unless failed_is_done).
    bool has_serve_level(const ServeLevelKey & key, bool failed_is_done = false) const;
    std::optional<ServeLevelRecord> find_serve_level(const ServeLevelKey & key) const;
    // Commits one level in one transaction (replacing the row of the same key) and returns its
    // id. The host, model and scheme must have been upserted. Throws jb::Error naming the level
    // and field for a bad record (status, mode, accounting) and leaves the database as it was.
    int64_t commit_serve_level(const ServeLevelRecord & rec);
    // Ordered by id; the joined display fields are filled.
    std::vector<ServeLevelRecord> list_serve_levels(const ServeLevelFilter & filter = {}) const;

    // For tests of atomicity: called inside commit_cell's transaction after each stage ("cell",
    // "items", "timeline"), before the commit. A hook that throws aborts the commit.
    void set_commit_hook(std::function<void(std::string_view stage)> hook) { commit_hook_ = std::move(hook); }

    sqlite3 * handle() const { return db_.get(); }  // for tests and merge

private:
    Store(std::string path, SqlitePtr db, bool read_only);
    friend MergeCounts merge_into(Store & dst, const std::string & src_path);

    // The body of commit_cell without the transaction (merge_into runs many in one).
    int64_t insert_cell(const CellRecord & rec, int64_t run_id, const std::vector<CellItem> & items,
                        const PowerTimeline & timeline);
    int64_t insert_serve_level(const ServeLevelRecord & rec, int64_t run_id);
    std::vector<ServeLevelRecord> select_serve_levels(const std::string & where,
                                                      const std::vector<FieldValue> & args) const;
    std::vector<CellRecord> select_cells(const std::string & where, const std::vector<FieldValue> & args) const;
    void require_writable(const char * what) const;

    std::string path_;
    SqlitePtr db_;
    bool read_only_ = false;
    std::function<void(std::string_view)> commit_hook_;
};

// Copies the cells of the joulebench database at src_path (opened read-only, never written) into
// dst in one transaction: same natural key -> one row (an ok cell replaces a failed one, else the
// destination's row stays); hosts, models, schemes and runs deduplicated by identity; items and
// timelines follow their cells with ids remapped; serve levels by their natural key (a better status
// replaces a worse one: ok > partial > failed, else the destination's row stays). Idempotent; merging a database into itself
// changes nothing.
MergeCounts merge_into(Store & dst, const std::string & src_path);

// `joulebench merge`: every input merged into the database at `output` (created if missing), one
// transaction per input. Every input, and an existing output, is checked to be a joulebench
// database before anything is written; when a merge fails, an output this call created is removed
// (an existing one holds whole inputs only) and the error propagates. before(input) and
// after(input, counts) frame each input.
void merge_files(const std::string & output, const std::vector<std::string> & inputs,
                 const std::function<void(const std::string &)> & before,
                 const std::function<void(const std::string &, const MergeCounts &)> & after);

// ISO 8601 UTC with milliseconds, e.g. "2025-06-01T12:34:56.789Z".
std::string utc_now_iso();

}  // namespace jb
