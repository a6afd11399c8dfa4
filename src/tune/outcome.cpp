#include "tune/outcome.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "joulebench/metrics.hpp"

namespace jb::tune {

TuneSetting describe(const MeasuredSetting & m, const metrics::TuneConstraints & constraints) {
    const metrics::SettingRuns & sr = m.runs;
    TuneSetting s = m.setting;
    s.n = sr.n();
    s.failed = sr.failed;
    const metrics::Interval ci = metrics::mean_ci95(sr.j_per_token);
    s.j_per_token = ci.mean;
    s.j_per_token_ci = ci.half_width;
    s.tok_s = metrics::mean_ci95(sr.tok_s).mean;
    s.ttft_s = metrics::mean_ci95(sr.ttft_s).mean;
    s.latency_ratio = metrics::mean_ci95(sr.latency_ratio).mean;
    s.feasible = !sr.failed && metrics::feasible(sr, constraints);
    return s;
}

int trials_left(int budget_trials, double budget_s, int trials_run, double trial_s, double elapsed_s) {
    int left = 1 << 30;
    if (budget_trials > 0) left = std::max(0, budget_trials - trials_run);
    if (budget_s > 0) {
        const double remaining = budget_s - elapsed_s;
        if (remaining <= 0) return 0;
        // Trials the remaining time holds at the mean trial's length so far (no bound when unknown).
        const double per_trial = trials_run > 0 ? trial_s / trials_run : 0.0;
        if (per_trial > 0) left = std::min(left, int(remaining / per_trial));
    }
    return left;
}

void cooldown(double seconds, const std::function<bool()> & stop) {
    using Clock = std::chrono::steady_clock;
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < until && !stop()) {
        std::this_thread::sleep_for(
            std::min(std::chrono::duration<double>(until - Clock::now()), std::chrono::duration<double>(0.1)));
    }
}

void summarise(const std::vector<MeasuredSetting> & measured, const metrics::TuneConstraints & constraints,
               int min_repeats, const std::string & incumbent, TuneOutcome & out) {
    std::vector<metrics::SettingRuns> list;
    for (const auto & m : measured) {
        if (m.runs.n() == 0 && !m.runs.failed) continue;
        TuneSetting s = describe(m, constraints);
        if (s.is_default) out.defaults = int(out.settings.size());
        out.settings.push_back(std::move(s));
        list.push_back(m.runs);
    }
    out.best = metrics::pick_setting(list, constraints, min_repeats);
    out.saving = out.saving_lo = out.saving_hi = NAN;
    if (out.best >= 0) {
        out.best_feasible = out.settings[size_t(out.best)].feasible;
        if (out.defaults >= 0) {
            const auto sv =
                metrics::saving_ci95(list[size_t(out.best)].j_per_token, list[size_t(out.defaults)].j_per_token);
            out.saving = sv.saving;
            out.saving_lo = sv.lo;
            out.saving_hi = sv.hi;
        }
    }
    // The J/token - throughput frontier over every measured setting: less energy per token, more
    // tokens per second.
    std::vector<metrics::ParetoPoint> points;
    std::vector<int> which;
    for (size_t i = 0; i < out.settings.size(); ++i) {
        const auto & s = out.settings[i];
        if (s.failed || s.n == 0 || !std::isfinite(s.tok_s) || !std::isfinite(s.j_per_token)) continue;
        points.push_back({s.tok_s, s.j_per_token});
        which.push_back(int(i));
    }
    for (size_t k : metrics::pareto_frontier(points)) {
        out.pareto.push_back(which[k]);
        out.settings[size_t(which[k])].pareto = true;
    }
    if (out.best >= 0 && !out.best_feasible) {
        out.notes.push_back("no setting met the constraints: the best is the one that came closest");
    }
    if (out.best >= 0 && out.settings[size_t(out.best)].n < min_repeats) {
        out.notes.push_back(
            fmt::format("the budget ended before the chosen setting had {} repeats: its interval is "
                        "wide or missing",
                        min_repeats));
    }
    // The descent's incumbent that looked better than the choice but had too few repeats to be it.
    if (out.best >= 0 && !incumbent.empty()) {
        const TuneSetting & b = out.settings[size_t(out.best)];
        for (const auto & s : out.settings) {
            if (s.suffix != incumbent || s.suffix == b.suffix || s.failed) continue;
            if (s.j_per_token < b.j_per_token && s.n < b.n) {
                out.notes.push_back(
                    fmt::format("{} looked better ({:.5g} J/token, n {}) but the budget ended before it "
                                "had the {} repeats to be chosen: a larger budget, or a tune run "
                                "again on the same database, settles it",
                                s.label, s.j_per_token, s.n, b.n));
            }
        }
    }
}

}  // namespace jb::tune
