#pragma once
// The results report: every summary table (terminal, Markdown, CSV, JSON, HTML) and the
// self-contained HTML page with its SVG charts, built from the metrics of a results database.
//
// The CLI fills a ReportInput from the store (rows through results::load_rows, the host, model and
// scheme records, the sensors each cell recorded, one cell's power timeline); everything here is
// plain data in, text out. The store's records are used as plain structs only: this module calls
// nothing of the store and does not link it.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "metrics/cost.hpp"
#include "metrics/family.hpp"
#include "joulebench/metrics.hpp"
#include "joulebench/table.hpp"
#include "joulebench/store.hpp"
#include "joulebench/timeline.hpp"

namespace jb::report {

// A sensor as the cells of one host recorded it (cells' sensors_json).
struct SensorUse {
    std::string host_name;
    std::string domain;  // "gpu:0", "cpu-package:0"
    std::string name;    // "NVML", "RAPL", "TDP x CPU utilisation"
    std::string kind;    // counter, power, ...
    std::string method;  // counter, samples, estimate
    std::string driver;
    double update_hz = 0.0;  // 0: not recorded
    int64_t n_cells = 0;     // cells that recorded it
};

// How the energies of one host's domain were obtained (cells' energy_json), and in how many cells.
struct EnergyMethodUse {
    std::string host_name;
    std::string domain;
    std::string method;  // counter, samples, estimate
    int64_t n_cells = 0;
};

// A failed cell: shown, never measured.
struct FailedCell {
    std::string host_name, model_name, scheme, task;
    int64_t repeat = 0;
    std::string error;
};

// The cell whose power timeline the report plots.
struct TimelineCell {
    int64_t cell_id = 0;
    std::string host_name, model_name, scheme, task;
    bool estimated = false;
    std::set<std::string> estimate_domains;  // domains modelled, not measured (energy_json method "estimate")
    PowerTimeline timeline;
};

// How many cells ran, or had their idle baseline measured, beside other load: energy_json's
// "cpu_load" / "idle_cpu_load" with "busy": true (the sweep's check, docs/energy.md "Other load").
struct CpuLoadCounts {
    size_t busy_cells = 0;       // the cell's own window
    size_t busy_idle_cells = 0;  // the idle baseline its net energy uses
    double max_other_cpus = 0.0;  // the most CPUs other processes kept busy in a flagged window
    void add(const std::string & energy_json);
};
// The lines report and recommend show for them ("3 of 24 cells ran beside other load ..."); none
// when no cell was flagged.
std::vector<std::string> cpu_load_notes(const CpuLoadCounts & load, size_t n_cells);

struct ReportInput {
    std::string source;        // the database's path, as the user named it
    std::string generated_at;  // ISO 8601 UTC
    std::string title = "joulebench report";
    std::vector<metrics::Row> rows;  // every cell; failed ones (ok = false) are listed, not measured
    std::vector<HostRecord> hosts;
    std::vector<ModelRecord> models;
    std::vector<SchemeRecord> schemes;
    std::vector<SensorUse> sensors;
    std::vector<std::string> unavailable;  // "host: what: reason", sensors a host could not use
    std::vector<EnergyMethodUse> energy_methods;
    std::vector<FailedCell> failed;
    std::optional<TimelineCell> timeline;
    metrics::Options options;
    // Hardware tiers and prices per device (the CLI matches devices to the hardware catalogue):
    // the decision matrix's Cost, and the cost per million tokens with --usd-per-kwh.
    metrics::CostModel cost;
    std::vector<std::string> cost_notes;  // where each device's price came from
    std::string cost_formula;             // the formula with its parameters, said under the tables
    // The store's model relations (sweep --family): distilled vs base comparisons.
    std::vector<metrics::FamilyMember> families;
    // Served load levels (joulebench serve) and the SLO that picks their operating points
    // ("ttft_p99=2s,tpot_p99=50ms"; "": the serving profile's default). report/serving.hpp.
    std::vector<ServeLevelRecord> serve_levels;
    std::string slo;
    // Cells that ran beside other load (add_cell_provenance reads energy_json's cpu_load).
    CpuLoadCounts load;
};

// Adds what one cell recorded about its sensors (sensors_json) and its energy's method
// (energy_json) to the input's provenance. Tolerates both the documented per-domain object and
// the sweep's {"sensors": [...], "unavailable": [...]} form; unreadable JSON is skipped (the
// provenance section says so rather than failing the report).
void add_cell_provenance(ReportInput & in, const std::string & host_name, const std::string & sensors_json,
                         const std::string & energy_json);

// A line the report must show before any number: estimated energy, synthetic models, ...
struct Warning {
    std::string kind;  // "estimated", "mixed", "synthetic", "failed", "reference", "load", ...
    std::string text;
};

// Everything the outputs show, computed once from the rows.
struct Analysis {
    std::vector<metrics::Summary> summaries;  // ok rows only
    std::vector<metrics::Candidate> candidates;
    struct Decision {
        std::string model_name;
        metrics::Recommendation rec;
    };
    std::vector<Decision> decisions;        // builtin profiles x models
    std::vector<metrics::FamilyComparison> families;  // distilled vs base (metrics::compare_families)
    std::vector<std::string> family_notes;            // families that could not be compared, and why
    std::string reference;                  // the reference scheme (options.reference)
    std::vector<std::string> scheme_order;  // reference first, then by bits per weight, descending
    std::vector<Warning> warnings;          // banners, in order of severity
    std::vector<std::string> missing_references;
    bool any_estimated = false, any_measured = false, any_synthetic = false;
    bool any_projected = false;  // some rows are projected to another GPU, not measured
    size_t n_hosts = 0;          // distinct hosts with successful cells
    // Scored tasks (mmlu, ...) and unscored synthetic workloads (tg256r5, pp2048r30: no accuracy).
    bool any_scored = false, any_unscored = false;
};
Analysis analyze(const ReportInput & in);

// Tables, each with a machine name; the same columns in every format.
struct NamedTable {
    // "summary", "overall", "tokens", "decision", "hardware", "hardware_tokens", "host_spread", "tuned",
    // "families", "serving", "serving_latency", "serving_frontier", "hosts", "sensors", "energy", "models",
    // "schemes", "failed"
    std::string name;
    Table table;
};
std::vector<NamedTable> report_tables(const ReportInput & in, const Analysis & a);
// scheme x task: score ± stderr, retention, energy, J/token by phase, tokens/s, EOR, TWEOR, gain.
// Every cell of a store as a sweep prints it at its end: model, scheme, task, repeat, status, score,
// energy, J/token by phase, time; failed cells with their error.
Table sweep_cells_table(const std::vector<CellRecord> & cells);

Table summary_table(const std::vector<metrics::Summary> & summaries, const std::vector<std::string> & scheme_order,
                    const std::string & reference = "fp16");
// Each scheme on each host over all the tasks it shares with the reference (metrics::Candidate).
Table candidate_table(const Analysis & a);
// Unscored synthetic workloads x schemes: tokens/s, J/token gross and net and by phase, saving
// per token against the reference, mean and peak power. Empty when every task is scored.
Table token_table(const Analysis & a);
// Builtin profiles x models: the recommended (hardware, scheme) and why, with the hardware's cost
// tier and cost per million tokens, and whether the row is projected.
Table decision_table(const Analysis & a, const metrics::Options & options);
// Each scheme of each model on every host that ran it, hosts side by side (sorted by model, scheme,
// then host), with the energy against the most frugal host for that scheme. Empty with one host.
Table hardware_table(const Analysis & a);
// The same for unscored synthetic workloads: each (model, workload, scheme) on every host that ran
// it, with tokens/s and J/token by phase and J/token against the most frugal host. Empty with one host.
Table hardware_token_table(const Analysis & a);
// Cells run with the best tuned engine settings (sweep --engine tuned) beside the same cells with the
// engine options: J/token of each with its interval, the saving with its interval, tokens/s.
// Empty when no cell has both (tuned_table.cpp).
Table tuned_table(const Analysis & a);
// The same (model, workload, scheme) on two or more hosts of the same hardware (a merged database):
// least and most J/token, the spread between them, and whether it exceeds the hosts' own repeat
// noise. Empty without such cells (tuned_table.cpp).
Table host_spread_table(const Analysis & a);
// Distilled vs base per family, host, scheme and task (metrics::FamilyComparison), with the study's
// 19.8 % next to ours in the notes. Empty without families.
Table family_table(const std::vector<metrics::FamilyComparison> & rows, const std::vector<std::string> & notes,
                   const std::string & reference);
// "fam on node1 (fp16, 2 tasks): distillation saves 30.0 % energy at 95.0 % retention; the study reports 19.8 %":
// one sentence per family and host under the reference scheme (or the first scheme when it has none).
std::vector<std::string> family_headlines(const std::vector<metrics::FamilyComparison> & rows,
                                          const std::string & reference);

// Names accepted by --table: the table names above, and "all".
std::vector<std::string> table_names();

// Prints the chosen tables (empty: all) in a text format. Markdown gets a heading per table and
// the banner lines first; JSON is one document {"source", "generated_at", "warnings", "tables"};
// CSV holds exactly one table (a jb::UsageError otherwise, naming --table).
void print_report_tables(std::ostream & os, const ReportInput & in, Format format,
                         const std::vector<std::string> & tables = {});

// The self-contained HTML page: inline CSS, inline SVG, no scripts, no external references.
std::string render_html(const ReportInput & in);

// A Table as an HTML <table> (class "data", numbers right-aligned, empty cells as a dash). The
// subrow columns (long text: notes, reasons) go in a second row under each row, across the table.
std::string html_table(const Table & t, const std::string & id, const std::vector<std::string> & subrow_columns = {});

}  // namespace jb::report
