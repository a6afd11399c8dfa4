// The sweep runner (joulebench/sweep.hpp): every (model, scheme, task, repeat) cell, energy metered,
// each committed to SQLite in one transaction as it finishes. A sweep started again skips finished
// cells and redoes the one that was interrupted.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "energy/cpu_time.hpp"
#include "energy/device_claim.hpp"
#include "energy/discover.hpp"
#include "energy/gpu_sharing.hpp"
#include "energy/meter.hpp"
#include "joulebench/error.hpp"
#include "joulebench/sweep.hpp"
#include "quant/cache.hpp"
#include "quant/gguf_file.hpp"
#include "quant/hash.hpp"
#include "store/lock.hpp"
#include "joulebench/store.hpp"
#include "util/paths.hpp"
#include "sweep/bookkeeping.hpp"
#include "sweep/family.hpp"
#include "sweep/host_info.hpp"
#include "sweep/metered.hpp"
#include "sweep/schemes.hpp"
#include "sweep/workload.hpp"

namespace jb {

namespace {

using Clock = std::chrono::steady_clock;
using sweep::LabelEnergy;
using sweep::PhaseEnergy;
using sweep::Workload;
using sweep::energy_json;
using sweep::keep_placement_gpus;
using sweep::scheme_record;
using sweep::timeline_of;

// The observer, or one that does nothing.
class Notify {
public:
    explicit Notify(SweepObserver * o) : o_(o ? o : &none_) {}
    SweepObserver & operator*() { return *o_; }
    SweepObserver * operator->() { return o_; }
    void info(const std::string & text) { o_->on_message(MessageLevel::info, text); }
    void warn(const std::string & text) { o_->on_message(MessageLevel::warning, text); }

private:
    SweepObserver none_;
    SweepObserver * o_;
};

double or_nan(bool ok, double v) { return ok ? v : NAN; }

SchemeOptions scheme_options(const SweepSpec & spec) {
    SchemeOptions o;
    o.cache_dir = spec.cache_dir;
    o.kld_budget = spec.kld_budget;
    o.dynamic_from = spec.dynamic_from;
    o.engine = spec.engine;
    return o;
}

struct LoadedModel {
    std::unique_ptr<LlamaEngine> engine;
    LabelEnergy load_energy;
    std::string config_json;  // the engine's placement, for provenance
    int n_seq = 1;            // sequences the engine was sized for
};

void check_spec(const SweepSpec & spec) {
    if (spec.models.empty() && spec.families.empty()) throw UsageError("--models is required (or give --family)");
    if (spec.schemes.empty()) throw UsageError("--schemes: no scheme given");
    if (spec.tasks.empty()) throw UsageError("--tasks: no task given");
    if (spec.repeat < 1) throw UsageError(fmt::format("--repeat must be >= 1 (got {})", spec.repeat));
    if (spec.idle_s < 0 || spec.idle_check_s < 0 || spec.settle_s < 0) {
        throw UsageError("--idle-s, --idle-check-s and --settle-s must be >= 0");
    }
    if (!(spec.interval_ms > 0)) throw UsageError(fmt::format("--interval-ms must be > 0 (got {})", spec.interval_ms));
    check_engine_params(spec.engine);
}

}  // namespace

std::string SweepCell::label() const {
    return fmt::format("{} {} {}{}", model_file, scheme, task, repeats > 1 ? fmt::format(" #{}", repeat + 1) : "");
}

SweepOutcome run_sweep(const SweepSpec & spec_in, SweepObserver * observer) {
    SweepSpec spec = spec_in;
    // No data directory: the shipped task samples (the source tree's, else the installed package's).
    if (spec.task.data_dir.empty()) spec.task.data_dir = shipped_path("data/samples");
    Notify notify(observer);
    check_spec(spec);
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
    std::vector<std::unique_ptr<Workload>> task_list;
    for (const auto & name : spec.tasks) task_list.push_back(sweep::make_workload(name, spec.task));
    // Engines are sized to their workloads: single-sequence synthetic workloads (tg256, pp2048) run
    // on an engine of one sequence, which spares them the unified KV pool's per-call cost
    // (kv_unified()); the others on one of --parallel sequences, or as many as the widest synthetic
    // workload needs when there are only those. The single-sequence ones go first, so a scheme loads
    // its model at most twice.
    std::stable_partition(task_list.begin(), task_list.end(), [](const auto & w) { return w->sequences() == 1; });
    bool synthetic_only = true;
    int widest = 1;
    for (const auto & w : task_list) {
        synthetic_only = synthetic_only && w->sequences() > 0;
        widest = std::max(widest, w->sequences());
    }
    const int others_seq = synthetic_only ? std::min(spec.engine.n_seq_max, widest) : spec.engine.n_seq_max;
    auto engine_sequences = [&](const Workload & w) { return w.sequences() == 1 ? 1 : others_seq; };

    const std::string placement_fp = placement_suffix(spec.engine);
    check_placement(spec.engine);
    std::filesystem::path db_path(spec.db);
    if (db_path.has_parent_path()) std::filesystem::create_directories(db_path.parent_path());
    // One sweep per database: a second one would run every cell again and meter the first's load.
    const StoreLock lock = StoreLock::acquire(spec.db, spec.command_line.empty() ? "a sweep" : spec.command_line,
                                              spec.wait_for_db, [&](const LockHolder & h) {
                                                  notify.info(fmt::format("{} is in use by {}: waiting for it",
                                                                          spec.db, describe_holder(h)));
                                              });
    Store store = Store::open(spec.db, /*create=*/true);

    energy::Discovery found = energy::discover_sensors();
    keep_placement_gpus(found, spec.engine.gpus);
    HostRecord host = sweep::describe_host(found);
    host.fingerprint = host_fingerprint(host);
    store.upsert_host(host);
    const std::string sensors = energy::discovery_json(found);
    energy::SharingWatch sharing(found.sensors, unsigned(getpid()));  // other processes on the metered GPUs
    // Other joulebench runs metering the same devices (another sweep on another database, a serve).
    const energy::DeviceClaim claim(found.sensors, "sweep " + spec.db);
    energy::MeterOverlapWatch overlap(claim);
    if (const auto others = claim.others(); !others.empty()) {
        notify.warn(fmt::format("another joulebench run meters the same devices: {}; each counts the other's load, and "
                                "the cells that overlap are marked shared_meter", energy::describe_other_meters(others)));
    }
    const int64_t run_id = store.begin_run(spec.command_line, host.fingerprint);

    energy::MeterParams mp;
    mp.interval_s = spec.interval_ms / 1000.0;
    std::vector<std::pair<energy::Domain, double>> idle;
    std::optional<energy::CpuLoad> idle_load;
    SweepOutcome out;
    out.idle_w = NAN;
    // Idle power is measured once, just before the first work: before quantizing a scheme whose
    // cells are not all in the store yet, or before the first cell that runs. A sweep with nothing
    // left to do measures nothing.
    bool idle_measured = false;
    auto measure_idle_once = [&] {
        if (idle_measured || spec.idle_s <= 0) return;
        idle_measured = true;
        notify.info(fmt::format("measuring idle power for {:.1f} s", spec.idle_s));
        idle = sweep::idle_baseline(found.sensors, mp, spec.idle_s, &idle_load);
        out.idle_w = sweep::total_w(idle);
        if (idle_load && idle_load->busy()) {
            notify.warn(fmt::format("the idle baseline ran beside other load: {}; idle power, and so every net "
                                    "energy, is biased (marked idle_cpu_load.busy in each cell's energy_json)",
                                    energy::describe_load(*idle_load)));
        }
    };
    for (const auto & u : found.unavailable) notify.info(fmt::format("not measured: {}: {}", u.what, u.reason));

    const size_t total = models.size() * spec.schemes.size() * task_list.size() * size_t(spec.repeat);
    size_t index = 0;
    size_t remaining = total;
    const std::string cache_dir = spec.cache_dir.empty() ? default_cache_dir() : spec.cache_dir;

    for (const auto & model_path : models) {
        if (out.stopped) break;
        ModelRecord model;
        model.hash = hex64(xxh64_file_memo(model_path, QuantCache(cache_dir).sources_dir()));
        model.path = std::filesystem::absolute(model_path).string();
        model.file_name = std::filesystem::path(model_path).filename().string();
        model.file_bytes = int64_t(std::filesystem::file_size(model_path));
        model.synthetic = gguf_is_synthetic(model_path);
        bool model_recorded = false;
        if (const auto roles = family_roles_of(spec.families, model_path); !roles.empty()) {
            store.upsert_model(model);  // a relation points at a model row
            model_recorded = true;
            for (const auto & [family, role] : roles) store.set_model_relation(family, role, model.hash);
        }

        for (const auto & scheme_name : spec.schemes) {
            if (out.stopped) break;
            // dynamic's scheme is known only once chosen; the others' name tells which cells they own.
            if (!idle_measured && scheme_name != "dynamic") {
                const std::string canonical = parse_scheme(scheme_name).canonical();
                bool pending = false;
                for (const auto & task : task_list) {
                    for (int rep = 0; rep < spec.repeat && !pending; ++rep) {
                        pending = !store.has_cell({host.fingerprint, model.hash, canonical, task->name(),
                                                   task->fingerprint() + placement_fp, rep},
                                                  !spec.retry_failed);
                    }
                }
                if (pending) measure_idle_once();
            }
            const ResolvedScheme rs = resolve_scheme(model_path, scheme_name, scheme_options(spec),
                                                      [&](const std::string & msg) { notify.info(msg); },
                                                      [&](const std::string & msg) { notify.warn(msg); });
            const SchemeRecord srec = scheme_record(rs);
            store.upsert_scheme(srec);
            bool size_recorded = rs.file.scheme.empty();  // this model's size under the scheme (model_schemes)

            std::unique_ptr<LoadedModel> loaded;
            for (auto & task : task_list) {
                for (int rep = 0; rep < spec.repeat; ++rep, ++index) {
                    if (notify->stop_requested()) {
                        out.stopped = true;
                        break;
                    }
                    SweepCell cell;
                    cell.index = index;
                    cell.total = total;
                    cell.model_file = model.file_name;
                    cell.scheme = scheme_name;
                    cell.task = task->name();
                    cell.repeat = rep;
                    cell.repeats = spec.repeat;
                    CellRecord rec;
                    rec.set_key({host.fingerprint, model.hash, srec.canonical, task->name(),
                                 task->fingerprint() + placement_fp, rep});
                    if (store.has_cell(rec.key(), !spec.retry_failed)) {
                        ++out.skipped;
                        --remaining;
                        CellOutcome skipped;
                        skipped.status = CellStatus::skipped;
                        notify->on_cell_end(cell, skipped);
                        continue;
                    }
                    measure_idle_once();
                    if (!model_recorded) {
                        // Architecture and size come from llama.cpp once the model is loaded; a
                        // row with the file facts goes in now so cells never point at nothing.
                        store.upsert_model(model);
                        model_recorded = true;
                    }
                    if (!size_recorded) {
                        store.upsert_model_scheme(model.hash, srec.canonical, srec.bpw, srec.file_bytes);
                        size_recorded = true;
                    }
                    const std::string what = cell.label();
                    rec.run_id = run_id;
                    rec.host_name = host.hostname;
                    rec.scheme_name = scheme_name;
                    rec.sensors_json = sensors;
                    rec.started_at = utc_now_iso();
                    rec.primary_metric = task->primary_metric();
                    rec.n_items = int64_t(task->n_items());
                    const auto t_cell = Clock::now();
                    std::vector<CellItem> items;
                    PowerTimeline timeline;
                    CellOutcome outcome;
                    try {
                        if (!rs.error.empty()) throw RuntimeFailure(rs.error);
                        energy::Meter meter(found.sensors, mp);
                        meter.set_idle_power(idle);
                        sweep::MeterObserver phases(meter);
                        notify->on_cell_begin(cell, [&meter] { return meter.latest_power_w(); });
                        sharing.begin();
                        overlap.begin();
                        energy::CpuLoadWatch cpu_load(energy::CpuScope::process_tree);
                        cpu_load.begin();
                        meter.start("idle");
                        if (loaded && loaded->engine && loaded->n_seq != engine_sequences(*task)) loaded.reset();
                        if (!loaded) {
                            loaded = std::make_unique<LoadedModel>();
                            loaded->n_seq = engine_sequences(*task);
                            const EngineParams ep = scheme_engine_params(spec.engine, rs, loaded->n_seq);
                            loaded->config_json = engine_config_json(ep);
                            loaded->engine = std::make_unique<LlamaEngine>(ep, &phases);
                            const auto & info = loaded->engine->info();
                            model.arch = info.arch;
                            model.n_params = int64_t(info.n_params);
                            store.upsert_model(model);
                        }
                        LlamaEngine & engine = *loaded->engine;
                        engine.set_phase_observer(&phases);
                        phases.set_label(task->name());
                        engine.reset_counters();
                        const auto t_task = Clock::now();
                        tasks::TaskResult result = task->run(engine);
                        const double task_s = std::chrono::duration<double>(Clock::now() - t_task).count();
                        meter.mark(task->name() + "/idle");
                        engine.set_phase_observer(nullptr);
                        energy::Measurement m = meter.stop();
                        const auto load = cpu_load.end();
                        const auto shared = sharing.end();
                        const auto overlapped = overlap.end();
                        outcome.seconds = std::chrono::duration<double>(Clock::now() - t_cell).count();

                        const LmCounters c = engine.counters();
                        const LabelEnergy e = sweep::label_energy(m, task->name());
                        if (loaded && loaded->load_energy.total.seconds == 0) loaded->load_energy = sweep::label_energy(m, "load");
                        const bool measured = e.measured;
                        auto pick = [&](const PhaseEnergy & p) { return measured ? p.energy_j : p.estimated_j; };
                        rec.energy_estimated = !measured;
                        rec.energy_j = pick(e.total);
                        rec.energy_net_j = measured ? e.total.net_j : NAN;
                        rec.load_energy_j = pick(loaded->load_energy.load);
                        rec.load_energy_net_j = measured ? loaded->load_energy.load.net_j : NAN;
                        rec.load_t_s = loaded->load_energy.load.seconds;
                        rec.prefill_energy_j = pick(e.prefill);
                        rec.prefill_energy_net_j = measured ? e.prefill.net_j : NAN;
                        rec.prefill_t_s = c.prefill_s;
                        rec.prefill_tokens = c.prefill_tokens;
                        rec.decode_energy_j = or_nan(c.decode_tokens > 0, pick(e.decode));
                        rec.decode_energy_net_j = or_nan(c.decode_tokens > 0 && measured, e.decode.net_j);
                        rec.decode_t_s = or_nan(c.decode_tokens > 0, c.decode_s);
                        rec.decode_tokens = c.decode_tokens;
                        rec.wall_t_s = task_s;
                        rec.prefill_tok_s = or_nan(c.prefill_s > 0, double(c.prefill_tokens) / c.prefill_s);
                        rec.decode_tok_s = or_nan(c.decode_s > 0, double(c.decode_tokens) / c.decode_s);
                        rec.ttft_s = or_nan(c.first_token_s >= 0, c.first_token_s);
                        rec.idle_power_w = out.idle_w;
                        timeline = timeline_of(m);
                        nlohmann::json ej = {{"domains", energy_json(m)},
                                             {"method", e.method},
                                             {"engine", nlohmann::json::parse(loaded->config_json)},
                                             {"estimated_j", e.total.estimated_j}};
                        // Several measured domains (GPUs) peak at different moments: the peak of
                        // their sum, from the timeline, is the cell's peak draw.
                        std::vector<std::string> modelled;
                        for (const auto & d : m.domains) {
                            if (d.estimated()) modelled.push_back(d.domain.str());
                        }
                        if (const double peak = peak_total_w(timeline, modelled); std::isfinite(peak)) {
                            ej["peak_total_w"] = peak;
                        }
                        sweep::mark_shared_gpu(ej, shared, what, [&](const std::string & m) { notify.warn(m); });
                        sweep::mark_shared_meter(ej, overlapped, what, [&](const std::string & m) { notify.warn(m); });
                        sweep::mark_cpu_load(ej, load, idle_load, what, [&](const std::string & m) { notify.warn(m); });
                        rec.energy_json = ej.dump();
                        nlohmann::json scores = nlohmann::json::array();
                        for (const auto & metric : result.metrics) {
                            scores.push_back({{"name", metric.name},
                                              {"value", metric.value},
                                              {"stderr", std::isfinite(metric.stderr_) ? nlohmann::json(metric.stderr_)
                                                                                       : nlohmann::json(nullptr)},
                                              {"group", metric.group},
                                              {"n", metric.n}});
                            if (metric.group.empty() && metric.name == result.primary_metric) {
                                rec.score = metric.value;
                                rec.score_stderr = metric.stderr_;
                            }
                        }
                        rec.scores_json = scores.dump();
                        rec.n_items = int64_t(result.items.size());
                        for (size_t i = 0; i < result.items.size(); ++i) {
                            items.push_back({int64_t(i), sweep::item_json(result.items[i]).dump()});
                        }
                        rec.status = kStatusOk;
                        outcome.energy_j = rec.energy_j;
                        outcome.estimated = rec.energy_estimated;
                        ++out.measured;
                    } catch (const std::exception & ex) {
                        rec.status = kStatusFailed;
                        rec.error = ex.what();
                        items.clear();
                        timeline = {};
                        ++out.failed;
                        outcome.status = CellStatus::failed;
                        outcome.error = ex.what();
                        outcome.seconds = std::chrono::duration<double>(Clock::now() - t_cell).count();
                        if (loaded && !loaded->engine) loaded.reset();
                    }
                    rec.finished_at = utc_now_iso();
                    store.commit_cell(rec, items, timeline);
                    --remaining;
                    notify->on_cell_end(cell, outcome);

                    if (spec.idle_check_s > 0 && !idle.empty() && remaining > 0 && !notify->stop_requested()) {
                        // The next cell starts from a settled device: wait (in idle-check windows,
                        // up to settle_s) until it is back near the idle power of the start.
                        const auto settle = sweep::settle_device(found.sensors, mp, spec.idle_check_s, out.idle_w,
                                                                 spec.settle_s, [&] { return notify->stop_requested(); });
                        if (!settle.settled && !notify->stop_requested()) {
                            // Said once, counted for the end: a GPU that keeps its clocks up for
                            // longer than settle_s would otherwise repeat it after every cell.
                            if (out.unsettled++ == 0) {
                                notify.warn(fmt::format(
                                    "idle power {:.1f} W vs {:.1f} W at the start after waiting {:.1f} s: the device "
                                    "has not settled (heat, clocks, another job); net energies may be biased "
                                    "(further cases are counted at the end)",
                                    settle.watts, out.idle_w, settle.waited_s));
                            }
                            out.unsettled_max_w = std::max(out.unsettled_max_w, settle.watts);
                        }
                    }
                }
                if (out.stopped) break;
            }
        }
    }
    store.finish_run(run_id);
    return out;
}

}  // namespace jb
