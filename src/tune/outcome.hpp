#pragma once
// What a tune reports from the settings it measured, whatever it tuned (the engine's settings for a
// workload or a task, llama-server's for a served load): every setting's mean and interval, the
// choice under the constraints, its saving against the defaults, the J/token - throughput frontier
// and the notes about a budget that ended too soon.

#include <functional>
#include <string>
#include <vector>

#include "joulebench/tune.hpp"
#include "metrics/confidence.hpp"

namespace jb::tune {

struct MeasuredSetting {
    TuneSetting setting;  // what it is: params or server, suffix, label, is_default, stored, error
    metrics::SettingRuns runs;
};

// One setting's numbers from its runs: n, failure, mean J/token with its 95 % half-width, mean
// tokens/s, TTFT and latency ratio, and whether it meets the constraints (a failed one never does).
TuneSetting describe(const MeasuredSetting & m, const metrics::TuneConstraints & constraints);

// Fills out.settings (with n, means, intervals, feasibility, Pareto membership), out.defaults,
// out.best, out.best_feasible, the saving with its interval, out.pareto and the notes. Settings
// with neither a run nor a failure are left out. `incumbent` is the suffix of where the search
// ended ("" for none).
void summarise(const std::vector<MeasuredSetting> & measured, const metrics::TuneConstraints & constraints,
               int min_repeats, const std::string & incumbent, TuneOutcome & out);

// The trials a budget still allows: budget_trials less those run (no limit of that kind: a large
// number), and with budget_s the seconds left over the mean length of a trial so far.
int trials_left(int budget_trials, double budget_s, int trials_run, double trial_s, double elapsed_s);

// The pause after a trial (ML.ENERGY's benchmark pauses between runs as well), in short steps that
// end early when stop() says so.
void cooldown(double seconds, const std::function<bool()> & stop);

}  // namespace jb::tune
