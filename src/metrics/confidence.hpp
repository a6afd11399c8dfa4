#pragma once
// Confidence intervals over repeated measurements, and the two decisions built on them: when a
// cell has been repeated enough (sweep --ci, as hyperfine and google/benchmark repeat until the
// number is known), and which engine setting `joulebench tune` keeps. Plain arithmetic, no I/O.

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace jb::metrics {

// The 0.975 quantile of Student's t with `df` degrees of freedom (two-sided 95 %): exact to four
// digits from a table for df <= 30 (linear in 1/df between its entries, for Welch's fractional
// df), Abramowitz & Stegun 26.7.5 above. NaN for df < 1.
double student_t975(double df);

// Mean of repeats with its 95 % confidence interval (t-based); half_width is NaN for n < 2.
struct Interval {
    int n = 0;
    double mean = 0.0;
    double sd = 0.0;          // sample standard deviation (n - 1)
    double half_width = 0.0;  // t(0.975, n-1) x sd / sqrt(n)
    double lo() const { return mean - half_width; }
    double hi() const { return mean + half_width; }
    // half_width / |mean| (NaN when either is unknown or the mean is 0).
    double relative() const;
};
Interval mean_ci95(const std::vector<double> & values);  // NaNs are skipped

// 1 - mean(candidate) / mean(reference) (a saving: positive when the candidate costs less) with its
// 95 % interval from the delta method on the log of the ratio of two independent means, with
// Welch's degrees of freedom (the interval of the ratio stays positive: a saving stays under
// 100 %). lo/hi are NaN when either side has fewer than two values.
struct SavingInterval {
    double saving = 0.0;
    double lo = 0.0, hi = 0.0;
};
SavingInterval saving_ci95(const std::vector<double> & candidate, const std::vector<double> & reference);
// The same saving when the runs are paired (candidate[i] and reference[i] measured in the same
// round): centred on the ratio of the means, its spread t(0.975, n-1) x sd / sqrt(n) of the pairs'
// log ratios, so that what moves both sides of a pair (the round) leaves the interval. lo/hi are
// NaN for fewer than two pairs, unequal lengths or a value <= 0.
SavingInterval paired_saving_ci95(const std::vector<double> & candidate, const std::vector<double> & reference);

// sweep --ci: repeat a cell until the 95 % interval of its J/token is within target_pct of the
// mean (at least min_n repeats), or max_s seconds of repeats or max_n repeats have been spent.
struct RepeatRule {
    double target_pct = 2.0;
    int min_n = 3;
    int max_n = 100;
    double max_s = 300.0;
};
enum class RepeatStop { more, ci, time, count };
const char * repeat_stop_name(RepeatStop s);  // "", "ci", "time", "count"
// After the repeats so far (values, their total seconds): stop, and why, or measure again.
RepeatStop repeat_decision(const std::vector<double> & values, double elapsed_s, const RepeatRule & rule);

// What `joulebench tune` optimises and under which constraints.
struct TuneConstraints {
    std::optional<double> min_tok_s;   // mean tokens per second at least this
    std::optional<double> max_ttft_s;  // mean time to first token at most this
    // mean latency ratio at most this: a served level's worst value / limit over the targets of a
    // latency SLO (1 when an SLO is given: every target met)
    std::optional<double> max_latency_ratio;
};
// One engine setting's measurements (one entry per repeat; NaN where a repeat did not measure one).
struct SettingRuns {
    std::vector<double> j_per_token, tok_s, ttft_s, latency_ratio;
    bool failed = false;  // a repeat failed: never chosen
    int n() const { return int(j_per_token.size()); }
};
// One measured repeat of a setting (a tune trial, or a stored served level read as one).
struct Trial {
    bool ok = true;
    double j_per_token = 0.0, tok_s = 0.0, ttft_s = 0.0;
    double latency_ratio = NAN;  // a served level: worst value / limit over the SLO's targets
};
// Adds one repeat to a setting's runs (a failed one marks the setting failed).
void add_trial(SettingRuns & runs, const Trial & t);

// Whether the means meet every constraint (an unknown TTFT fails a TTFT constraint).
bool feasible(const SettingRuns & s, const TuneConstraints & c);
// How far the means miss the constraints: the sum of the relative shortfalls, 0 when feasible.
double violation(const SettingRuns & s, const TuneConstraints & c);
// The ranking of the search: a feasible setting before an infeasible one; among feasible ones the
// lower mean J/token; among infeasible ones the smaller violation. Failed settings rank last.
bool ranks_before(const SettingRuns & a, const SettingRuns & b, const TuneConstraints & c);
// The setting to keep: the best-ranked one among those measured at least min(min_n, the most
// repeats any has) times, so that a single lucky repeat never beats a setting measured often.
// -1 when no setting has a successful run.
int pick_setting(const std::vector<SettingRuns> & settings, const TuneConstraints & c, int min_n);

}  // namespace jb::metrics
