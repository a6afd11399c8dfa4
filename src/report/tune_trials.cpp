#include "report/tune_trials.hpp"

#include <cmath>
#include <string>
#include <utility>

namespace jb::report {

namespace {

Value real(double v) {
    return std::isfinite(v) ? Value(v) : Value();
}
Value pct(double fraction) {
    return std::isfinite(fraction) ? Value(100.0 * fraction) : Value();
}

}  // namespace

Table tune_trials_table(const TuneOutcome & out) {
    Table t;
    t.title = "Engine settings tried";
    for (auto [name, header] : {std::pair{"settings", "settings"}, {"role", "role"}}) {
        t.add_column(name, header);
        t.columns.back().right_align = false;
    }
    t.add_column("n", "n", 0);
    t.add_column("j_per_token", "J/token", 6);
    t.add_column("j_per_token_ci95", "\u00b1 95 %", 6);
    t.add_column("saving_pct", "saving vs defaults (%)", 1);
    t.add_column("tok_s", "tok/s", 1);
    t.add_column("ttft_s", "TTFT (s)", 4);
    t.add_column("feasible", "feasible", 0);
    t.add_column("pareto", "Pareto", 0);
    t.add_column("stored", "from earlier tunes", 0);
    t.add_column("error", "error");
    t.columns.back().right_align = false;
    const double ref = out.defaults >= 0 ? out.settings[size_t(out.defaults)].j_per_token : NAN;
    for (size_t i = 0; i < out.settings.size(); ++i) {
        const TuneSetting & s = out.settings[i];
        std::string role = int(i) == out.best ? "best" : "";
        if (s.is_default) role += role.empty() ? "defaults" : ", defaults";
        t.add_row({s.label, role, int64_t(s.n), real(s.j_per_token), real(s.j_per_token_ci),
                   pct(1.0 - s.j_per_token / ref), real(s.tok_s), real(s.ttft_s), int64_t(s.feasible),
                   int64_t(s.pareto), int64_t(s.stored), s.error});
    }
    t.notes.push_back(
        "J/token: gross energy of the measured domains over prefill + decode tokens, mean of n "
        "repeats; \u00b1 95 %: t-based half-width; Pareto: no other setting has both less J/token and "
        "more tok/s");
    for (const auto & a : out.axes) t.notes.push_back("searched " + a);
    for (const auto & n : out.notes) t.notes.push_back(n);
    return t;
}

}  // namespace jb::report
