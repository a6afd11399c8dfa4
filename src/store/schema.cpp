// The schema, as a list of migrations (docs/schema.md describes every table and column).
// Each migration runs in its own transaction together with its PRAGMA user_version bump, so a
// database is always at exactly one version. A released migration is never edited.

#include "store/sql.hpp"

namespace jb::sql {

// STRICT tables: a value of the wrong type is an error, not silently stored (SQLite >= 3.37).
// JSON columns are checked with json_valid() so a reader can always parse them. Cell ids are
// AUTOINCREMENT: a replaced cell gets a new id, never one that named another cell before.
static const char * kMigration1 = R"sql(
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE hosts (
    id                 INTEGER PRIMARY KEY,
    fingerprint        TEXT NOT NULL UNIQUE,
    hostname           TEXT NOT NULL,
    cpu_model          TEXT NOT NULL,
    cpu_cores          INTEGER NOT NULL,
    ram_bytes          INTEGER NOT NULL,
    gpus_json          TEXT NOT NULL CHECK (json_valid(gpus_json)),
    driver             TEXT NOT NULL,
    llama_commit       TEXT NOT NULL,
    joulebench_version TEXT NOT NULL,
    os                 TEXT NOT NULL,
    first_seen_at      TEXT NOT NULL
) STRICT;

CREATE TABLE models (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    path       TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    arch       TEXT NOT NULL,
    n_params   INTEGER NOT NULL,
    file_bytes INTEGER NOT NULL,
    synthetic  INTEGER NOT NULL CHECK (synthetic IN (0, 1))
) STRICT;

CREATE TABLE schemes (
    id                INTEGER PRIMARY KEY,
    canonical         TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    default_type      TEXT NOT NULL,
    kv_type           TEXT NOT NULL,
    bpw               REAL,
    file_bytes        INTEGER NOT NULL,
    tensor_types_json TEXT NOT NULL CHECK (json_valid(tensor_types_json)),
    sensitivity_json  TEXT CHECK (sensitivity_json IS NULL OR json_valid(sensitivity_json))
) STRICT;

CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY,
    uuid               TEXT NOT NULL UNIQUE,
    host_id            INTEGER REFERENCES hosts (id),
    started_at         TEXT NOT NULL,
    finished_at        TEXT,
    command_line       TEXT NOT NULL,
    joulebench_version TEXT NOT NULL
) STRICT;

CREATE TABLE cells (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id              INTEGER NOT NULL REFERENCES hosts (id),
    model_id             INTEGER NOT NULL REFERENCES models (id),
    scheme_id            INTEGER NOT NULL REFERENCES schemes (id),
    task                 TEXT NOT NULL,
    workload_fp          TEXT NOT NULL,
    repeat_idx           INTEGER NOT NULL,
    run_id               INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    status               TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error                TEXT NOT NULL,
    n_items              INTEGER NOT NULL,
    primary_metric       TEXT NOT NULL,
    score                REAL,
    score_stderr         REAL,
    scores_json          TEXT NOT NULL CHECK (json_valid(scores_json)),
    energy_j             REAL,
    energy_net_j         REAL,
    energy_estimated     INTEGER NOT NULL CHECK (energy_estimated IN (0, 1)),
    energy_json          TEXT NOT NULL CHECK (json_valid(energy_json)),
    load_energy_j        REAL,
    load_energy_net_j    REAL,
    load_t_s             REAL,
    prefill_energy_j     REAL,
    prefill_energy_net_j REAL,
    prefill_t_s          REAL,
    prefill_tokens       INTEGER NOT NULL,
    decode_energy_j      REAL,
    decode_energy_net_j  REAL,
    decode_t_s           REAL,
    decode_tokens        INTEGER NOT NULL,
    wall_t_s             REAL,
    prefill_tok_s        REAL,
    decode_tok_s         REAL,
    ttft_s               REAL,
    idle_power_w         REAL,
    peak_mem_bytes       INTEGER NOT NULL,
    sensors_json         TEXT NOT NULL CHECK (json_valid(sensors_json)),
    started_at           TEXT NOT NULL,
    finished_at          TEXT NOT NULL,
    committed_at         TEXT NOT NULL,
    UNIQUE (host_id, model_id, scheme_id, task, workload_fp, repeat_idx)
) STRICT;
CREATE INDEX cells_by_model_scheme ON cells (model_id, scheme_id);
CREATE INDEX cells_by_task ON cells (task, workload_fp);
CREATE INDEX cells_by_run ON cells (run_id);

CREATE TABLE items (
    cell_id     INTEGER NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    result_json TEXT NOT NULL CHECK (json_valid(result_json)),
    PRIMARY KEY (cell_id, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE timelines (
    cell_id      INTEGER PRIMARY KEY REFERENCES cells (id) ON DELETE CASCADE,
    n_samples    INTEGER NOT NULL,
    domains_json TEXT NOT NULL CHECK (json_valid(domains_json)),
    phases_json  TEXT NOT NULL CHECK (json_valid(phases_json)),
    encoding     TEXT NOT NULL,
    data         BLOB NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES ('application', 'joulebench');
)sql";

// Schema 2 (issue #9): per-model scheme sizes, projected cells, model relations.
//   model_schemes: a scheme's bits per weight and file size depend on the model (tied embeddings,
//     tensors kept at higher precision), but schemes.bpw/file_bytes hold one model's. Backfilled
//     from the cells, only for schemes that exactly one model used: then the scheme row's values
//     are that model's. A scheme several models shared gets no row (its values belong to whichever
//     model was swept last), and readers fall back as schema 1 did.
//   cells.origin / projection_json: a cell is measured on its host, or projected to a GPU from a
//     measured cell (joulebench project); the JSON says from what and with which parameters.
//   model_relations: named roles of models in a family (teacher / distilled student, ...).
static const char * kMigration2 = R"sql(
CREATE TABLE model_schemes (
    model_id   INTEGER NOT NULL REFERENCES models (id),
    scheme_id  INTEGER NOT NULL REFERENCES schemes (id),
    bpw        REAL,
    file_bytes INTEGER NOT NULL,
    PRIMARY KEY (model_id, scheme_id)
) STRICT;

INSERT INTO model_schemes (model_id, scheme_id, bpw, file_bytes)
    SELECT u.model_id, s.id, s.bpw, s.file_bytes
    FROM (SELECT scheme_id, min(model_id) AS model_id FROM cells GROUP BY scheme_id
          HAVING count(DISTINCT model_id) = 1) u
    JOIN schemes s ON s.id = u.scheme_id;

ALTER TABLE cells ADD COLUMN origin TEXT NOT NULL DEFAULT 'measured'
    CHECK (origin IN ('measured', 'projected'));
ALTER TABLE cells ADD COLUMN projection_json TEXT
    CHECK (projection_json IS NULL OR json_valid(projection_json));

CREATE TABLE model_relations (
    family   TEXT NOT NULL,
    role     TEXT NOT NULL,
    model_id INTEGER NOT NULL REFERENCES models (id),
    PRIMARY KEY (family, role)
) STRICT;
)sql";

// Schema 3 (issue #19): served load levels. One row per (host, model, scheme, level, workload,
// server settings): a model served (llama-server started by joulebench, or an endpoint that was
// already running) at one concurrency or request rate, with its accounting, latency percentiles,
// whole-level and steady-state energy, and the whole LevelResult (every request) as JSON.
// Levels have no items or timeline rows; cells are untouched.
static const char * kMigration3 = R"sql(
CREATE TABLE serve_levels (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id                     INTEGER NOT NULL REFERENCES hosts (id),
    model_id                    INTEGER NOT NULL REFERENCES models (id),
    scheme_id                   INTEGER NOT NULL REFERENCES schemes (id),
    level                       TEXT NOT NULL,
    workload_fp                 TEXT NOT NULL,
    settings_fp                 TEXT NOT NULL,
    run_id                      INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    mode                        TEXT NOT NULL CHECK (mode IN ('closed', 'open')),
    concurrency                 INTEGER NOT NULL,
    rate_rps                    REAL,
    endpoint                    TEXT NOT NULL,
    status                      TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'failed')),
    reason                      TEXT NOT NULL,
    sent                        INTEGER NOT NULL,
    completed                   INTEGER NOT NULL,
    failed                      INTEGER NOT NULL,
    timed_out                   INTEGER NOT NULL,
    not_sent                    INTEGER NOT NULL,
    duration_s                  REAL,
    prompt_tokens               INTEGER NOT NULL,
    cached_prompt_tokens        INTEGER NOT NULL,
    completion_tokens           INTEGER NOT NULL,
    requests_per_s              REAL,
    output_tokens_per_s         REAL,
    input_tokens_per_s          REAL,
    ttft_p50_ms                 REAL,
    ttft_p90_ms                 REAL,
    ttft_p99_ms                 REAL,
    tpot_p50_ms                 REAL,
    tpot_p90_ms                 REAL,
    tpot_p99_ms                 REAL,
    itl_p50_ms                  REAL,
    itl_p90_ms                  REAL,
    itl_p99_ms                  REAL,
    e2e_p50_ms                  REAL,
    e2e_p99_ms                  REAL,
    queue_p99_ms                REAL,
    energy_j                    REAL,
    energy_net_j                REAL,
    energy_estimated            INTEGER NOT NULL CHECK (energy_estimated IN (0, 1)),
    j_per_request               REAL,
    j_per_output_token          REAL,
    wh_per_1000_requests        REAL,
    steady_s                    REAL,
    steady_energy_j             REAL,
    steady_energy_net_j         REAL,
    steady_output_tokens        REAL,
    steady_j_per_request        REAL,
    steady_j_per_output_token   REAL,
    steady_wh_per_1000_requests REAL,
    steady_note                 TEXT NOT NULL,
    j_per_input_token           REAL,
    avg_power_w                 REAL,
    idle_power_w                REAL,
    tokens_match                INTEGER NOT NULL CHECK (tokens_match IN (-1, 0, 1)),
    load_cpu_s                  REAL,
    server_json                 TEXT NOT NULL CHECK (json_valid(server_json)),
    workload_json               TEXT NOT NULL CHECK (json_valid(workload_json)),
    energy_json                 TEXT NOT NULL CHECK (json_valid(energy_json)),
    sensors_json                TEXT NOT NULL CHECK (json_valid(sensors_json)),
    result_json                 TEXT NOT NULL CHECK (json_valid(result_json)),
    started_at                  TEXT NOT NULL,
    finished_at                 TEXT NOT NULL,
    committed_at                TEXT NOT NULL,
    CHECK (sent = completed + failed + timed_out),
    UNIQUE (host_id, model_id, scheme_id, level, workload_fp, settings_fp)
) STRICT;
CREATE INDEX serve_levels_by_model_scheme ON serve_levels (model_id, scheme_id);
CREATE INDEX serve_levels_by_run ON serve_levels (run_id);
)sql";

const std::vector<const char *> & migrations() {
    static const std::vector<const char *> list = {kMigration1, kMigration2, kMigration3};
    return list;
}

const std::vector<const char *> & required_tables() {
    static const std::vector<const char *> list = {"meta", "hosts", "models", "schemes",
                                                   "runs", "cells", "items",  "timelines"};
    return list;
}

}  // namespace jb::sql
