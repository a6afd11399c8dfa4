// The recommendation from a results database: per model and profile the best (hardware, scheme)
// with its noise, or every candidate, or the model families. Definitions: docs/metrics.md.

#include "results/recommend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "metrics/cost.hpp"
#include "metrics/family.hpp"
#include "quant/scheme.hpp"
#include "report/report.hpp"
#include "report/report_util.hpp"
#include "results/family.hpp"
#include "results/store_rows.hpp"

namespace jb::results {

namespace {

bool any_constraint(const RecommendRequest & r) {
    return r.min_retention || r.max_memory_gib || r.max_latency_s || r.max_ttft_s || r.max_j_per_token;
}

// --min-retention takes 0.98 or 98 (%).
double retention_fraction(double v) {
    if (!(v >= 0.0) || v > 100.0)
        throw UsageError(fmt::format("--min-retention must be in 0..1 or 0..100 % (got {})", v));
    return v > 1.0 ? v / 100.0 : v;
}

void check_positive(const char * name, const std::optional<double> & v) {
    if (v && !(*v > 0.0)) throw UsageError(fmt::format("{} must be > 0 (got {})", name, *v));
}

int64_t gib_bytes(double gib) {
    return int64_t(std::llround(gib * double(int64_t(1) << 30)));
}

// Constraint options tighten the profile they are applied to (custom, or one named profile).
void apply_constraints(metrics::Profile & p, const RecommendRequest & o) {
    if (o.min_retention) p.min_retention = retention_fraction(*o.min_retention);
    if (o.max_memory_gib) p.max_memory_bytes = gib_bytes(*o.max_memory_gib);
    if (o.max_latency_s) p.max_latency_s = o.max_latency_s;
    if (o.max_ttft_s) p.max_ttft_s = o.max_ttft_s;
    if (o.max_j_per_token) p.max_j_per_token = o.max_j_per_token;
}

std::string join(const std::vector<std::string> & names, const char * sep = ", ") {
    std::string out;
    for (const auto & n : names) out += (out.empty() ? "" : sep) + n;
    return out;
}

using report::pct;
using report::real;

// The flags a row carries, and once per table what each means.
struct Flags {
    bool synthetic = false, estimated = false, mixed = false, partial = false, projected = false, chance = false,
         short_window = false;

    std::string of(const metrics::Candidate & c) {
        std::vector<std::string> f;
        auto add = [&](bool on, bool & seen, const char * name) {
            if (!on) return;
            f.push_back(name);
            seen = true;
        };
        add(c.synthetic, synthetic, "synthetic");
        add(c.estimated, estimated, "estimated");
        add(c.mixed_estimate, mixed, "mixed");
        add(c.partial(), partial, "partial");
        add(c.projected, projected, "projected");
        add(!c.synthetic && !c.chance_tasks.empty(), chance, "chance");
        add(c.short_windows, short_window, "short");
        return join(f, ",");
    }

    void explain(Table & t, const std::string & reference) const {
        if (synthetic) t.notes.push_back("synthetic: random-weight model, accuracy is chance; retention is meaningless");
        if (estimated)
            t.notes.push_back("estimated: energy is a model of the hardware (TDP per CPU x CPU time), not a measurement");
        if (mixed) t.notes.push_back("mixed: a ratio compares an estimated energy with a measured one");
        if (partial) {
            t.notes.push_back(fmt::format("partial: lacks a task {} ran (a real gap: the note names it)", reference));
        }
        if (projected) {
            t.notes.push_back(
                "projected: modelled for that GPU from measurements on other hardware (joulebench project), not "
                "measured on it");
        }
        if (chance) {
            t.notes.push_back(
                "chance: scores at or below chance on some task (1 / choices; 0 for generation): accuracy there is "
                "guessing");
        }
        if (short_window) {
            t.notes.push_back(fmt::format(
                "short: some energy comes from a window under {:g} s (+-10-20 % or more; the intervals include it)",
                metrics::kShortWindowS));
        }
    }
};

// "tie: +4.1 % (-31.0 ... +52.3)" / "+15.6 % (+8.0 ... +23.1)": the best's lead over the runner-up.
std::string lead_text(const metrics::Recommendation & rec) {
    if (!rec.margin) return "";
    const metrics::Margin & m = *rec.margin;
    auto p = [](double f) {
        if (!std::isfinite(f)) return std::string("?");
        return fmt::format("{:+.1f}", std::abs(f * 100.0) < 0.05 ? 0.0 : f * 100.0);
    };
    // A tie whose lead is clear of 0 is a tie on the retention floor (the runner-up misses it by
    // less than its noise).
    const std::string tie = !rec.tie ? "" : m.distinguishable ? "tie on retention: " : "tie: ";
    if (!m.noise_known) return fmt::format("{}{} % (noise unknown)", tie, p(m.value));
    return fmt::format("{}{} % ({} \u2026 {})", tie, p(m.value), p(m.lo), p(m.hi));
}

// One line per (host, model) whose reference scored 0 on some compared task.
std::vector<std::string> zero_reference_notes(const std::vector<metrics::Candidate> & cands) {
    std::vector<std::string> out;
    for (const auto & c : cands) {
        if (!c.is_reference || c.zero_reference_tasks.empty()) continue;
        out.push_back(fmt::format(
            "{} on {} ({}) scored 0 on {}: retention is undefined on {} task alone; the workload's retention is the "
            "ratio of mean scores, to which {} adds each scheme's score and nothing for the reference, and the energy "
            "counts in full",
            c.scheme, c.model_name, c.host_name, join(c.zero_reference_tasks),
            c.zero_reference_tasks.size() == 1 ? "that" : "each such",
            c.zero_reference_tasks.size() == 1 ? "it" : "each"));
    }
    return out;
}

Table candidate_table(const std::vector<metrics::Candidate> & cands, const RecommendRequest & o,
                      const std::vector<std::string> & cost_notes) {
    const bool cost = o.cost.usd_per_kwh > 0;
    Table t;
    t.title = fmt::format("Candidates vs {} (grid {:g} gCO2e/kWh)", o.reference, o.grid_g_per_kwh);
    for (const char * name : {"model", "hardware", "scheme"}) {
        t.add_column(name, name, 0);
        t.columns.back().right_align = false;
    }
    t.add_column("tasks", "tasks", 0);
    t.add_column("accuracy_pct", "accuracy (%)", 2);
    t.add_column("accuracy_stderr_pct", "\u00b1 (%)", 2);
    t.add_column("retention_pct", "retention (%)", 2);
    t.add_column("retention_lo_pct", "retention low (%)", 1);
    t.add_column("retention_hi_pct", "retention high (%)", 1);
    t.add_column("energy_wh", "energy (Wh)", 5);
    t.add_column("energy_saving_pct", fmt::format("energy saving vs {} (%)", o.reference), 1);
    t.add_column("eor", "EOR (%/Wh)", 1);
    t.add_column("eor_gain_pct", "EOR gain (%)", 1);
    t.add_column("tweor", "TWEOR", 1);
    t.add_column("latency_s", "latency (s)", 2);
    t.add_column("ttft_s", "TTFT (s)", 3);
    t.add_column("j_per_token", "J/token", 5);
    t.add_column("model_mib", "model (MiB)", 2);
    t.add_column("gco2e_g", "gCO2e", 4);
    t.add_column("tok_s", "tok/s", 1);
    t.add_column("cost_tier", "cost tier", 0);
    t.columns.back().right_align = false;
    if (cost) {
        t.add_column("cost_usd", "energy cost (USD)", 6);
        t.add_column("usd_per_mtok", "cost (USD/Mtok)", 4);
    }
    t.add_flag_column("pareto", "Pareto");
    t.add_column("flags", "flags", 0);
    t.columns.back().right_align = false;
    Flags flags;
    for (const auto & c : cands) {
        const auto [lo, hi] = c.is_reference ? std::pair<double, double>{NAN, NAN} : metrics::retention_interval(c);
        std::vector<Value> row = {c.model_name,
                                  metrics::candidate_hardware(c),
                                  c.scheme,
                                  int64_t(c.n_tasks),
                                  pct(c.score),
                                  pct(c.score_stderr),
                                  pct(c.retention),
                                  pct(lo),
                                  pct(hi),
                                  real(c.energy_wh),
                                  pct(c.energy_saving),
                                  real(c.eor),
                                  pct(c.gain),
                                  real(c.tweor),
                                  real(c.latency_s),
                                  real(c.ttft_s),
                                  real(c.j_per_token),
                                  c.model_bytes > 0 ? Value(double(c.model_bytes) / double(1 << 20)) : Value(),
                                  real(c.gco2e),
                                  real(c.tok_s),
                                  c.cost_tier};
        if (cost) {
            row.push_back(real(c.usd));
            row.push_back(real(c.usd_per_mtok));
        }
        row.push_back(std::string(c.pareto ? "yes" : ""));
        row.push_back(flags.of(c));
        t.add_row(std::move(row));
        if (!c.note.empty()) t.notes.push_back(fmt::format("{} {}: {}", c.scheme, c.host_name, c.note));
        if (!c.synthetic && !c.chance_tasks.empty()) {
            t.notes.push_back(fmt::format("{} {}: at or below chance on {}", c.scheme, c.host_name,
                                          join(c.chance_tasks)));
        }
    }
    t.notes.push_back(fmt::format(
        "retention = sum of scores / sum of {}'s scores over the tasks both ran (the ratio of mean scores); low/high: "
        "its 95 % interval (paired bootstrap over items, docs/metrics.md); 1 + EOR gain = retention / (1 - saving)",
        o.reference));
    for (const auto & n : zero_reference_notes(cands)) t.notes.push_back(n);
    flags.explain(t, o.reference);
    t.notes.insert(t.notes.end(), cost_notes.begin(), cost_notes.end());
    if (cost) t.notes.push_back(cost_formula_note(o.cost));
    return t;
}

// Why nothing at all can be compared: no reference cell, or a reference that is no scheme.
[[noreturn]] void no_candidates(const std::string & db, const RecommendRequest & o,
                                const std::vector<metrics::Row> & rows, const std::vector<std::string> & missing) {
    std::set<std::string> schemes;
    bool reference_ran = false;
    for (const auto & r : rows) {
        if (!r.ok) continue;
        schemes.insert(r.scheme);
        reference_ran = reference_ran || r.scheme == o.reference || r.scheme_canonical == o.reference;
    }
    std::string why;
    if (!reference_ran) {
        why = fmt::format(": the database has no successful {} cell (its schemes: {}); sweep {} too, or pass one of "
                          "its schemes with --reference",
                          o.reference, join({schemes.begin(), schemes.end()}), o.reference);
    }
    for (const auto & m : missing) why += "\n  " + m;
    throw Error(fmt::format("{}: nothing to recommend: no scheme can be compared with the reference scheme '{}'{}", db,
                            o.reference, why));
}

}  // namespace

std::vector<metrics::Profile> selected_profiles(const RecommendRequest & o) {
    if (!(o.grid_g_per_kwh >= 0.0))
        throw UsageError(fmt::format("--grid-g-per-kwh must be >= 0 (got {})", o.grid_g_per_kwh));
    check_cost_params(o.cost);
    check_positive("--max-memory-gb", o.max_memory_gib);
    check_positive("--max-latency-s", o.max_latency_s);
    check_positive("--max-ttft-s", o.max_ttft_s);
    check_positive("--max-j-per-token", o.max_j_per_token);
    if (o.profile != "all") {
        metrics::Profile p = metrics::find_profile(o.profile);
        apply_constraints(p, o);
        if (p.name == "custom" && !any_constraint(o)) {
            throw UsageError(
                "--profile custom needs at least one of --min-retention, --max-memory-gb, "
                "--max-latency-s, --max-ttft-s, --max-j-per-token");
        }
        return {p};
    }
    std::vector<metrics::Profile> out = metrics::builtin_profiles();
    for (auto & p : out) {
        if (p.max_memory_bytes && o.max_memory_gib) p.max_memory_bytes = gib_bytes(*o.max_memory_gib);
    }
    if (any_constraint(o)) {
        metrics::Profile custom = metrics::find_profile("custom");
        apply_constraints(custom, o);
        out.push_back(custom);
    }
    return out;
}

RecommendResult recommend(const Store & store, const std::string & db, const RecommendRequest & o) {
    const std::vector<metrics::Profile> profiles = selected_profiles(o);

    const std::vector<metrics::Row> rows = load_rows(store, /*items=*/true);
    size_t n_ok = 0;
    bool reference_in_db = false;
    for (const auto & r : rows) {
        n_ok += r.ok ? 1 : 0;
        reference_in_db = reference_in_db || r.scheme == o.reference || r.scheme_canonical == o.reference;
    }
    if (n_ok == 0) {
        throw Error(fmt::format("{}: no successful cells ({} failed); run `joulebench sweep ... --db {}` first", db,
                                rows.size(), db));
    }
    // A reference that is no scheme at all is a typo, not a gap: say so before any hint names it.
    if (!reference_in_db) {
        try {
            parse_scheme(o.reference);
        } catch (const UsageError & e) {
            throw UsageError(fmt::format("--reference {}: {}", o.reference, e.what()));
        }
    }

    metrics::Options mo;
    mo.reference = o.reference;
    mo.grid_g_per_kwh = o.grid_g_per_kwh;
    mo.usd_per_kwh = o.cost.usd_per_kwh;
    const std::vector<metrics::Summary> summaries = metrics::summarize(rows, mo);
    std::vector<metrics::Candidate> cands = metrics::candidates(summaries, o.reference);
    std::vector<std::string> cost_notes;
    metrics::price_candidates(cands, cost_model(rows, o.cost, cost_notes));
    {  // cells measured beside other load (docs/energy.md, "Other load"): said under the tables too
        report::CpuLoadCounts load;
        for (const auto & c : store.list_cells()) load.add(c.ok() ? c.energy_json : "{}");
        for (auto & n : report::cpu_load_notes(load, n_ok)) cost_notes.push_back(std::move(n));
    }

    RecommendResult out;
    std::vector<std::string> family_notes;
    const std::vector<metrics::FamilyComparison> families =
        metrics::compare_families(summaries, load_family_members(store), o.reference, &family_notes);
    if (o.view == RecommendRequest::View::families) {
        if (families.empty()) {
            std::string why;
            for (const auto & n : family_notes) why += "\n  " + n;
            throw Error(fmt::format(
                "{}: no model family to compare (record one with joulebench sweep --family "
                "base=teacher.gguf,distilled=student.gguf){}",
                db, why));
        }
        out.tables.push_back(report::family_table(families, family_notes, o.reference));
        return out;
    }
    if (!families.empty()) out.families = report::family_table(families, family_notes, o.reference);

    out.missing = metrics::missing_references(summaries, o.reference);
    if (cands.empty() &&
        std::none_of(summaries.begin(), summaries.end(), [](const metrics::Summary & s) { return s.scored; })) {
        throw Error(fmt::format(
            "{}: nothing to recommend: recommendations rank accuracy per energy, and every cell is an unscored "
            "synthetic workload (tg256r5, pp2048r30, ...); sweep a scored task (mmlu, hellaswag, ...), or see "
            "`joulebench report {}` for J/token and speed",
            db, db));
    }
    if (cands.empty()) no_candidates(db, o, rows, out.missing);
    if (o.view == RecommendRequest::View::candidates) {
        out.tables.push_back(candidate_table(cands, o, cost_notes));
        return out;
    }

    // One recommendation per model and profile: retention is relative to each model's own
    // reference, so candidates of different models are not ranked against each other.
    std::vector<std::string> model_order;
    std::map<std::string, std::vector<metrics::Candidate>> by_model;
    for (const auto & c : cands) {
        if (!by_model.count(c.model)) model_order.push_back(c.model);
        by_model[c.model].push_back(c);
    }

    const bool cost = o.cost.usd_per_kwh > 0;
    Table t;
    t.title = fmt::format("Recommendation per profile vs {} (decision matrix)", o.reference);
    for (const char * name : {"profile", "model", "rank", "hardware", "scheme"}) {
        t.add_column(name, name, 0);
        t.columns.back().right_align = false;
    }
    t.add_column("retention_pct", "accuracy retention (%)", 2);
    t.add_column("eor_gain_pct", "efficiency gain (EOR, %)", 1);
    t.add_column("energy_saving_pct", fmt::format("energy saving vs {} (%)", o.reference), 1);
    t.add_column("eor", "EOR (%/Wh)", 1);
    t.add_column("energy_wh", "energy (Wh)", 5);
    t.add_column("latency_s", "latency (s)", 2);
    t.add_column("gco2e_g", "gCO2e", 4);
    t.add_column("cost_tier", "cost tier", 0);
    t.columns.back().right_align = false;
    if (cost) {
        t.add_column("cost_usd", "energy cost (USD)", 6);
        t.add_column("usd_per_mtok", "cost (USD/Mtok)", 4);
    }
    t.add_column("lead", "lead over runner-up (95 % interval)", 0);
    t.columns.back().right_align = false;
    t.add_column("flags", "flags", 0);
    t.columns.back().right_align = false;
    if (o.why_column) {
        t.add_column("why", "why", 0);
        t.columns.back().right_align = false;
    }

    Flags flags;
    bool any_best = false;
    std::set<std::string> seen_notes;
    std::vector<std::string> whys, notes, failures;
    for (const auto & model : model_order) {
        const auto & mc = by_model[model];
        const std::string model_name = mc.front().model_name.empty() ? model : mc.front().model_name;
        for (const auto & profile : profiles) {
            const metrics::Recommendation rec = metrics::recommend(mc, profile);
            auto add = [&](const char * rank, const std::optional<metrics::Candidate> & c, const std::string & lead,
                           const std::string & why) {
                std::vector<Value> row = {profile.name, model_name, std::string(rank)};
                if (c) {
                    row.insert(row.end(), {metrics::candidate_hardware(*c), c->scheme, pct(c->retention),
                                           pct(c->gain), pct(c->energy_saving), real(c->eor),
                                           real(c->energy_wh), real(c->latency_s), real(c->gco2e),
                                           c->cost_tier});
                    if (cost) {
                        row.push_back(real(c->usd));
                        row.push_back(real(c->usd_per_mtok));
                    }
                    row.push_back(lead);
                    row.push_back(flags.of(*c));
                } else {
                    row.resize(row.size() + 10 + (cost ? 2 : 0));
                    row.push_back(std::string());
                    row.push_back(std::string());
                }
                if (o.why_column) row.push_back(why);
                t.add_row(std::move(row));
            };
            if (rec.best) {
                any_best = true;
                add(rec.tie ? "best (tie)" : "best", rec.best, lead_text(rec), rec.why);
                if (rec.runner_up) add(rec.tie ? "tied" : "runner-up", rec.runner_up, "", "");
            } else {
                add("none", std::nullopt, "", rec.why);
                failures.push_back(fmt::format("{} ({}): {}", profile.name, model_name, rec.why));
            }
            whys.push_back(fmt::format("{} ({}, {}): {}", profile.name, metrics::objective_name(profile.objective),
                                       model_name, rec.why));
            for (const auto & n : rec.notes) {
                if (seen_notes.insert(model_name + n).second) notes.push_back(model_name + ": " + n);
            }
        }
    }
    if (!o.why_column) t.notes.insert(t.notes.end(), whys.begin(), whys.end());
    for (const auto & p : profiles) {
        t.notes.push_back(fmt::format("profile {}: {} with {}", p.name, metrics::objective_name(p.objective),
                                      metrics::describe_constraints(p)));
    }
    t.notes.insert(t.notes.end(), notes.begin(), notes.end());
    for (const auto & m : out.missing) t.notes.push_back(m);
    t.notes.push_back(fmt::format(
        "retention = ratio of mean scores over the tasks both ran, {}'s zeros included; energy saving and EOR gain "
        "over the same whole workload (1 + gain = retention / (1 - saving)); lead: the best's advantage on the "
        "profile's objective, a tie when its 95 % interval holds 0 (docs/metrics.md, Noise)",
        o.reference));
    flags.explain(t, o.reference);
    t.notes.insert(t.notes.end(), cost_notes.begin(), cost_notes.end());
    t.notes.push_back(fmt::format("carbon at {:g} gCO2e/kWh{}", o.grid_g_per_kwh,
                                  o.grid_g_per_kwh == metrics::kWorldGridGPerKwh
                                      ? " (world average 2024, IEA Electricity 2025; set --grid-g-per-kwh)"
                                      : ""));
    if (cost) t.notes.push_back(cost_formula_note(o.cost));
    out.tables.push_back(std::move(t));
    if (!any_best) {
        out.nothing_recommended = "nothing can be recommended: no candidate meets any selected profile's constraints";
        // The same reason everywhere (the reference's zeros): say it instead of the generic line.
        if (!failures.empty() &&
            std::all_of(failures.begin(), failures.end(),
                        [](const std::string & f) { return f.find("scored 0 on every task") != std::string::npos; })) {
            const std::string & f = failures.front();
            out.nothing_recommended = "nothing can be recommended: " + f.substr(f.find("the reference"));
        }
    }
    return out;
}

}  // namespace jb::results
