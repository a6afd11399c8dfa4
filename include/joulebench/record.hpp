#pragma once
// The one record schema of a measured cell (model × scheme × task × host × repeat).
// Its fields are listed once, in cell_fields() (llama-bench's `get_fields()` pattern): the
// store's SQL column lists, and every report format, read that table. Plain data only, so any
// module can include this header without pulling in SQLite or another module.
//
// Unmeasured reals are NaN (stored as SQL NULL, shown empty); JSON fields hold JSON text.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jb {

inline constexpr double kUnmeasured = std::numeric_limits<double>::quiet_NaN();

// Same alternatives as the report module's Value, so a report can use a field's value as is:
// empty (NULL / not measured), text, integer or real.
using FieldValue = std::variant<std::monostate, std::string, int64_t, double>;

// The natural key of a cell: one row per key, UNIQUE in the store.
struct CellKey {
    std::string host_fingerprint;  // hosts.fingerprint
    std::string model_hash;        // models.hash (content hash of the source GGUF)
    std::string scheme_canonical;  // schemes.canonical
    std::string task;              // task name, e.g. "arc_challenge"
    std::string workload_fp;       // fingerprint of items, shots, prompt format and task version
    int64_t repeat_idx = 0;        // 0.. for repeated measurements of the same workload

    bool operator==(const CellKey &) const = default;
};

inline constexpr const char * kStatusOk = "ok";
inline constexpr const char * kStatusFailed = "failed";
inline constexpr const char * kOriginMeasured = "measured";
inline constexpr const char * kOriginProjected = "projected";

struct CellRecord {
    int64_t id = 0;  // cells.id, set by the store (0 before commit); not stable across merges

    // natural key (see CellKey)
    std::string host_fingerprint;
    std::string model_hash;
    std::string scheme_canonical;
    std::string task;
    std::string workload_fp;
    int64_t repeat_idx = 0;

    // joined from hosts/models/schemes by list_cells(); ignored by commit_cell()
    std::string host_name;
    std::string model_name;  // file name of the source model
    int64_t model_n_params = 0;
    std::string scheme_name;
    // This model's bits per weight and file size under the scheme (model_schemes; schema 2). For
    // a pair without a model_schemes row, bpw falls back to the scheme row's and the size is 0
    // (unknown): the scheme row's size may be another model's.
    double scheme_bpw = kUnmeasured;
    int64_t scheme_file_bytes = 0;

    int64_t run_id = 0;  // runs.id of the run that measured it, 0 = none

    // "measured" on its host, or "projected" to another GPU from measured cells (joulebench
    // project); a projected cell's projection_json says from what and with which parameters
    // (docs/projection.md), "" (NULL) for a measured one.
    std::string origin = kOriginMeasured;
    std::string projection_json;

    std::string status = kStatusOk;  // "ok" or "failed"
    std::string error;               // why a failed cell failed (one line)
    int64_t n_items = 0;             // task items evaluated

    // scores: [{"metric": "acc", "value": 0.52, "stderr": 0.014}, ...]; score = the primary one
    std::string primary_metric;
    double score = kUnmeasured;
    double score_stderr = kUnmeasured;
    std::string scores_json = "[]";

    // energy per domain: {"gpu0": {"gross_j": .., "net_j": .., "method": "counter|samples|estimate"}, ...}
    // energy_j / energy_net_j: sum over measured domains; energy_estimated: any domain is an estimate.
    std::string energy_json = "{}";
    double energy_j = kUnmeasured;
    double energy_net_j = kUnmeasured;
    bool energy_estimated = false;

    // per phase (all domains summed); load has no tokens
    double load_energy_j = kUnmeasured;
    double load_energy_net_j = kUnmeasured;
    double load_t_s = kUnmeasured;
    double prefill_energy_j = kUnmeasured;
    double prefill_energy_net_j = kUnmeasured;
    double prefill_t_s = kUnmeasured;
    int64_t prefill_tokens = 0;
    double decode_energy_j = kUnmeasured;
    double decode_energy_net_j = kUnmeasured;
    double decode_t_s = kUnmeasured;
    int64_t decode_tokens = 0;

    double wall_t_s = kUnmeasured;       // whole workload, load included
    double prefill_tok_s = kUnmeasured;  // tokens per second
    double decode_tok_s = kUnmeasured;
    double ttft_s = kUnmeasured;        // time to first generated token (generation tasks)
    double idle_power_w = kUnmeasured;  // idle baseline subtracted for the net energies (all domains)
    int64_t peak_mem_bytes = 0;

    // sensors used: {"gpu0": {"sensor": "nvml", "method": "counter", "rate_hz": 50, "device": ".."}, ...}
    std::string sensors_json = "{}";

    // ISO 8601 UTC ("2025-06-01T12:34:56.789Z"); committed_at is set by the store
    std::string started_at;
    std::string finished_at;
    std::string committed_at;

    CellKey key() const { return {host_fingerprint, model_hash, scheme_canonical, task, workload_fp, repeat_idx}; }
    void set_key(const CellKey & k);
    bool ok() const { return status == kStatusOk; }
    bool projected() const { return origin == kOriginProjected; }
};

// One result per task item (the request, the model's answer, whether it was right), JSON.
struct CellItem {
    int64_t idx = 0;
    std::string result_json = "{}";
};

enum class FieldType { text, integer, real, json };
const char * field_type_name(FieldType t);  // "text", "integer", "real", "json"

struct CellField {
    const char * name;  // column name in SQL, CSV, JSON, Markdown
    FieldType type;
    // A column of the `cells` table that commit_cell() writes; false for the id, the key's
    // identities (stored as ids of hosts/models/schemes) and the joined display fields.
    bool stored;
    const char * select_sql;  // expression list_cells() selects it with
    FieldValue (*get)(const CellRecord &);
    void (*set)(CellRecord &, const FieldValue &);
};

// Every field of CellRecord, in display order.
const std::vector<CellField> & cell_fields();
// nullptr if there is no such field.
const CellField * find_cell_field(std::string_view name);

}  // namespace jb
