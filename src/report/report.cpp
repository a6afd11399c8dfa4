// The report's analysis, its tables and their text formats (Markdown, CSV, JSON, terminal).
// The HTML page and its charts are in html.cpp.

#include "report/report.hpp"
#include "report/serving.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/report_util.hpp"
#include "joulebench/error.hpp"

namespace jb::report {

namespace {

// report_util's pct for a double, beside the overload for an optional one (unqualified lookup in
// this namespace would otherwise find only the latter, and a double converts to it).
using report::pct;
Value pct(const std::optional<double> & fraction) {
    return fraction ? report::pct(*fraction) : Value();
}
Value text(const std::string & s) {
    return Value(s);
}

// "-3.1 to 5.2": a saving's 95 % interval in percent, with "(noise)" when it holds 0.
Value saving_interval(const metrics::Summary & s) {
    if (!std::isfinite(s.saving_lo) || !std::isfinite(s.saving_hi)) return Value();
    const bool noise = s.saving_lo <= 0 && s.saving_hi >= 0;
    return fmt::format("{:.1f} to {:.1f}{}", 100 * s.saving_lo, 100 * s.saving_hi, noise ? " (noise)" : "");
}

std::string json_string(const nlohmann::json & j, const char * key) {
    if (!j.is_object()) return "";
    auto it = j.find(key);
    if (it == j.end()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
    return "";
}

double json_number(const nlohmann::json & j, const char * key) {
    if (!j.is_object()) return 0.0;
    auto it = j.find(key);
    if (it == j.end()) return 0.0;
    if (it->is_number()) return it->get<double>();
    if (it->is_string()) {
        try {
            return std::stod(it->get<std::string>());
        } catch (const std::exception &) {
            return 0.0;
        }
    }
    return 0.0;
}

void count_sensor(ReportInput & in, SensorUse use) {
    for (auto & s : in.sensors) {
        if (s.host_name == use.host_name && s.domain == use.domain && s.name == use.name && s.method == use.method) {
            ++s.n_cells;
            return;
        }
    }
    use.n_cells = 1;
    in.sensors.push_back(std::move(use));
}

void count_energy_method(ReportInput & in, const std::string & host, const std::string & domain,
                         const std::string & method) {
    for (auto & e : in.energy_methods) {
        if (e.host_name == host && e.domain == domain && e.method == method) {
            ++e.n_cells;
            return;
        }
    }
    in.energy_methods.push_back({host, domain, method, 1});
}

// The one name and definition of "vs the reference" in every table: the energy saving, positive when
// the scheme uses less energy than the reference (docs/metrics.md).
std::string saving_header(const std::string & reference, const std::string & per = "") {
    return fmt::format("energy saving{} vs {} (%)", per, reference);
}
std::string saving_definition(const std::string & reference) {
    return fmt::format("energy saving vs {0} = 1 - E / E({0}), positive when the scheme uses less energy", reference);
}

std::string gib(int64_t bytes) {
    return bytes > 0 ? fmt::format("{:.1f} GiB", double(bytes) / double(int64_t(1) << 30)) : "";
}

}  // namespace

void CpuLoadCounts::add(const std::string & energy_json) {
    const auto energy = nlohmann::json::parse(energy_json, nullptr, /*allow_exceptions=*/false);
    if (!energy.is_object()) return;
    auto flagged = [&](const char * key) {
        const auto it = energy.find(key);
        if (it == energy.end() || !it->is_object() || !it->value("busy", false)) return false;
        max_other_cpus = std::max(max_other_cpus, json_number(*it, "other_cpus"));
        return true;
    };
    busy_cells += flagged("cpu_load") ? 1 : 0;
    busy_idle_cells += flagged("idle_cpu_load") ? 1 : 0;
}

std::vector<std::string> cpu_load_notes(const CpuLoadCounts & load, size_t n_cells) {
    std::vector<std::string> out;
    if (load.busy_cells > 0) {
        out.push_back(fmt::format(
            "{} of {} cells ran beside other load (other processes kept up to {:.1f} CPUs busy; cpu_load in the "
            "cell's energy_json): a CPU energy counter includes their energy and contention slowed the cells; the "
            "CPU estimate counts only joulebench's own CPU time. Rerun them on a quiet machine to compare.",
            load.busy_cells, n_cells, load.max_other_cpus));
    }
    if (load.busy_idle_cells > 0) {
        out.push_back(fmt::format(
            "The idle baseline of {} of {} cells was measured beside other load (idle_cpu_load in energy_json): "
            "their idle power, and so their net energy, is biased; compare gross energies.",
            load.busy_idle_cells, n_cells));
    }
    return out;
}

void add_cell_provenance(ReportInput & in, const std::string & host_name, const std::string & sensors_json,
                         const std::string & energy_json) {
    in.load.add(energy_json);
    const auto sensors = nlohmann::json::parse(sensors_json, nullptr, /*allow_exceptions=*/false);
    if (sensors.is_object() && sensors.contains("sensors") && sensors["sensors"].is_array()) {
        // The sweep's form: {"sensors": [{domain, kind, method, name, driver, update_hz}], "unavailable": [...]}
        for (const auto & s : sensors["sensors"]) {
            count_sensor(in, {host_name, json_string(s, "domain"), json_string(s, "name"), json_string(s, "kind"),
                              json_string(s, "method"), json_string(s, "driver"), json_number(s, "update_hz"), 0});
        }
        if (sensors.contains("unavailable") && sensors["unavailable"].is_array()) {
            for (const auto & u : sensors["unavailable"]) {
                const std::string line =
                    fmt::format("{}: {}: {}", host_name, json_string(u, "what"), json_string(u, "reason"));
                if (std::find(in.unavailable.begin(), in.unavailable.end(), line) == in.unavailable.end()) {
                    in.unavailable.push_back(line);
                }
            }
        }
    } else if (sensors.is_object()) {
        // The documented form: {"gpu0": {"sensor": "nvml", "method": "counter", "rate_hz": 50, ...}}
        for (const auto & [domain, s] : sensors.items()) {
            count_sensor(in, {host_name, domain, json_string(s, "sensor"), json_string(s, "kind"),
                              json_string(s, "method"), json_string(s, "driver"), json_number(s, "rate_hz"), 0});
        }
    }

    const auto energy = nlohmann::json::parse(energy_json, nullptr, /*allow_exceptions=*/false);
    if (energy.is_object() && energy.contains("domains") && energy["domains"].is_array()) {
        for (const auto & d : energy["domains"]) {
            count_energy_method(in, host_name, json_string(d, "domain"), json_string(d, "method"));
        }
    } else if (energy.is_object()) {
        for (const auto & [domain, d] : energy.items()) {
            if (d.is_object()) count_energy_method(in, host_name, domain, json_string(d, "method"));
        }
    }
}

Analysis analyze(const ReportInput & in) {
    Analysis a;
    const std::string & ref = in.options.reference;
    a.reference = ref;
    a.summaries = metrics::summarize(in.rows, in.options);
    a.candidates = metrics::candidates(a.summaries, ref);
    metrics::price_candidates(a.candidates, in.cost);  // before the decisions copy them
    a.missing_references = metrics::missing_references(a.summaries, ref);
    a.families = metrics::compare_families(a.summaries, in.families, ref, &a.family_notes);

    // Schemes: the reference first, then by bits per weight, largest first (the order a reader
    // scans: from the baseline down to the most compressed).
    std::map<std::string, double> bpw;
    for (const auto & r : in.rows) {
        if (!bpw.count(r.scheme)) bpw[r.scheme] = std::isfinite(r.bpw) ? r.bpw : 0.0;
    }
    for (const auto & [name, bits] : bpw) a.scheme_order.push_back(name);
    std::stable_sort(a.scheme_order.begin(), a.scheme_order.end(), [&](const std::string & x, const std::string & y) {
        if ((x == ref) != (y == ref)) return x == ref;
        return bpw[x] > bpw[y];
    });

    // The decision matrix: each builtin profile for each model (recommend compares one model's
    // candidates at a time; hosts compete within it, which is the point of the matrix).
    std::vector<std::pair<std::string, std::string>> models;  // (hash, name) in order of appearance
    for (const auto & s : a.summaries) {
        if (std::none_of(models.begin(), models.end(), [&](const auto & m) { return m.first == s.model; })) {
            models.emplace_back(s.model, s.model_name);
        }
    }
    for (const auto & s : a.summaries) (s.scored ? a.any_scored : a.any_unscored) = true;
    for (const auto & [hash, name] : models) {
        const bool model_scored = std::any_of(a.summaries.begin(), a.summaries.end(), [&](const metrics::Summary & s) {
            return s.model == hash && s.scored;
        });
        if (!model_scored) {
            // Synthetic workloads only: nothing to recommend, and the reason is not a missing reference.
            for (const auto & profile : metrics::builtin_profiles()) {
                metrics::Recommendation rec;
                rec.profile = profile;
                rec.why =
                    "No recommendation: profiles rank accuracy per energy, and this model ran only unscored "
                    "synthetic workloads (no accuracy); see Speed and energy per token.";
                a.decisions.push_back({name, rec});
            }
            continue;
        }
        std::vector<metrics::Candidate> of_model;
        for (const auto & c : a.candidates) {
            if (c.model == hash) of_model.push_back(c);
        }
        for (const auto & profile : metrics::builtin_profiles()) {
            a.decisions.push_back({name, metrics::recommend(of_model, profile)});
        }
    }

    size_t n_ok = 0, n_estimated = 0, n_projected = 0, n_cpu_estimated = 0;
    std::set<std::string> synthetic, estimated_hosts, projected_devices, host_set;
    for (const auto & r : in.rows) {
        if (!r.ok) continue;
        ++n_ok;
        host_set.insert(r.host);
        if (r.projected) {
            ++n_projected;
            projected_devices.insert(r.device);
        }
        if (r.estimated) {
            ++n_estimated;
            // Projected cells are estimates too, but of another kind: their own banner says so.
            if (!r.projected) {
                ++n_cpu_estimated;
                estimated_hosts.insert(r.host_name);
            }
        }
        if (r.synthetic) synthetic.insert(r.model_name);
    }
    a.any_estimated = n_estimated > 0;
    a.any_measured = n_estimated < n_ok;
    a.any_synthetic = !synthetic.empty();
    a.any_projected = n_projected > 0;
    a.n_hosts = host_set.size();
    if (n_cpu_estimated > 0) {
        a.warnings.push_back({"estimated", fmt::format(
            "Energies are ESTIMATED, not measured, in {} of {} cells (host{} {}: no energy counter or power sensor "
            "was available, so joulebench modelled CPU energy from the TDP and the CPU time it used). Compare these cells with each "
            "other only, never with measurements; EOR and J/token inherit the estimate.",
            n_cpu_estimated, n_ok, estimated_hosts.size() > 1 ? "s" : "", join(estimated_hosts, ", "))});
    }
    if (a.any_estimated && a.any_measured) {
        a.warnings.push_back({"mixed",
                              "This database mixes measured and estimated energies: rows whose notes say so "
                              "compare an estimate with a measurement."});
    }
    if (a.any_synthetic) {
        a.warnings.push_back({"synthetic", fmt::format(
            "Synthetic model{} {}: random weights of a real architecture. Accuracy is chance by construction, so "
            "scores, retention, EOR and the Pareto frontier say nothing about quality; energy and speed are real.",
            synthetic.size() > 1 ? "s" : "", join(synthetic, ", "))});
    }
    if (a.any_projected) {
        a.warnings.push_back({"projected", fmt::format(
            "{} of {} cells are PROJECTED to {} from measurements on other hardware (joulebench project), not "
            "measured. Every table marks them (projected, [projected]); they have their own Pareto frontier, and a "
            "recommendation of one says so.",
            n_projected, n_ok, join(projected_devices, ", "))});
    }
    if (!in.failed.empty()) {
        a.warnings.push_back({"failed", fmt::format(
            "{} cell{} failed and {} left out of every metric (listed under Provenance).", in.failed.size(),
            in.failed.size() > 1 ? "s" : "", in.failed.size() > 1 ? "are" : "is")});
    }
    for (const auto & m : a.missing_references) a.warnings.push_back({"reference", m});
    for (const auto & n : cpu_load_notes(in.load, n_ok)) a.warnings.push_back({"load", n});
    return a;
}

Table summary_table(const std::vector<metrics::Summary> & summaries, const std::vector<std::string> & scheme_order,
                    const std::string & reference) {
    Table t;
    t.title = "Results by scheme and task";
    t.add_text_column("host_name", "host");
    t.add_text_column("model_name", "model");
    t.add_text_column("task", "task");
    t.add_text_column("scheme", "scheme");
    t.add_column("repeats", "repeats", 0);
    t.add_column("score_pct", "score (%)", 2);
    t.add_column("score_stderr_pct", "\u00b1 (%)", 2);
    t.add_column("retention_pct", "retention (%)", 1);
    t.add_column("energy_j", "energy (J)", 2);
    t.add_column("energy_sd_j", "\u00b1 (J)", 2);
    t.add_column("j_per_token_ci95_pct", "J/token \u00b1 95 % (%)", 1);
    t.add_column("wall_s", "time (s)", 2);
    t.add_column("prefill_j_per_token", "prefill J/tok", 5);
    t.add_column("decode_j_per_token", "decode J/tok", 5);
    t.add_column("prefill_tok_s", "prefill tok/s", 1);
    t.add_column("decode_tok_s", "decode tok/s", 1);
    t.add_column("eor_pct_per_wh", "EOR (%/Wh)", 1);
    t.add_column("tweor_pct_per_wh", "TWEOR (%/Wh)", 1);
    t.add_column("gain_pct", "EOR gain (%)", 1);
    t.add_column("energy_saving_pct", saving_header(reference), 1);
    t.add_text_column("saving_ci95_pct", "saving 95 % CI (%)");
    t.add_flag_column("pareto", "Pareto");
    t.add_flag_column("energy_estimated", "estimated");
    t.add_text_column("device", "hardware");
    t.add_flag_column("projected", "projected");
    t.add_text_column("note", "note");

    std::vector<const metrics::Summary *> order;
    for (const auto & s : summaries) order.push_back(&s);
    auto rank = [&](const std::string & scheme) {
        auto it = std::find(scheme_order.begin(), scheme_order.end(), scheme);
        return it - scheme_order.begin();
    };
    std::stable_sort(order.begin(), order.end(), [&](const metrics::Summary * x, const metrics::Summary * y) {
        return std::make_tuple(x->host_name, x->host, x->model_name, x->model, x->task_label, rank(x->scheme)) <
               std::make_tuple(y->host_name, y->host, y->model_name, y->model, y->task_label, rank(y->scheme));
    });
    for (const auto * s : order) {
        t.add_row({text(s->host_name), text(s->model_name), text(s->task_label), text(s->scheme), int64_t(std::max(s->score.n, s->wall_s.n)),
                   pct(s->score.mean), pct(s->score_stderr.mean), pct(s->retention), real(s->energy_j.mean),
                   s->energy_j.n > 1 ? real(s->energy_j.sd) : Value(), pct(s->j_per_token_ci95), real(s->wall_s.mean),
                   real(s->prefill_j_per_token), real(s->decode_j_per_token), real(s->prefill_tok_s),
                   real(s->decode_tok_s), real(s->eor), real(s->tweor), pct(s->gain), pct(s->energy_saving),
                   saving_interval(*s), int64_t(s->pareto), int64_t(s->estimated), text(s->device), int64_t(s->projected),
                   text(s->note)});
    }
    t.notes.push_back(
        fmt::format("EOR = score (%) / energy (Wh); TWEOR = EOR x T(reference) / T; gain = EOR / EOR(reference) - 1; "
                    "retention = score / score(reference); {}; all against the reference scheme on the same host, "
                    "model and workload.",
                    saving_definition(reference)));
    if (std::any_of(summaries.begin(), summaries.end(), [](const metrics::Summary & s) { return !s.scored; })) {
        t.notes.push_back(
            "Rows without a score are synthetic workloads (tg256r5, pp2048r30, ...): they measure speed and energy "
            "only, so they have no EOR, TWEOR, gain or retention, and their energy saving is per token: 1 - J/token / "
            "J/token(reference).");
    }
    return t;
}

Table token_table(const Analysis & a) {
    Table t;
    t.title = "Speed and energy per token";
    t.add_text_column("host_name", "host");
    t.add_text_column("model_name", "model");
    t.add_text_column("task", "workload");
    t.add_text_column("scheme", "scheme");
    t.add_column("repeats", "repeats", 0);
    t.add_column("tokens", "tokens/run", 0);
    t.add_column("tok_s", "tok/s", 1);
    t.add_column("prefill_tok_s", "prefill tok/s", 1);
    t.add_column("decode_tok_s", "decode tok/s", 1);
    t.add_column("j_per_token", "J/token", 4);
    t.add_column("j_per_token_ci95_pct", "\u00b1 95 % (%)", 1);
    t.add_column("net_j_per_token", "net J/token", 4);
    t.add_column("prefill_j_per_token", "prefill J/token", 4);
    t.add_column("decode_j_per_token", "decode J/token", 4);
    t.add_column("token_saving_pct", saving_header(a.reference, " per token"), 1);
    t.add_text_column("saving_ci95_pct", "saving 95 % CI (%)");
    t.add_column("avg_w", "avg W", 1);
    t.add_column("peak_w", "peak W", 1);
    t.add_text_column("energy_by_device", "energy by device");
    t.add_flag_column("energy_estimated", "estimated");
    t.add_text_column("device", "hardware");
    t.add_flag_column("projected", "projected");
    t.add_text_column("note", "note");
    std::vector<const metrics::Summary *> order;
    for (const auto & s : a.summaries) {
        if (!s.scored) order.push_back(&s);
    }
    // "gpu:0 52 %, gpu:1 48 %": each device's share of a multi-device cell's gross energy.
    auto by_device = [](const metrics::Summary & s) -> Value {
        double total = 0;
        for (const auto & [d, j] : s.domain_j) total += j;
        if (s.domain_j.empty() || !(total > 0)) return Value();
        std::string out;
        for (const auto & [d, j] : s.domain_j) {
            out += fmt::format("{}{} {:.0f} %", out.empty() ? "" : ", ", d, 100 * j / total);
        }
        return out;
    };
    auto rank = [&](const std::string & scheme) {
        return std::find(a.scheme_order.begin(), a.scheme_order.end(), scheme) - a.scheme_order.begin();
    };
    std::stable_sort(order.begin(), order.end(), [&](const metrics::Summary * x, const metrics::Summary * y) {
        return std::make_tuple(x->host_name, x->host, x->model_name, x->model, x->task_label, rank(x->scheme)) <
               std::make_tuple(y->host_name, y->host, y->model_name, y->model, y->task_label, rank(y->scheme));
    });
    for (const auto * s : order) {
        const double tokens = s->prefill_tokens + s->decode_tokens;
        t.add_row({text(s->host_name), text(s->model_name), text(s->task_label), text(s->scheme),
                   int64_t(std::max(s->energy_j.n, s->wall_s.n)), tokens > 0 ? Value(int64_t(std::llround(tokens))) : Value(),
                   real(s->tok_s), real(s->prefill_tok_s), real(s->decode_tok_s), real(s->j_per_token),
                   pct(s->j_per_token_ci95), real(s->net_j_per_token), real(s->prefill_j_per_token),
                   real(s->decode_j_per_token), pct(s->energy_saving), saving_interval(*s), real(s->avg_w), real(s->peak_w), by_device(*s), int64_t(s->estimated),
                   text(s->device), int64_t(s->projected), text(s->note)});
    }
    if (!t.rows.empty()) {
        t.notes.push_back(
            "Synthetic workloads (no accuracy): every scheme does the same work for one name. J/token = energy of the "
            "cell / (prefill + decode tokens), net subtracts idle power x time; saving/token = 1 - J/token / "
            "J/token(reference); tok/s = tokens / wall time; avg W sums the measured domains' means (all GPUs of "
            "the cell together), peak W the highest draw (of the GPUs together where the sweep recorded it); "
            "energy by device: each GPU's share of a multi-GPU cell's gross energy.");
        t.notes.push_back(
            "n: repeats; \u00b1 95 %: half-width of the t-based 95 % interval of the repeats' J/token, in % of the "
            "mean (sweep --ci repeats until it is narrow enough); saving 95 % CI: the per-token saving's interval "
            "from both schemes' repeats, marked (noise) when it holds 0: the difference is inside the noise.");
    }
    return t;
}

Table candidate_table(const Analysis & a) {
    Table t;
    t.title = "Schemes over all their tasks";
    t.add_text_column("host_name", "host");
    t.add_text_column("device", "hardware");
    t.add_text_column("model_name", "model");
    t.add_text_column("scheme", "scheme");
    t.add_column("tasks", "tasks", 0);
    t.add_column("score_pct", "mean score (%)", 2);
    t.add_column("score_stderr_pct", "\u00b1 (%)", 2);
    t.add_column("retention_pct", "retention (%)", 1);
    t.add_column("energy_wh", "energy (Wh)", 5);
    t.add_column("energy_saving_pct", saving_header(a.reference), 1);
    t.add_column("latency_s", "time (s)", 2);
    t.add_column("j_per_token", "J/token", 5);
    t.add_column("eor_pct_per_wh", "EOR (%/Wh)", 1);
    t.add_column("tweor_pct_per_wh", "TWEOR (%/Wh)", 1);
    t.add_column("gain_pct", "EOR gain (%)", 1);
    t.add_column("tok_s", "tok/s", 1);
    t.add_text_column("cost_tier", "cost tier");
    t.add_column("usd_per_mtok", "USD/Mtok", 3);
    t.add_flag_column("pareto", "Pareto");
    t.add_flag_column("energy_estimated", "estimated");
    t.add_flag_column("projected", "projected");
    t.add_text_column("note", "note");
    std::vector<const metrics::Candidate *> order;
    for (const auto & c : a.candidates) order.push_back(&c);
    auto rank = [&](const std::string & scheme) {
        return std::find(a.scheme_order.begin(), a.scheme_order.end(), scheme) - a.scheme_order.begin();
    };
    std::stable_sort(order.begin(), order.end(), [&](const metrics::Candidate * x, const metrics::Candidate * y) {
        return std::make_tuple(x->model_name, x->model, x->host_name, x->host, rank(x->scheme)) <
               std::make_tuple(y->model_name, y->model, y->host_name, y->host, rank(y->scheme));
    });
    for (const auto * c : order) {
        t.add_row({text(c->host_name), text(c->device), text(c->model_name), text(c->scheme), int64_t(c->n_tasks),
                   pct(c->score), pct(c->score_stderr), pct(c->retention), real(c->energy_wh), pct(c->energy_saving),
                   real(c->latency_s), real(c->j_per_token), real(c->eor), real(c->tweor), pct(c->gain),
                   real(c->tok_s), text(c->cost_tier), real(c->usd_per_mtok), int64_t(c->pareto),
                   int64_t(c->estimated), int64_t(c->projected), text(c->note)});
    }
    t.notes.push_back(
        fmt::format("Each scheme over every task both it and the reference ran (the reference's scores of 0 "
                    "included): mean score, summed energy and time; retention = sum of scores / sum of the "
                    "reference's (the ratio of mean scores), so 1 + EOR gain = retention / (1 - saving); {}; a task "
                    "run with several workloads (item counts, shots) is never summed twice: its other workloads form "
                    "their own rows. The recommendations compare these rows.",
                    saving_definition(a.reference)));
    return t;
}

Table decision_table(const Analysis & a, const metrics::Options & options) {
    // The study's columns (metrics::kStudy): hardware, scheme, accuracy retention, efficiency gain, cost.
    Table t;
    t.title = "Decision matrix";
    t.add_text_column("profile", "profile");
    t.add_text_column("goal", "goal");
    t.add_text_column("model_name", "model");
    t.add_text_column("hardware", "hardware");
    t.add_text_column("scheme", "scheme");
    t.add_column("retention_pct", "accuracy retention (%)", 1);
    t.add_column("gain_pct", "efficiency gain (EOR, %)", 1);
    t.add_column("energy_saving_pct", saving_header(a.reference), 1);
    t.add_column("energy_wh", "energy (Wh)", 4);
    t.add_text_column("cost_tier", "cost tier");
    t.add_column("usd_per_mtok", "cost (USD/Mtok)", 3);
    t.add_column("cost_usd", "energy cost (USD)", 4);
    t.add_text_column("origin", "origin");
    t.add_text_column("runner_up", "runner-up");
    t.add_text_column("why", "why");
    std::set<std::string> notes;
    bool any_best = false, any_projected = false, any_estimated = false, any_tier = false, any_mtok = false;
    for (const auto & d : a.decisions) {
        const auto & r = d.rec;
        Value hardware, scheme, retention, gain, saving, energy, tier, mtok, cost, origin, runner;
        if (r.best) {
            any_best = true;
            hardware = metrics::candidate_hardware(*r.best);
            scheme = r.best->scheme;
            retention = pct(r.best->retention);
            gain = pct(r.best->gain);
            saving = pct(r.best->energy_saving);
            energy = real(r.best->energy_wh);
            if (!r.best->cost_tier.empty()) tier = r.best->cost_tier;
            mtok = real(r.best->usd_per_mtok);
            if (options.usd_per_kwh > 0) cost = real(r.best->usd);
            // How the recommended row's energy was obtained: projected to another GPU, a CPU
            // estimate (a model), or measured by a counter or power samples.
            origin = std::string(r.best->projected ? "projected" : r.best->estimated ? "estimated" : "measured");
            any_projected = any_projected || r.best->projected;
            any_estimated = any_estimated || (r.best->estimated && !r.best->projected);
            any_tier = any_tier || !r.best->cost_tier.empty();
            any_mtok = any_mtok || std::isfinite(r.best->usd_per_mtok);
        }
        if (r.runner_up) {
            runner = fmt::format("{} on {}{}", r.runner_up->scheme, metrics::candidate_hardware(*r.runner_up),
                                 r.tie ? " (tie within noise)" : "");
        }
        t.add_row({text(r.profile.name), text(r.profile.description), text(d.model_name), hardware, scheme, retention,
                   gain, saving, energy, tier, mtok, cost, origin, runner, text(r.why)});
        for (const auto & n : r.notes) notes.insert(n);
    }
    t.notes.assign(notes.begin(), notes.end());
    if (any_projected) {
        t.notes.push_back(
            "origin projected / [projected]: modelled for that GPU from measurements on other hardware (joulebench "
            "project), not measured on it");
    }
    if (any_estimated) {
        t.notes.push_back(
            "origin estimated: no energy counter or power sensor on that host; the energy is the CPU estimate (TDP "
            "per CPU x joulebench's CPU time), comparable only with other estimates");
    }
    if (!any_best) return t;  // the cost notes are about recommended rows; there are none
    if (options.usd_per_kwh <= 0) {
        t.notes.push_back(
            "cost: give --usd-per-kwh to price the energy and, with a hardware price (catalogue or --gpu-price-usd), "
            "the cost per million tokens");
    } else if (!any_mtok) {
        t.notes.push_back(
            "cost per Mtok needs a hardware price: the catalogue has none for these devices; give --gpu-price-usd");
    }
    if (!any_tier) t.notes.push_back("cost tier: none of these devices is in the hardware catalogue");
    return t;
}

namespace {

// Hosts side by side (hardware_table, hardware_token_table): the groups whose rows come from two or
// more hosts, each group's rows in `row_less` order, the groups in `group_less` order of their
// first rows.
template <class T, class Key, class RowLess, class GroupLess>
std::vector<std::vector<const T *>> multi_host_groups(std::map<Key, std::vector<const T *>> groups, RowLess row_less,
                                                      GroupLess group_less) {
    std::vector<std::vector<const T *>> out;
    for (auto & [key, members] : groups) {
        std::set<std::string> hosts;
        for (const T * m : members) hosts.insert(m->host);
        if (hosts.size() < 2) continue;
        std::stable_sort(members.begin(), members.end(), row_less);
        out.push_back(std::move(members));
    }
    std::stable_sort(out.begin(), out.end(),
                     [&](const auto & x, const auto & y) { return group_less(*x.front(), *y.front()); });
    return out;
}

// value / the least positive value of the group - 1 (NaN where either is not known).
template <class T, class Value>
std::vector<double> against_least(const std::vector<const T *> & members, Value value) {
    double best = INFINITY;
    for (const T * m : members) {
        const double v = value(*m);
        if (std::isfinite(v) && v > 0) best = std::min(best, v);
    }
    std::vector<double> out;
    for (const T * m : members) {
        const double v = value(*m);
        out.push_back(std::isfinite(best) && std::isfinite(v) ? v / best - 1.0 : NAN);
    }
    return out;
}

}  // namespace

Table hardware_table(const Analysis & a) {
    Table t;
    t.title = "Hardware side by side";
    t.add_text_column("model_name", "model");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("host_name", "host");
    t.add_text_column("device", "hardware");
    t.add_flag_column("projected", "projected");
    t.add_flag_column("energy_estimated", "estimated");
    t.add_column("tasks", "tasks", 0);
    t.add_column("retention_pct", "retention (%)", 1);
    t.add_column("energy_wh", "energy (Wh)", 5);
    t.add_column("energy_vs_best_pct", "extra energy vs best host (%)", 1);
    t.add_column("j_per_token", "J/token", 5);
    t.add_column("tok_s", "tok/s", 1);
    t.add_column("latency_s", "time (s)", 2);
    t.add_column("eor_pct_per_wh", "EOR (%/Wh)", 1);
    t.add_column("gain_pct", "EOR gain (%)", 1);
    t.add_text_column("cost_tier", "cost tier");
    t.add_column("usd_per_mtok", "USD/Mtok", 3);
    // Hosts compare only on the same model, scheme and compared workloads.
    using Key = std::tuple<std::string, std::string, std::string>;
    std::map<Key, std::vector<const metrics::Candidate *>> groups;
    for (const auto & c : a.candidates) groups[{c.model, c.scheme, c.workloads}].push_back(&c);
    auto rank = [&](const std::string & scheme) {
        return std::find(a.scheme_order.begin(), a.scheme_order.end(), scheme) - a.scheme_order.begin();
    };
    const auto order = multi_host_groups(
        std::move(groups),
        [](const metrics::Candidate * x, const metrics::Candidate * y) {
            return std::make_tuple(x->projected, x->host_name, x->host) < std::make_tuple(y->projected, y->host_name, y->host);
        },
        [&](const metrics::Candidate & x, const metrics::Candidate & y) {
            return std::make_tuple(x.model_name, x.model, rank(x.scheme), -x.n_tasks) <
                   std::make_tuple(y.model_name, y.model, rank(y.scheme), -y.n_tasks);
        });
    for (const auto & members : order) {
        const std::vector<double> vs = against_least(members, [](const metrics::Candidate & c) { return c.energy_wh; });
        for (size_t i = 0; i < members.size(); ++i) {
            const metrics::Candidate * c = members[i];
            t.add_row({text(c->model_name), text(c->scheme), text(c->host_name), text(c->device), int64_t(c->projected),
                       int64_t(c->estimated), int64_t(c->n_tasks), pct(c->retention), real(c->energy_wh), pct(vs[i]),
                       real(c->j_per_token), real(c->tok_s), real(c->latency_s), real(c->eor), pct(c->gain),
                       text(c->cost_tier), real(c->usd_per_mtok)});
        }
    }
    if (!t.rows.empty()) {
        t.notes.push_back(
            "Each scheme of a model on every host that ran the same tasks with the same workloads: extra energy vs "
            "best host = energy / the least energy among these hosts - 1 (0 for the most frugal host, positive = more "
            "energy). Retention and gain are against the reference "
            "on the same host.");
        bool est = false, meas = false;
        for (const auto & m : order) {
            for (const auto * c : m) (c->estimated ? est : meas) = true;
        }
        if (est && meas) t.notes.push_back("estimated energies sit beside measured ones here: compare them with care");
    }
    return t;
}

Table hardware_token_table(const Analysis & a) {
    Table t;
    t.title = "Hardware side by side: speed and energy per token";
    t.add_text_column("model_name", "model");
    t.add_text_column("task", "workload");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("host_name", "host");
    t.add_text_column("device", "hardware");
    t.add_flag_column("projected", "projected");
    t.add_flag_column("energy_estimated", "estimated");
    t.add_column("repeats", "repeats", 0);
    t.add_column("tok_s", "tok/s", 1);
    t.add_column("prefill_tok_s", "prefill tok/s", 1);
    t.add_column("decode_tok_s", "decode tok/s", 1);
    t.add_column("j_per_token", "J/token", 4);
    t.add_column("j_per_token_ci95_pct", "\u00b1 95 % (%)", 1);
    t.add_column("prefill_j_per_token", "prefill J/token", 4);
    t.add_column("decode_j_per_token", "decode J/token", 4);
    t.add_column("avg_w", "avg W", 1);
    t.add_column("j_per_token_vs_best_pct", "extra J/token vs best host (%)", 1);
    // Hosts compare only on the same model, workload (name and definition) and scheme.
    using Key = std::tuple<std::string, std::string, std::string, std::string>;
    std::map<Key, std::vector<const metrics::Summary *>> groups;
    for (const auto & s : a.summaries) {
        if (!s.scored) groups[{s.model, s.task, s.workload, s.scheme_canonical}].push_back(&s);
    }
    auto rank = [&](const std::string & scheme) {
        return std::find(a.scheme_order.begin(), a.scheme_order.end(), scheme) - a.scheme_order.begin();
    };
    const auto order = multi_host_groups(
        std::move(groups),
        [](const metrics::Summary * x, const metrics::Summary * y) {
            return std::make_tuple(x->projected, x->device, x->host_name, x->host) <
                   std::make_tuple(y->projected, y->device, y->host_name, y->host);
        },
        [&](const metrics::Summary & x, const metrics::Summary & y) {
            return std::make_tuple(x.model_name, x.model, x.task, rank(x.scheme)) <
                   std::make_tuple(y.model_name, y.model, y.task, rank(y.scheme));
        });
    for (const auto & members : order) {
        const std::vector<double> vs = against_least(members, [](const metrics::Summary & s) { return s.j_per_token; });
        for (size_t i = 0; i < members.size(); ++i) {
            const metrics::Summary * s = members[i];
            t.add_row({text(s->model_name), text(s->task), text(s->scheme), text(s->host_name), text(s->device),
                       int64_t(s->projected), int64_t(s->estimated), int64_t(std::max(s->energy_j.n, s->wall_s.n)),
                       real(s->tok_s), real(s->prefill_tok_s), real(s->decode_tok_s), real(s->j_per_token),
                       pct(s->j_per_token_ci95), real(s->prefill_j_per_token), real(s->decode_j_per_token),
                       real(s->avg_w), pct(vs[i])});
        }
    }
    if (!t.rows.empty()) {
        t.notes.push_back(
            "Each synthetic workload of a model under one scheme on every host that ran it: extra J/token vs best "
            "host = J/token / the least J/token among these hosts - 1 (0 for the most frugal host, positive = more "
            "energy; gross energy of the cell over its tokens).");
    }
    return t;
}

Table family_table(const std::vector<metrics::FamilyComparison> & rows, const std::vector<std::string> & notes,
                   const std::string & reference) {
    Table t;
    t.title = "Distilled vs base model";
    t.add_text_column("family", "family");
    t.add_text_column("host_name", "host");
    t.add_text_column("device", "hardware");
    t.add_text_column("base_model", "base");
    t.add_text_column("distilled_model", "distilled");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("task", "task");
    t.add_column("tasks", "tasks", 0);
    t.add_column("base_energy_j", "base energy (J)", 3);
    t.add_column("distilled_energy_j", "distilled energy (J)", 3);
    t.add_column("energy_reduction_pct", "energy reduction (%)", 1);
    t.add_column("base_j_per_token", "base J/token", 5);
    t.add_column("distilled_j_per_token", "distilled J/token", 5);
    t.add_column("base_score_pct", "base score (%)", 2);
    t.add_column("distilled_score_pct", "distilled score (%)", 2);
    t.add_column("retention_pct", "retention (%)", 1);
    t.add_column("combined_energy_reduction_pct", fmt::format("vs base {}: energy reduction (%)", reference), 1);
    t.add_column("combined_retention_pct", fmt::format("vs base {}: retention (%)", reference), 1);
    t.add_flag_column("energy_estimated", "estimated");
    t.add_flag_column("projected", "projected");
    t.add_text_column("note", "note");
    for (const auto & c : rows) {
        t.add_row({text(c.family), text(c.host_name), text(c.device), text(c.base_model_name),
                   text(c.distilled_model_name), text(c.scheme), text(c.task), int64_t(c.n_tasks),
                   real(c.base_energy_j), real(c.distilled_energy_j), pct(c.energy_reduction),
                   real(c.base_j_per_token), real(c.distilled_j_per_token), pct(c.base_score),
                   pct(c.distilled_score), pct(c.retention), pct(c.combined_energy_reduction),
                   pct(c.combined_retention), int64_t(c.estimated), int64_t(c.projected), text(c.note)});
    }
    if (!rows.empty()) {
        for (const auto & h : family_headlines(rows, reference)) t.notes.push_back(h);
        t.notes.push_back(fmt::format(
            "energy reduction = 1 - E(distilled) / E(base), same host, scheme and workload (per token for synthetic "
            "workloads); retention = score(distilled) / score(base); the last two columns compare the distilled "
            "model under the row's scheme with the base under {}: distillation and quantization together. task "
            "\"all\": energies summed over the scored tasks, retention the ratio of mean scores.",
            reference));
    }
    for (const auto & n : notes) t.notes.push_back(n);
    return t;
}

std::vector<std::string> family_headlines(const std::vector<metrics::FamilyComparison> & rows,
                                          const std::string & reference) {
    std::vector<std::string> out;
    std::vector<std::tuple<std::string, std::string, std::string>> seen;  // (family, host, host_name)
    for (const auto & c : rows) {
        const auto key = std::make_tuple(c.family, c.host, c.host_name);
        if (std::find(seen.begin(), seen.end(), key) == seen.end()) seen.push_back(key);
    }
    for (const auto & [family, host, host_name] : seen) {
        // Under the reference scheme when the family ran it, else the first scheme it ran.
        const metrics::FamilyComparison * c = metrics::family_overall(rows, family, host, reference);
        if (!c) {
            for (const auto & r : rows) {
                if (r.family == family && r.host == host && r.scored) {
                    c = metrics::family_overall(rows, family, host, r.scheme);
                    if (c) break;
                }
            }
        }
        if (!c) continue;
        std::string line = fmt::format(
            "{} on {} ({} vs {}, {}, {} task{}): distillation {} {:.1f} % energy at {} accuracy retention; the study "
            "reports a further {:.1f} % energy reduction from distillation ({})",
            family, metrics::hardware_label(c->device, host_name), c->distilled_model_name, c->base_model_name,
            c->scheme, c->n_tasks, c->n_tasks == 1 ? "" : "s", c->energy_reduction >= 0 ? "saves" : "costs",
            std::abs(c->energy_reduction) * 100.0,
            std::isfinite(c->retention) ? fmt::format("{:.1f} %", c->retention * 100.0) : std::string("unknown"),
            metrics::kStudyDistillationEnergyReduction * 100.0, metrics::kStudy);
        if (c->estimated) line += " (our energies are ESTIMATED)";
        if (c->projected) line += " (PROJECTED, not measured)";
        out.push_back(line + ".");
    }
    return out;
}

std::vector<std::string> table_names() {
    return {"summary",         "overall",  "tokens",          "decision",         "hardware", "hardware_tokens",
            "host_spread",     "tuned",    "families",        "serving",          "serving_latency",
            "serving_frontier", "hosts",   "sensors",         "energy",           "models",   "schemes",
            "failed",          "all"};
}

std::vector<NamedTable> report_tables(const ReportInput & in, const Analysis & a) {
    std::vector<NamedTable> out;
    out.push_back({"summary", summary_table(a.summaries, a.scheme_order, a.reference)});
    out.push_back({"overall", candidate_table(a)});
    out.push_back({"tokens", token_table(a)});
    out.push_back({"decision", decision_table(a, in.options)});
    for (const auto & n : in.cost_notes) out.back().table.notes.push_back(n);
    if (!in.cost_formula.empty() && in.options.usd_per_kwh > 0) out.back().table.notes.push_back(in.cost_formula);
    out.push_back({"hardware", hardware_table(a)});
    out.push_back({"hardware_tokens", hardware_token_table(a)});
    out.push_back({"host_spread", host_spread_table(a)});
    out.push_back({"tuned", tuned_table(a)});
    out.push_back({"families", family_table(a.families, a.family_notes, in.options.reference)});
    for (auto & t : serving_tables(in)) out.push_back(std::move(t));  // report/serving.hpp

    Table hosts;
    hosts.title = "Hosts";
    hosts.add_text_column("hostname", "host");
    hosts.add_text_column("cpu_model", "CPU");
    hosts.add_column("cpu_cores", "cores", 0);
    hosts.add_text_column("ram", "RAM");
    hosts.add_text_column("gpus", "GPUs");
    hosts.add_text_column("driver", "GPU driver");
    hosts.add_text_column("os", "OS");
    hosts.add_text_column("llama_commit", "llama.cpp");
    hosts.add_text_column("joulebench_version", "joulebench");
    hosts.add_text_column("fingerprint", "fingerprint");
    for (const auto & h : in.hosts) {
        hosts.add_row({h.hostname, h.cpu_model, h.cpu_cores, gib(h.ram_bytes), gpu_names(h.gpus_json), h.driver, h.os,
                       h.llama_commit, h.joulebench_version, h.fingerprint});
    }
    out.push_back({"hosts", std::move(hosts)});

    Table sensors;
    sensors.title = "Sensors";
    sensors.add_text_column("host_name", "host");
    for (const char * c : {"domain", "sensor", "kind", "method"}) sensors.add_text_column(c, c);
    sensors.add_column("update_hz", "rate (Hz)", 1);
    sensors.add_text_column("driver", "driver");
    sensors.add_column("cells", "cells", 0);
    for (const auto & s : in.sensors) {
        sensors.add_row({s.host_name, s.domain, s.name, s.kind, s.method, s.update_hz > 0 ? Value(s.update_hz) : Value(),
                         s.driver, s.n_cells});
    }
    sensors.notes = in.unavailable;
    out.push_back({"sensors", std::move(sensors)});

    Table energy;
    energy.title = "Energy methods";
    energy.add_text_column("host_name", "host");
    for (const char * c : {"domain", "method"}) energy.add_text_column(c, c);
    energy.add_column("cells", "cells", 0);
    for (const auto & e : in.energy_methods) energy.add_row({e.host_name, e.domain, e.method, e.n_cells});
    energy.notes.push_back(
        "counter: the device's energy counter; samples: integral of power samples; estimate: TDP per CPU x the "
        "measured processes' CPU time (a model, not a measurement; docs/energy.md)");
    out.push_back({"energy", std::move(energy)});

    Table models;
    models.title = "Models";
    models.add_text_column("file_name", "file");
    models.add_text_column("arch", "architecture");
    models.add_column("n_params", "parameters", 0);
    models.add_column("file_bytes", "bytes", 0);
    models.add_column("synthetic", "synthetic", 0);
    models.add_text_column("hash", "hash");
    for (const auto & m : in.models) {
        models.add_row({m.file_name, m.arch, m.n_params, m.file_bytes, int64_t(m.synthetic), m.hash});
    }
    out.push_back({"models", std::move(models)});

    Table schemes;
    schemes.title = "Schemes";
    schemes.add_text_column("name", "scheme");
    schemes.add_text_column("canonical", "canonical");
    schemes.add_text_column("default_type", "weights");
    schemes.add_text_column("kv_type", "KV cache");
    schemes.add_column("bpw", "bits/weight", 3);
    schemes.add_column("file_bytes", "bytes", 0);
    for (const auto & s : in.schemes) {
        schemes.add_row({s.name, s.canonical, s.default_type, s.kv_type, real(s.bpw), s.file_bytes});
    }
    out.push_back({"schemes", std::move(schemes)});

    Table failed;
    failed.title = "Failed cells";
    failed.add_text_column("host_name", "host");
    failed.add_text_column("model_name", "model");
    for (const char * c : {"scheme", "task"}) failed.add_text_column(c, c);
    failed.add_column("repeat", "repeat", 0);
    failed.add_text_column("error", "error");
    for (const auto & f : in.failed) {
        failed.add_row({f.host_name, f.model_name, f.scheme, f.task, f.repeat, f.error});
    }
    out.push_back({"failed", std::move(failed)});
    return out;
}

void print_report_tables(std::ostream & os, const ReportInput & in, Format format,
                         const std::vector<std::string> & tables) {
    std::vector<std::string> chosen = tables;
    for (const auto & name : chosen) {
        const auto names = table_names();
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            throw UsageError(fmt::format("unknown table '{}' (expected {})", name, join(names, ", ")));
        }
    }
    if (std::find(chosen.begin(), chosen.end(), "all") != chosen.end()) chosen.clear();
    if (format == Format::csv) {
        // CSV has no place for a second header: one table per file, the summary unless asked.
        if (chosen.empty() && !tables.empty()) {
            throw UsageError("CSV holds one table: choose it with --table (summary, decision, hosts, ...)");
        }
        if (chosen.size() > 1) {
            throw UsageError(fmt::format("CSV holds one table, and --table names {}: choose one", chosen.size()));
        }
        if (chosen.empty()) chosen.push_back("summary");
    }

    const Analysis a = analyze(in);
    std::vector<NamedTable> all = report_tables(in, a);
    std::vector<const NamedTable *> shown;
    for (const auto & t : all) {
        if (chosen.empty() || std::find(chosen.begin(), chosen.end(), t.name) != chosen.end()) {
            // Empty provenance tables (no failures) and the empty per-token table (every task scored) are
            // left out unless asked for by name.
            if (chosen.empty() && t.table.rows.empty() &&
                (t.name == "failed" || t.name == "tokens" || t.name == "hardware" || t.name == "hardware_tokens" ||
                 t.name == "families" || t.name == "host_spread" || t.name == "tuned" || t.name.rfind("serving", 0) == 0 ||
                 (in.rows.empty() && (t.name == "summary" || t.name == "overall" || t.name == "decision")))) {
                continue;
            }
            shown.push_back(&t);
        }
    }

    switch (format) {
        case Format::csv: print_table(os, shown.front()->table, Format::csv); break;
        case Format::json: {
            nlohmann::json doc = {{"report", in.title},
                                  {"source", in.source},
                                  {"generated_at", in.generated_at},
                                  {"joulebench_version", JOULEBENCH_VERSION},
                                  {"reference", in.options.reference},
                                  {"warnings", nlohmann::json::array()},
                                  {"tables", nlohmann::json::array()}};
            for (const auto & w : a.warnings) doc["warnings"].push_back({{"kind", w.kind}, {"text", w.text}});
            for (const auto * t : shown) {
                // The table printer's own JSON, so a table reads the same alone or in the report.
                nlohmann::json j = nlohmann::json::parse(render_table(t->table, Format::json));
                j["name"] = t->name;
                doc["tables"].push_back(std::move(j));
            }
            os << doc.dump(2) << "\n";
            break;
        }
        case Format::md: {
            os << "# " << in.title << "\n\n";
            os << "Source: `" << in.source << "`, generated " << in.generated_at << " by joulebench "
               << JOULEBENCH_VERSION << ".\n\n";
            for (const auto & w : a.warnings) os << "> **Warning:** " << w.text << "\n>\n";
            if (!a.warnings.empty()) os << "\n";
            for (const auto * t : shown) {
                os << "## " << t->table.title << "\n\n";
                print_table(os, t->table, Format::md);
                os << "\n";
            }
            break;
        }
        case Format::table: {
            for (const auto & w : a.warnings) os << "Warning: " << w.text << "\n";
            if (!a.warnings.empty()) os << "\n";
            for (size_t i = 0; i < shown.size(); ++i) {
                if (i) os << "\n";
                print_table(os, shown[i]->table, Format::table);
            }
            break;
        }
    }
}

}  // namespace jb::report
