// The sweep runner (joulebench/sweep.hpp): every (model, scheme, task, repeat) cell, energy metered,
// each committed to SQLite in one transaction as it finishes. A sweep started again skips finished
// cells and redoes the one that was interrupted.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "joulebench/error.hpp"
#include "joulebench/sweep.hpp"
#include "quant/cache.hpp"
#include "quant/gguf_file.hpp"
#include "quant/hash.hpp"
#include "store/lock.hpp"
#include "joulebench/store.hpp"
#include "joulebench/sweep.hpp"
#include "metrics/confidence.hpp"
#include "sweep/family.hpp"
#include "sweep/schemes.hpp"
#include "sweep/session.hpp"
#include "sweep/tuned.hpp"
#include "sweep/workload.hpp"
#include "util/paths.hpp"

namespace jb {

namespace {

void check_spec(const SweepSpec & spec) {
    if (spec.models.empty() && spec.families.empty()) throw UsageError("--models is required (or give --family)");
    if (spec.schemes.empty()) throw UsageError("--schemes: no scheme given");
    if (spec.tasks.empty()) throw UsageError("--tasks: no task given");
    if (spec.repeat < 1) throw UsageError(fmt::format("--repeat must be >= 1 (got {})", spec.repeat));
    if (spec.ci_pct < 0 || !std::isfinite(spec.ci_pct)) throw UsageError("--ci must be a percentage > 0");
    if (spec.ci_pct > 0 && (!(spec.ci_max_s > 0) || spec.ci_max_n < 2)) {
        throw UsageError("--ci-max-s must be > 0 and --ci-max-n at least 2");
    }
    if (spec.idle_s < 0 || spec.idle_check_s < 0 || spec.settle_s < 0) {
        throw UsageError("--idle-s, --idle-check-s and --settle-s must be >= 0");
    }
    if (!(spec.interval_ms > 0)) throw UsageError(fmt::format("--interval-ms must be > 0 (got {})", spec.interval_ms));
    check_engine_params(spec.engine);
}

SchemeOptions scheme_options(const SweepSpec & spec) {
    SchemeOptions o;
    o.cache_dir = spec.cache_dir;
    o.kld_budget = spec.kld_budget;
    o.dynamic_from = spec.dynamic_from;
    o.engine = spec.engine;
    return o;
}

// What a repeat of an adaptive series records: n, the mean J/token and its 95 % interval so far,
// the target, and why the series stopped ("" while it goes on).
nlohmann::json repeats_json(const std::vector<double> & j_per_token, const metrics::RepeatRule & rule,
                            metrics::RepeatStop stop) {
    const metrics::Interval ci = metrics::mean_ci95(j_per_token);
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    return {{"n", ci.n},
            {"mean_j_per_token", num(ci.mean)},
            {"ci95_lo", num(ci.lo())},
            {"ci95_hi", num(ci.hi())},
            {"half_width_pct", num(ci.relative() * 100.0)},
            {"target_pct", rule.target_pct},
            {"max_s", rule.max_s},
            {"max_n", rule.max_n},
            {"stop", metrics::repeat_stop_name(stop)}};
}

// sweep --engine tuned: the best setting `joulebench tune` stored for this cell applied to the job's
// engine, and what the cells record about it; without stored trials the job fails, saying which
// tune to run.
nlohmann::json tuned_settings(const Store & store, const HostRecord & host, const sweep::ModelEntry & model,
                              const sweep::SchemeEntry & scheme, const sweep::Workload & task,
                              const std::string & base_fp, sweep::CellJob & job) {
    const sweep::StoredTune t =
        sweep::stored_tune(store, {host.fingerprint, model.record.hash, scheme.record.canonical, task.name(), base_fp});
    const int best = sweep::best_stored(t);
    if (best < 0) {
        job.error = fmt::format("--engine tuned: no tune trials stored for {} {} {} on this host; run `joulebench tune "
                                "-m {} --scheme {} --workload {} --db ...` on the same database first",
                                model.record.file_name, scheme.rs.name, task.name(), model.path, scheme.rs.name,
                                task.name());
        return nullptr;
    }
    const sweep::StoredSetting & s = t.settings[size_t(best)];
    apply_settings_suffix(s.suffix, job.engine);
    const metrics::Interval ci = metrics::mean_ci95(s.runs.j_per_token);
    return {{"settings", s.suffix},
            {"label", settings_label(job.engine)},
            {"trials", s.runs.n()},
            {"tune_j_per_token", std::isfinite(ci.mean) ? nlohmann::json(ci.mean) : nlohmann::json(nullptr)}};
}

}  // namespace

std::string SweepCell::label() const {
    return fmt::format("{} {} {}{}", model_file, scheme, task, repeats != 1 ? fmt::format(" #{}", repeat + 1) : "");
}

SweepOutcome run_sweep(const SweepSpec & spec_in, SweepObserver * observer) {
    SweepSpec spec = spec_in;
    // No data directory: the shipped task samples (the source tree's, else the installed package's).
    if (spec.task.data_dir.empty()) spec.task.data_dir = shipped_path("data/samples");
    check_spec(spec);
    sweep::Notify notify(observer);
    // Families: their models are swept too (appended when the list lacks them) and related in the store.
    std::vector<std::string> models = spec.models;
    if (!spec.models_fixed) {
        for (const auto & m : family_models_missing(spec.families, models)) models.push_back(m);
    }
    for (const auto & m : models) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(m, ec)) throw InputError(m, "model file not found");
        inspect_gguf(m);  // a foreign or truncated file fails the sweep here, not in every cell
    }
    // Scheme names are checked before any work (dynamic's types are chosen later).
    for (const auto & s : spec.schemes) {
        if (s != "dynamic") parse_scheme(s);
    }
    std::vector<std::unique_ptr<sweep::Workload>> task_list;
    for (const auto & name : spec.tasks) task_list.push_back(sweep::make_workload(name, spec.task));
    // Engines are sized to their workloads: single-sequence synthetic workloads (tg256, pp2048) run
    // on an engine of one sequence, which spares them the unified KV pool's per-call cost
    // (kv_unified()); the others on one of --parallel sequences, or as many as the widest synthetic
    // workload needs when there are only those. The single-sequence ones go first, so a scheme's engine
    // changes its context (LlamaEngine::reconfigure, the weights stay loaded) at most once.
    std::stable_partition(task_list.begin(), task_list.end(), [](const auto & w) { return w->sequences() == 1; });
    bool synthetic_only = true;
    int widest = 1;
    for (const auto & w : task_list) {
        synthetic_only = synthetic_only && w->sequences() > 0;
        widest = std::max(widest, w->sequences());
    }
    const int others_seq = synthetic_only ? std::min(spec.engine.n_seq_max, widest) : spec.engine.n_seq_max;
    auto engine_sequences = [&](const sweep::Workload & w) { return w.sequences() == 1 ? 1 : others_seq; };

    const std::string placement_fp = placement_suffix(spec.engine);
    check_placement(spec.engine);
    sweep::SessionParams sp;
    sp.db = spec.db;
    sp.what = "sweep";
    sp.command_line = spec.command_line;
    sp.wait_for_db = spec.wait_for_db;
    sp.idle_s = spec.idle_s;
    sp.idle_check_s = spec.idle_check_s;
    sp.settle_s = spec.settle_s;
    sp.interval_ms = spec.interval_ms;
    sp.gpus = spec.engine.gpus;
    sweep::Session session(sp, observer);
    Store & store = session.store();
    const HostRecord & host = session.host();

    SweepOutcome out;
    const bool adaptive = spec.ci_pct > 0;
    metrics::RepeatRule rule;
    rule.target_pct = spec.ci_pct;
    rule.min_n = std::max(spec.repeat, 3);
    rule.max_n = std::max(spec.ci_max_n, rule.min_n);
    rule.max_s = spec.ci_max_s;
    const int repeats_shown = adaptive ? 0 : spec.repeat;
    const size_t series_total = models.size() * spec.schemes.size() * task_list.size();
    // With --ci the number of repeats is known only at the end: the count assumes the minimum.
    const size_t total = series_total * size_t(adaptive ? rule.min_n : spec.repeat);
    size_t index = 0;
    size_t series_done = 0;

    for (const auto & model_path : models) {
        if (out.stopped) break;
        sweep::ModelEntry model = sweep::model_entry(model_path, spec.cache_dir);
        if (const auto roles = family_roles_of(spec.families, model_path); !roles.empty()) {
            store.upsert_model(model.record);  // a relation points at a model row
            model.recorded = true;
            for (const auto & [family, role] : roles) store.set_model_relation(family, role, model.record.hash);
        }

        for (const auto & scheme_name : spec.schemes) {
            if (out.stopped) break;
            // dynamic's scheme is known only once chosen; the others' name tells which cells they own:
            // the idle baseline goes before quantizing a scheme that has cells left to run.
            if (scheme_name != "dynamic") {
                const std::string canonical = parse_scheme(scheme_name).canonical();
                bool pending = false;
                for (const auto & task : task_list) {
                    const std::string fp = task->fingerprint() + placement_fp +
                                           (spec.engine_source == EngineSource::tuned ? std::string(kTunedSuffix) : std::string());
                    for (int rep = 0; rep < std::max(spec.repeat, 1) && !pending; ++rep) {
                        pending = !store.has_cell({host.fingerprint, model.record.hash, canonical, task->name(), fp, rep},
                                                  !spec.retry_failed);
                    }
                }
                if (pending) session.measure_idle_once();
            }
            sweep::SchemeEntry scheme;
            scheme.rs = resolve_scheme(model_path, scheme_name, scheme_options(spec),
                                       [&](const std::string & msg) { notify.info(msg); },
                                       [&](const std::string & msg) { notify.warn(msg); });
            scheme.record = sweep::scheme_record(scheme.rs);
            store.upsert_scheme(scheme.record);

            for (auto & task : task_list) {
                const std::string base_fp = task->fingerprint() + placement_fp;
                sweep::CellJob job;
                job.model = &model;
                job.scheme = &scheme;
                job.task = task.get();
                job.engine = scheme_engine_params(spec.engine, scheme.rs, engine_sequences(*task));
                job.workload_fp = base_fp;
                nlohmann::json tuned_json;
                if (spec.engine_source == EngineSource::tuned) {
                    job.workload_fp = base_fp + kTunedSuffix;
                    tuned_json = tuned_settings(store, host, model, scheme, *task, base_fp, job);
                }
                ++series_done;
                std::vector<double> j_per_token;  // this series' repeats so far (--ci)
                double series_s = 0.0;
                for (int rep = 0; adaptive || rep < spec.repeat; ++rep) {
                    if (notify->stop_requested()) {
                        out.stopped = true;
                        break;
                    }
                    SweepCell cell;
                    cell.index = index++;
                    cell.total = std::max(total, index);
                    cell.model_file = model.record.file_name;
                    cell.scheme = scheme_name;
                    cell.task = task->name();
                    cell.repeat = rep;
                    cell.repeats = repeats_shown;
                    job.repeat = rep;
                    const CellKey key{host.fingerprint, model.record.hash, scheme.record.canonical, task->name(),
                                      job.workload_fp, rep};
                    if (store.has_cell(key, !spec.retry_failed)) {
                        ++out.skipped;
                        CellOutcome skipped;
                        skipped.status = CellStatus::skipped;
                        notify->on_cell_end(cell, skipped);
                        if (adaptive) {
                            // A resumed series goes on from the repeats it has.
                            const auto done = store.find_cell(key);
                            if (!done || !done->ok()) break;
                            j_per_token.push_back(sweep::cell_numbers(*done, *task).j_per_token);
                            series_s += done->wall_t_s;
                            if (metrics::repeat_decision(j_per_token, series_s, rule) != metrics::RepeatStop::more) {
                                break;
                            }
                        }
                        continue;
                    }
                    sweep::MeasuredCell m = session.measure(job, cell);
                    if (!tuned_json.is_null() && m.rec.ok()) sweep::add_energy_json(m.rec, "tuned", tuned_json);
                    bool series_over = !adaptive && rep + 1 == spec.repeat;
                    if (adaptive) {
                        series_s += m.outcome.seconds;
                        metrics::RepeatStop stop = metrics::RepeatStop::count;  // a failed repeat ends its series
                        if (m.rec.ok()) {
                            j_per_token.push_back(sweep::cell_numbers(m.rec, *task).j_per_token);
                            stop = metrics::repeat_decision(j_per_token, series_s, rule);
                            sweep::add_energy_json(m.rec, "repeats", repeats_json(j_per_token, rule, stop));
                        }
                        series_over = stop != metrics::RepeatStop::more;
                    }
                    if (m.rec.ok()) {
                        ++out.measured;
                    } else {
                        ++out.failed;
                    }
                    session.commit(m, cell);
                    const bool last = series_over && series_done == series_total;
                    if (!last) session.settle();
                    if (series_over) break;
                }
                if (out.stopped) break;
            }
        }
    }
    out.unsettled = session.unsettled();
    out.unsettled_max_w = session.unsettled_max_w();
    out.idle_w = session.idle_w();  // NaN when nothing ran (no baseline was needed)
    return out;
}

}  // namespace jb
