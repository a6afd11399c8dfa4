#include "report/tune_trials.hpp"

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "report/report_util.hpp"

namespace jb::report {

Table tune_trials_table(const TuneOutcome & out) {
    Table t;
    t.title = "Engine settings tried";
    t.add_text_column("settings", "settings");
    t.add_text_column("role", "role");
    const bool served = out.serving;
    bool slo = false;
    for (const auto & s : out.settings) slo = slo || std::isfinite(s.latency_ratio);
    t.add_column("n", "n", 0);
    t.add_column("j_per_token", served ? "J/output token" : "J/token", 6);
    t.add_column("j_per_token_ci95", "\u00b1 95 %", 6);
    t.add_column("saving_pct", "saving vs defaults (%)", 1);
    t.add_column("tok_s", served ? "output tok/s" : "tok/s", 1);
    t.add_column("ttft_s", served ? "TTFT p99 (s)" : "TTFT (s)", 4);
    if (slo) t.add_column("latency_ratio", "latency/SLO", 3);
    t.add_flag_column("feasible", "feasible");
    t.add_flag_column("pareto", "Pareto");
    t.add_column("stored", "from earlier tunes", 0);
    t.add_text_column("error", "error");
    const double ref = out.defaults >= 0 ? out.settings[size_t(out.defaults)].j_per_token : NAN;
    for (size_t i = 0; i < out.settings.size(); ++i) {
        const TuneSetting & s = out.settings[i];
        std::string role = int(i) == out.best ? "best" : "";
        if (s.is_default) role += role.empty() ? "defaults" : ", defaults";
        std::vector<Value> row = {s.label, role, int64_t(s.n), real(s.j_per_token), real(s.j_per_token_ci),
                                  pct(1.0 - s.j_per_token / ref), real(s.tok_s), real(s.ttft_s)};
        if (slo) row.push_back(real(s.latency_ratio));
        for (Value v : {Value(int64_t(s.feasible)), Value(int64_t(s.pareto)), Value(int64_t(s.stored)), Value(s.error)})
            row.push_back(std::move(v));
        t.add_row(std::move(row));
    }
    if (served) {
        t.notes.push_back(
            "J/output token: gross energy of the measured domains in the level's steady window (every client "
            "busy; the whole level where it has none) over the output tokens generated in it, mean of n "
            "repeats; output tok/s and TTFT p99 of the whole level; latency/SLO: the worst target's value over "
            "its limit (<= 1 meets every target); \u00b1 95 %: t-based half-width; Pareto: no other setting has "
            "both less J/output token and more output tok/s");
    } else {
        t.notes.push_back(
            "J/token: gross energy of the measured domains over prefill + decode tokens, mean of n "
            "repeats; \u00b1 95 %: t-based half-width; Pareto: no other setting has both less J/token and "
            "more tok/s");
    }
    for (const auto & a : out.axes) t.notes.push_back("searched " + a);
    for (const auto & n : out.notes) t.notes.push_back(n);
    return t;
}

std::string tune_verdict(const TuneOutcome & out) {
    if (out.best < 0) return "no setting could be measured";
    const TuneSetting & b = out.settings[size_t(out.best)];
    const char * per = out.serving ? "output " : "";
    std::string line = fmt::format("best: {} at {:.6g} J/{}token (n {}), {:.1f} {}tok/s", b.label, b.j_per_token, per,
                                   b.n, b.tok_s, per);
    if (std::isfinite(out.saving)) {
        line += fmt::format("; saves {:.1f} % per token against the defaults", 100 * out.saving);
        line += std::isfinite(out.saving_lo)
                    ? fmt::format(" (95 % CI {:.1f} % to {:.1f} %)", 100 * out.saving_lo, 100 * out.saving_hi)
                    : std::string(" (too few repeats for an interval)");
    }
    return line + fmt::format(" [{} trial{} in {:.0f} s, {}]", out.trials, out.trials == 1 ? "" : "s", out.seconds,
                              out.stop_reason);
}

nlohmann::json tune_outcome_json(const TuneOutcome & out) {
    nlohmann::json doc = nlohmann::json::parse(render_table(tune_trials_table(out), Format::json));
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    doc["best"] = out.best >= 0 ? nlohmann::json(out.settings[size_t(out.best)].suffix) : nlohmann::json(nullptr);
    doc["serving"] = out.serving;
    if (!out.serve_options.empty()) doc["serve_options"] = out.serve_options;
    doc["best_feasible"] = out.best_feasible;
    doc["saving"] = num(out.saving);
    doc["saving_ci95"] = {num(out.saving_lo), num(out.saving_hi)};
    doc["workload_fp"] = out.workload_fp;
    doc["trials"] = out.trials;
    doc["seconds"] = out.seconds;
    doc["stop_reason"] = out.stop_reason;
    return doc;
}

}  // namespace jb::report
