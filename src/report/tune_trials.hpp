#pragma once
// The table of one tune's trials (joulebench tune): every setting measured, its J/token with the
// interval, saving against the defaults, throughput, feasibility under the constraints, Pareto;
// the verdict line and the JSON document.

#include <string>

#include <nlohmann/json.hpp>

#include "joulebench/table.hpp"
#include "joulebench/tune.hpp"

namespace jb::report {

Table tune_trials_table(const TuneOutcome & outcome);

// One line: the best setting, its J/token and throughput, the saving against the defaults with its
// interval, the trials, time and why the search stopped.
std::string tune_verdict(const TuneOutcome & outcome);

// -o json: the table, and best (settings suffix), serving, serve_options (a served load's best as
// `joulebench serve` options), best_feasible, saving with its 95 % interval, workload_fp, trials,
// seconds, stop_reason.
nlohmann::json tune_outcome_json(const TuneOutcome & outcome);

}  // namespace jb::report
