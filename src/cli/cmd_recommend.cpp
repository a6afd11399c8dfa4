// joulebench recommend results.db: the best (hardware, scheme) per use-case profile, computed from
// the user's own cells: the study's decision matrix. Definitions: docs/metrics.md.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "cli/commands.hpp"
#include "cli/cost_model.hpp"
#include "cli/family.hpp"
#include "cli/report_run.hpp"
#include "cli/store_rows.hpp"
#include "metrics/cost.hpp"
#include "metrics/family.hpp"
#include "joulebench/metrics.hpp"
#include "report/report.hpp"
#include "joulebench/table.hpp"
#include "joulebench/store.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

namespace {


bool any_constraint(const RecommendParams & p) {
    return p.min_retention || p.max_memory_gib || p.max_latency_s || p.max_ttft_s || p.max_j_per_token;
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

// Constraint options tighten the profile they are applied to (custom, or one named profile).
void apply_constraints(metrics::Profile & p, const RecommendParams & o) {
    if (o.min_retention) p.min_retention = retention_fraction(*o.min_retention);
    if (o.max_memory_gib) p.max_memory_bytes = int64_t(std::llround(*o.max_memory_gib * double(int64_t(1) << 30)));
    if (o.max_latency_s) p.max_latency_s = o.max_latency_s;
    if (o.max_ttft_s) p.max_ttft_s = o.max_ttft_s;
    if (o.max_j_per_token) p.max_j_per_token = o.max_j_per_token;
}

std::vector<metrics::Profile> selected_profiles(const RecommendParams & o) {
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
        if (p.max_memory_bytes && o.max_memory_gib)
            p.max_memory_bytes = int64_t(std::llround(*o.max_memory_gib * double(int64_t(1) << 30)));
    }
    if (any_constraint(o)) {
        metrics::Profile custom = metrics::find_profile("custom");
        apply_constraints(custom, o);
        out.push_back(custom);
    }
    return out;
}

Value pct_value(double fraction) {
    return std::isfinite(fraction) ? Value(fraction * 100.0) : Value();
}
Value real_value(double v) {
    return std::isfinite(v) ? Value(v) : Value();
}

std::string flags_of(const metrics::Candidate & c) {
    std::string f;
    auto add = [&](const char * s) { f += (f.empty() ? "" : ",") + std::string(s); };
    if (c.synthetic) add("synthetic");
    if (c.estimated) add("estimated");
    if (c.mixed_estimate) add("mixed");
    if (c.n_tasks < c.n_reference_tasks) add("partial");
    if (c.projected) add("projected");
    return f;
}

void add_flag_notes(Table & t, bool synthetic, bool estimated, bool mixed, bool partial, bool projected) {
    if (synthetic) t.notes.push_back("synthetic: random-weight model, accuracy is chance; retention is meaningless");
    if (estimated)
        t.notes.push_back("estimated: energy is a model of the hardware (TDP per CPU x CPU time), not a measurement");
    if (mixed) t.notes.push_back("mixed: a ratio compares an estimated energy with a measured one");
    if (partial) t.notes.push_back("partial: compared on fewer tasks than the reference ran");
    if (projected) {
        t.notes.push_back(
            "projected: modelled for that GPU from measurements on other hardware (joulebench project), not measured "
            "on it");
    }
}

void print_candidates(const std::vector<metrics::Candidate> & cands, const RecommendParams & o, Format format,
                      const std::vector<std::string> & cost_notes) {
    const bool cost = o.cost.usd_per_kwh > 0;
    Table t;
    t.title = fmt::format("Candidates vs {} (grid {:g} gCO2e/kWh)", o.reference, o.grid_g_per_kwh);
    for (const char * name : {"model", "hardware", "scheme", "tasks"}) {
        t.add_column(name);
        t.columns.back().right_align = false;
    }
    t.add_column("accuracy_pct", "accuracy (%)", 2);
    t.add_column("accuracy_stderr_pct", "± (%)", 2);
    t.add_column("retention_pct", "retention (%)", 2);
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
    t.add_column("cost_tier");
    t.columns.back().right_align = false;
    if (cost) {
        t.add_column("cost_usd", "energy cost (USD)", 6);
        t.add_column("usd_per_mtok", "cost (USD/Mtok)", 4);
    }
    t.add_column("pareto", "Pareto", 0);
    t.add_column("flags");
    t.columns.back().right_align = false;
    bool syn = false, est = false, mixed = false, partial = false, proj = false;
    for (const auto & c : cands) {
        std::vector<Value> row = {c.model_name,
                                  metrics::candidate_hardware(c),
                                  c.scheme,
                                  int64_t(c.n_tasks),
                                  pct_value(c.score),
                                  pct_value(c.score_stderr),
                                  pct_value(c.retention),
                                  real_value(c.energy_wh),
                                  pct_value(c.energy_saving),
                                  real_value(c.eor),
                                  pct_value(c.gain),
                                  real_value(c.tweor),
                                  real_value(c.latency_s),
                                  real_value(c.ttft_s),
                                  real_value(c.j_per_token),
                                  c.model_bytes > 0 ? Value(double(c.model_bytes) / double(1 << 20)) : Value(),
                                  real_value(c.gco2e),
                                  real_value(c.tok_s),
                                  c.cost_tier};
        if (cost) {
            row.push_back(real_value(c.usd));
            row.push_back(real_value(c.usd_per_mtok));
        }
        row.push_back(std::string(c.pareto ? "yes" : ""));
        row.push_back(flags_of(c));
        t.add_row(std::move(row));
        syn = syn || c.synthetic;
        est = est || c.estimated;
        mixed = mixed || c.mixed_estimate;
        partial = partial || c.n_tasks < c.n_reference_tasks;
        proj = proj || c.projected;
        if (!c.note.empty()) t.notes.push_back(fmt::format("{} {}: {}", c.scheme, c.host_name, c.note));
    }
    add_flag_notes(t, syn, est, mixed, partial, proj);
    t.notes.insert(t.notes.end(), cost_notes.begin(), cost_notes.end());
    if (cost) t.notes.push_back(cost_formula_note(o.cost));
    print_table(std::cout, t, format);
}

}  // namespace

void run_recommend(const RecommendParams & o) {
    const Format format = parse_format(o.output);
    if (!(o.grid_g_per_kwh >= 0.0))
        throw UsageError(fmt::format("--grid-g-per-kwh must be >= 0 (got {})", o.grid_g_per_kwh));
    check_cost_params(o.cost);
    check_positive("--max-memory-gb", o.max_memory_gib);
    check_positive("--max-latency-s", o.max_latency_s);
    check_positive("--max-ttft-s", o.max_ttft_s);
    check_positive("--max-j-per-token", o.max_j_per_token);
    const std::vector<metrics::Profile> profiles = selected_profiles(o);

    const Store store = Store::open_readonly(o.db);
    const std::vector<metrics::Row> rows = load_rows(store);
    size_t n_ok = 0;
    for (const auto & r : rows) n_ok += r.ok ? 1 : 0;
    if (n_ok == 0) {
        throw Error(fmt::format("{}: no successful cells ({} failed); run `joulebench sweep ... --db {}` first", o.db,
                                rows.size(), o.db));
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
    std::vector<std::string> family_notes;
    const std::vector<metrics::FamilyComparison> families =
        metrics::compare_families(summaries, load_family_members(store), o.reference, &family_notes);
    if (o.list_families) {
        if (families.empty()) {
            std::string why;
            for (const auto & n : family_notes) why += "\n  " + n;
            throw Error(fmt::format(
                "{}: no model family to compare (record one with joulebench sweep --family "
                "base=teacher.gguf,distilled=student.gguf){}",
                o.db, why));
        }
        Table ft = report::family_table(families, family_notes, o.reference);
        print_table(std::cout, ft, format);
        return;
    }
    const std::vector<std::string> missing = metrics::missing_references(summaries, o.reference);
    for (const auto & m : missing) fmt::print(stderr, "recommend: {}\n", m);
    if (cands.empty() && std::none_of(summaries.begin(), summaries.end(),
                                      [](const metrics::Summary & s) { return s.scored; })) {
        throw Error(fmt::format(
            "{}: nothing to recommend: recommendations rank accuracy per energy, and every cell is an unscored "
            "synthetic workload (tg256r5, pp2048r30, ...); sweep a scored task (mmlu, hellaswag, ...), or see "
            "`joulebench report {}` for J/token and speed",
            o.db, o.db));
    }
    if (cands.empty()) {
        std::string why;
        for (const auto & m : missing) why += "\n  " + m;
        throw Error(fmt::format("{}: nothing to recommend: no scheme can be compared with the reference scheme '{}'{}",
                                o.db, o.reference, why));
    }
    if (o.list_candidates) {
        print_candidates(cands, o, format, cost_notes);
        return;
    }

    // One recommendation per model and profile: retention is relative to each model's own fp16,
    // so candidates of different models are not ranked against each other.
    std::vector<std::string> model_order;
    std::map<std::string, std::vector<metrics::Candidate>> by_model;
    for (const auto & c : cands) {
        if (!by_model.count(c.model)) model_order.push_back(c.model);
        by_model[c.model].push_back(c);
    }

    const bool cost = o.cost.usd_per_kwh > 0;
    const bool why_column = format == Format::csv || format == Format::json;
    Table t;
    t.title = fmt::format("Recommendation per profile vs {} (decision matrix)", o.reference);
    for (const char * name : {"profile", "model", "rank", "hardware", "scheme"}) {
        t.add_column(name);
        t.columns.back().right_align = false;
    }
    t.add_column("retention_pct", "accuracy retention (%)", 2);
    t.add_column("eor_gain_pct", "efficiency gain (EOR, %)", 1);
    t.add_column("energy_saving_pct", fmt::format("energy saving vs {} (%)", o.reference), 1);
    t.add_column("eor", "EOR (%/Wh)", 1);
    t.add_column("energy_wh", "energy (Wh)", 5);
    t.add_column("latency_s", "latency (s)", 2);
    t.add_column("gco2e_g", "gCO2e", 4);
    t.add_column("cost_tier", "cost tier");
    t.columns.back().right_align = false;
    if (cost) {
        t.add_column("cost_usd", "energy cost (USD)", 6);
        t.add_column("usd_per_mtok", "cost (USD/Mtok)", 4);
    }
    t.add_column("flags");
    t.columns.back().right_align = false;
    if (why_column) {
        t.add_column("why");
        t.columns.back().right_align = false;
    }

    bool syn = false, est = false, mixed = false, partial = false, proj = false, any_best = false;
    std::set<std::string> seen_notes;
    std::vector<std::string> whys, notes;
    for (const auto & model : model_order) {
        const auto & mc = by_model[model];
        const std::string model_name = mc.front().model_name.empty() ? model : mc.front().model_name;
        for (const auto & profile : profiles) {
            const metrics::Recommendation rec = metrics::recommend(mc, profile);
            auto add = [&](const char * rank, const std::optional<metrics::Candidate> & c, const std::string & why) {
                std::vector<Value> row = {profile.name, model_name, std::string(rank)};
                if (c) {
                    row.insert(row.end(),
                               {metrics::candidate_hardware(*c), c->scheme, pct_value(c->retention),
                                pct_value(c->gain), pct_value(c->energy_saving), real_value(c->eor),
                                real_value(c->energy_wh), real_value(c->latency_s), real_value(c->gco2e),
                                c->cost_tier});
                    if (cost) {
                        row.push_back(real_value(c->usd));
                        row.push_back(real_value(c->usd_per_mtok));
                    }
                    row.push_back(flags_of(*c));
                    syn = syn || c->synthetic;
                    est = est || c->estimated;
                    mixed = mixed || c->mixed_estimate;
                    partial = partial || c->n_tasks < c->n_reference_tasks;
                    proj = proj || c->projected;
                } else {
                    row.insert(row.end(), {Value(), Value(), Value(), Value(), Value(), Value(), Value(), Value(),
                                           Value(), Value()});
                    if (cost) {
                        row.push_back(Value());
                        row.push_back(Value());
                    }
                    row.push_back(std::string());
                }
                if (why_column) row.push_back(why);
                t.add_row(std::move(row));
            };
            if (rec.best) {
                any_best = true;
                add("best", rec.best, rec.why);
                if (rec.runner_up) add("runner-up", rec.runner_up, "");
            } else {
                add("none", std::nullopt, rec.why);
            }
            whys.push_back(fmt::format("{} ({}, {}): {}", profile.name, metrics::objective_name(profile.objective),
                                       model_name, rec.why));
            for (const auto & n : rec.notes) {
                if (seen_notes.insert(model_name + n).second) notes.push_back(model_name + ": " + n);
            }
        }
    }
    if (!why_column) t.notes.insert(t.notes.end(), whys.begin(), whys.end());
    for (const auto & p : profiles) {
        t.notes.push_back(fmt::format("profile {}: {} with {}", p.name, metrics::objective_name(p.objective),
                                      metrics::describe_constraints(p)));
    }
    t.notes.insert(t.notes.end(), notes.begin(), notes.end());
    for (const auto & m : missing) t.notes.push_back(m);
    add_flag_notes(t, syn, est, mixed, partial, proj);
    t.notes.insert(t.notes.end(), cost_notes.begin(), cost_notes.end());
    t.notes.push_back(fmt::format("carbon at {:g} gCO2e/kWh{}", o.grid_g_per_kwh,
                                  o.grid_g_per_kwh == metrics::kWorldGridGPerKwh
                                      ? " (world average 2024, IEA Electricity 2025; set --grid-g-per-kwh)"
                                      : ""));
    if (cost) t.notes.push_back(cost_formula_note(o.cost));
    print_table(std::cout, t, format);
    // Families (sweep --family) follow the matrix in the formats that hold several tables; CSV and
    // JSON hold one, so they get it with --families.
    if (!families.empty() && (format == Format::table || format == Format::md)) {
        std::cout << "\n";
        if (format == Format::md) std::cout << "## Distilled vs base model\n\n";
        print_table(std::cout, report::family_table(families, family_notes, o.reference), format);
    }
    if (!any_best) {
        throw Error(
            fmt::format("{}: nothing can be recommended: no candidate meets any selected profile's constraints", o.db));
    }
}

void add_recommend_command(CLI::App & app) {
    auto o = std::make_shared<RecommendParams>();
    CLI::App * cmd = app.add_subcommand(
        "recommend",
        "Best (hardware, scheme) per use case from your results: accuracy retention, EOR gain, energy "
        "saving vs fp16");
    cmd->add_option("db", o->db, "Result database written by joulebench sweep")->required();
    cmd->add_option("--profile", o->profile,
                    "datacenter, enterprise, research, edge, budget, custom or all (all: the five, plus custom when a "
                    "constraint is given)")
        ->capture_default_str();
    cmd->add_option("--min-retention", o->min_retention, "Minimum accuracy retention vs fp16: 0.98 or 98 (%)");
    cmd->add_option("--max-memory-gb", o->max_memory_gib,
                    "Largest model file in GiB (also the edge profile's cap, default 8)");
    cmd->add_option("--max-latency-s", o->max_latency_s, "Longest wall time of the compared workload (s)");
    cmd->add_option("--max-ttft-s", o->max_ttft_s, "Longest mean time to first token (s; needs a generation task)");
    cmd->add_option("--max-j-per-token", o->max_j_per_token, "Most energy per processed token (J)");
    cmd->add_option("--grid-g-per-kwh", o->grid_g_per_kwh,
                    "Grid carbon intensity, gCO2e/kWh (default: world average 2024, IEA)")
        ->capture_default_str();
    add_cost_options(cmd, o->cost);
    cmd->add_option("--reference", o->reference, "Reference scheme of every ratio")->capture_default_str();
    cmd->add_flag("--candidates", o->list_candidates,
                  "List every candidate with its metrics and Pareto flag instead of recommending");
    cmd->add_flag("--families", o->list_families,
                  "Print the distilled vs base comparison of the model families (sweep --family) instead");
    cmd->add_option("-o,--output", o->output, "table, md, csv or json")->capture_default_str();
    cmd->footer(
        "Profiles (docs/metrics.md): datacenter = max EOR at >= 98 % retention; enterprise = max EOR at >= 99 %;\n"
        "research = lowest latency at >= 97 %; edge = max EOR with the model file <= 8 GiB at >= 95 %;\n"
        "budget = lowest energy at >= 94 %; custom = max EOR within the constraint options given.\n"
        "Constraint options tighten a single named profile; with --profile all they define custom, and\n"
        "--max-memory-gb also sets edge's cap. Retention is per task vs fp16 on the same host, model and\n"
        "workload, averaged over the tasks both ran. Exits non-zero when nothing can be recommended.\n"
        "Cost: the hardware's tier comes from the GPU catalogue; with --usd-per-kwh and a price (catalogue list\n"
        "price or --gpu-price-usd), cost per million tokens = energy + price / (--lifetime-years x --utilisation)\n"
        "spread over the seconds a million tokens take (docs/metrics.md). Rows projected to another GPU\n"
        "(joulebench project) are flagged 'projected'.");
    cmd->callback([o] { run_recommend(*o); });
}

}  // namespace jb::cli
