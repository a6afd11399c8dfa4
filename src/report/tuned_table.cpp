// Tuned against default engine settings (sweep --engine tuned beside a plain sweep of the same cells),
// and the spread of the same cells across hosts of the same hardware.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "joulebench/engine_params.hpp"
#include "metrics/confidence.hpp"
#include "report/report.hpp"
#include "report/report_util.hpp"

namespace jb::report {

namespace {

// Each repeat's energy: its J/token times the tokens of a run (constant over a summary's repeats).
std::vector<double> energy_runs(const metrics::Summary & s) {
    std::vector<double> out;
    const double tokens = s.prefill_tokens + s.decode_tokens;
    for (double j : s.j_per_token_runs) out.push_back(j * tokens);
    return out;
}

// "-3.1 to 5.2" (percent), or empty when the interval is unknown.
Value interval_pct(double lo, double hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return Value();
    return fmt::format("{:.1f} to {:.1f}", 100 * lo, 100 * hi);
}

}  // namespace

Table tuned_table(const Analysis & a) {
    Table t;
    t.title = "Tuned vs default engine settings";
    t.add_text_column("host_name", "host");
    t.add_text_column("model_name", "model");
    t.add_text_column("task", "workload");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("settings", "tuned settings");
    t.add_column("default_n", "n default", 0);
    t.add_column("default_j_per_token", "J/token default", 5);
    t.add_column("default_ci95_pct", "\u00b1 95 % (%)", 1);
    t.add_column("tuned_n", "n tuned", 0);
    t.add_column("tuned_j_per_token", "J/token tuned", 5);
    t.add_column("tuned_ci95_pct", "\u00b1 95 % (%) ", 1);
    t.add_column("default_energy_j", "energy/run default (J)", 3);
    t.add_column("tuned_energy_j", "energy/run tuned (J)", 3);
    t.add_column("saving_pct", "energy saving per run vs default (%)", 1);
    t.add_text_column("saving_ci95_pct", "saving 95 % CI (%)");
    t.add_column("default_tok_s", "tok/s default", 1);
    t.add_column("tuned_tok_s", "tok/s tuned", 1);
    const std::string marker = kTunedSuffix;
    std::map<std::tuple<std::string, std::string, std::string, std::string>, const metrics::Summary *> plain;
    for (const auto & s : a.summaries) plain[{s.host, s.model, s.scheme_canonical, s.workload}] = &s;
    bool any_in_noise = false;
    for (const auto & s : a.summaries) {
        if (s.workload.size() <= marker.size() ||
            s.workload.compare(s.workload.size() - marker.size(), marker.size(), marker) != 0) {
            continue;
        }
        const std::string base = s.workload.substr(0, s.workload.size() - marker.size());
        const auto it = plain.find({s.host, s.model, s.scheme_canonical, base});
        if (it == plain.end()) continue;
        const metrics::Summary & d = *it->second;
        // The same work either way, so the saving is of the energy of a run: a task's J/token alone
        // misleads, as settings change how many tokens its shared contexts evaluate.
        const std::vector<double> e_tuned = energy_runs(s), e_default = energy_runs(d);
        const metrics::SavingInterval ci = metrics::saving_ci95(e_tuned, e_default);
        any_in_noise = any_in_noise || (std::isfinite(ci.lo) && ci.lo <= 0 && ci.hi >= 0);
        t.add_row({s.host_name, s.model_name, d.task, s.scheme, s.engine_settings, int64_t(d.j_per_token_runs.size()),
                   real(d.j_per_token), pct(d.j_per_token_ci95), int64_t(s.j_per_token_runs.size()),
                   real(s.j_per_token), pct(s.j_per_token_ci95), real(metrics::mean_ci95(e_default).mean),
                   real(metrics::mean_ci95(e_tuned).mean), pct(ci.saving), interval_pct(ci.lo, ci.hi), real(d.tok_s),
                   real(s.tok_s)});
    }
    if (!t.rows.empty()) {
        t.notes.push_back(
            "The same cells run with the engine options (default) and with the best settings `joulebench tune` "
            "stored for them (sweep --engine tuned): energy saving vs default = 1 - energy of a run tuned / default, positive when the tuned settings use less energy (the same work; "
            "for a synthetic workload also the J/token ratio, while a task's settings change how many tokens its "
            "shared contexts evaluate); its 95 % interval from the repeats of both (delta method on the log ratio).");
        if (any_in_noise) t.notes.push_back("a saving whose interval holds 0 is inside the repeats' noise");
    }
    return t;
}

Table host_spread_table(const Analysis & a) {
    Table t;
    t.title = "Spread across hosts of the same hardware";
    t.add_text_column("device", "hardware");
    t.add_text_column("model_name", "model");
    t.add_text_column("task", "workload");
    t.add_text_column("scheme", "scheme");
    t.add_column("hosts", "hosts", 0);
    t.add_text_column("host_names", "host names");
    t.add_column("j_per_token_min", "J/token least", 5);
    t.add_column("j_per_token_max", "J/token most", 5);
    t.add_column("spread_pct", "spread (%)", 1);
    t.add_column("repeat_ci95_pct", "repeats \u00b1 95 % (%)", 1);
    t.add_flag_column("beyond_noise", "beyond repeat noise");
    t.add_column("tok_s_spread_pct", "tok/s spread (%)", 1);
    using Key = std::tuple<std::string, std::string, std::string, std::string>;
    std::map<Key, std::vector<const metrics::Summary *>> groups;
    for (const auto & s : a.summaries) {
        if (s.projected || !std::isfinite(s.j_per_token) || s.device.empty()) continue;
        groups[{s.device, s.model, s.workload, s.scheme_canonical}].push_back(&s);
    }
    for (auto & [key, members] : groups) {
        std::set<std::string> hosts;
        for (const auto * m : members) hosts.insert(m->host);
        if (hosts.size() < 2) continue;
        std::sort(members.begin(), members.end(), [](const auto * x, const auto * y) {
            return std::tie(x->j_per_token, x->host_name) < std::tie(y->j_per_token, y->host_name);
        });
        const metrics::Summary & lo = *members.front();
        const metrics::Summary & hi = *members.back();
        std::string names;
        double worst_ci = NAN, tps_min = INFINITY, tps_max = 0;
        for (const auto * m : members) {
            names += (names.empty() ? "" : ", ") + m->host_name;
            if (std::isfinite(m->j_per_token_ci95) && !(m->j_per_token_ci95 <= worst_ci))
                worst_ci = m->j_per_token_ci95;
            if (std::isfinite(m->tok_s)) {
                tps_min = std::min(tps_min, m->tok_s);
                tps_max = std::max(tps_max, m->tok_s);
            }
        }
        // The hosts differ beyond their repeats' noise when the intervals of the least and the most
        // frugal host do not overlap.
        Value beyond;
        if (std::isfinite(lo.j_per_token_ci95) && std::isfinite(hi.j_per_token_ci95)) {
            beyond = int64_t(hi.j_per_token * (1 - hi.j_per_token_ci95) > lo.j_per_token * (1 + lo.j_per_token_ci95));
        }
        t.add_row({lo.device, lo.model_name, lo.task, lo.scheme, int64_t(members.size()), names, real(lo.j_per_token),
                   real(hi.j_per_token), pct(hi.j_per_token / lo.j_per_token - 1), pct(worst_ci), beyond,
                   tps_max > 0 && std::isfinite(tps_min) ? pct(tps_max / tps_min - 1) : Value()});
    }
    if (!t.rows.empty()) {
        t.notes.push_back(
            "The same cells (model, workload, scheme) on several hosts with the same GPUs: spread = J/token of the "
            "most / of the least frugal host - 1; repeats \u00b1 95 %: the widest interval of a host's own repeats "
            "(empty with one repeat: sweep --ci or --repeat gives more); beyond repeat noise: the two hosts' "
            "intervals do not overlap, so the machines themselves differ.");
    }
    return t;
}

}  // namespace jb::report
