#pragma once
// The table of one tune's trials (joulebench tune): every setting measured, its J/token with the
// interval, saving against the defaults, throughput, feasibility under the constraints, Pareto.

#include "joulebench/table.hpp"
#include "joulebench/tune.hpp"

namespace jb::report {

Table tune_trials_table(const TuneOutcome & outcome);

}  // namespace jb::report
