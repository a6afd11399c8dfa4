#pragma once
// The one place where the store's cells become metrics::Row: recommend and report both read
// results through it, so a column means the same in every output.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joulebench/metrics.hpp"
#include "joulebench/store.hpp"

namespace jb::results {

// Every cell of the store (failed ones too, with ok = false), joined with its host (display name,
// device: the GPUs' names, else the CPU model), model (synthetic flag) and scheme (bits per
// weight, file size). A model's file size under a scheme is the scheme's recorded file size when
// only that model used the scheme, else parameters x bits per weight / 8 (docs/metrics.md).
// With `items`, each ok cell's per-item outcomes and chance level are read too (Row::items,
// Row::chance): what recommend's noise needs, and a query per cell.
std::vector<metrics::Row> load_rows(const Store & store, bool items = false);

// One cell's stored items as per-item outcomes of its primary metric (the item's score under that
// metric, else its "correct" flag), sorted by id, and the chance level: the mean over items of
// 1 / choices (multiple choice: the per-choice log-probabilities say how many), 0 for generation.
void item_outcomes(const std::vector<CellItem> & items, const std::string & primary_metric,
                   std::vector<metrics::ItemScore> & out, double & chance);

// A cell's power from its energy_json (the sweep's {"domains": [...]} or the documented per-domain
// object): avg_w = the sum of the domains' mean powers (they draw at once), peak_w = the highest
// domain's peak (domains peak at different moments, so a sum of peaks would overstate the total),
// or the sweep's "peak_total_w" (the peak of the summed timeline) where a cell has one; estimated
// domains count only when no domain is measured.
// NaN where the record has none.
void cell_power(const std::string & energy_json, double & avg_w, double & peak_w);

// The placement a sweep appended to a workload fingerprint (engine_options' placement_suffix,
// "|gpus=0,1|sm=tensor|ts=3,1") for display: "GPUs 0,1, tensor split, shares 3,1"; "" for none. A cell
// of sweep --engine tuned (kTunedSuffix) says "tuned".
std::string placement_label(const std::string & workload_fp);

// Whether a cell is a trial of `joulebench tune` (its fingerprint carries settings_suffix): left out of
// the rows that reports and recommendations read.
bool is_tune_trial(const std::string & workload_fp);
// The store's served levels without the trials of `joulebench tune` (ServeSpec::workload_suffix
// "|tune=r<repeat>|<settings>"), a level's repeated runs pooled (metrics::pool_repeats): what
// reports and recommendations read.
std::vector<ServeLevelRecord> reported_serve_levels(const Store & store);

// Whether one domain entry of a cell's energy_json is modelled (method "estimate", the CPU
// estimate), not measured: such domains never enter measured totals, sums or peaks.
bool is_estimated_domain(const nlohmann::json & domain);
// The names of the modelled domains in a cell's energy_json ({"domains": [...]}).
std::vector<std::string> estimated_domains(const nlohmann::json & energy);

// Gross energy per measured domain of a cell's energy_json ({"domains": [...]}), the modelled CPU
// estimate left out; empty unless there are at least two (a run on several GPUs).
std::vector<std::pair<std::string, double>> cell_domain_energy(const std::string & energy_json);

// "NVIDIA H100 80GB HBM3", "2x NVIDIA H100 80GB HBM3", or the CPU model when there is no GPU.
std::string host_device(const HostRecord & host);

}  // namespace jb::results
