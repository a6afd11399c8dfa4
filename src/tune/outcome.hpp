#pragma once
// What a tune reports from the settings it measured, whatever it tuned (the engine's settings for a
// workload or a task, llama-server's for a served load): every setting's mean and interval, the
// choice under the constraints, its saving against the defaults, the J/token - throughput frontier
// and the notes about a budget that ended too soon.

#include <string>
#include <vector>

#include "joulebench/tune.hpp"
#include "metrics/confidence.hpp"

namespace jb::tune {

struct MeasuredSetting {
    TuneSetting setting;  // what it is: params or server, suffix, label, is_default, stored, error
    metrics::SettingRuns runs;
};

// Fills out.settings (with n, means, intervals, feasibility, Pareto membership), out.defaults,
// out.best, out.best_feasible, the saving with its interval, out.pareto and the notes. Settings
// with neither a run nor a failure are left out. `incumbent` is the suffix of where the search
// ended ("" for none).
void summarise(const std::vector<MeasuredSetting> & measured, const metrics::TuneConstraints & constraints,
               int min_repeats, const std::string & incumbent, TuneOutcome & out);

}  // namespace jb::tune
