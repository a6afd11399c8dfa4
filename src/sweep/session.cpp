// A metering session over one store and the measurement of one cell in it (sweep/session.hpp),
// shared by the sweep and the tuner.

#include "sweep/session.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "joulebench/error.hpp"
#include "quant/cache.hpp"
#include "quant/hash.hpp"
#include "sweep/host_info.hpp"

namespace jb::sweep {

namespace {

using Clock = std::chrono::steady_clock;

double or_nan(bool ok, double v) { return ok ? v : NAN; }

StoreLock lock_store(const SessionParams & p, Notify & notify) {
    std::filesystem::path db_path(p.db);
    if (db_path.has_parent_path()) std::filesystem::create_directories(db_path.parent_path());
    // One writer per database: a second one would run every cell again and meter the first's load.
    return StoreLock::acquire(p.db, p.command_line.empty() ? "a " + p.what : p.command_line, p.wait_for_db,
                              [&](const LockHolder & h) {
                                  notify.info(fmt::format("{} is in use by {}: waiting for it", p.db,
                                                          describe_holder(h)));
                              });
}

}  // namespace

ModelEntry model_entry(const std::string & path, const std::string & cache_dir) {
    ModelEntry e;
    e.path = path;
    const std::string cache = cache_dir.empty() ? default_cache_dir() : cache_dir;
    e.record.hash = hex64(xxh64_file_memo(path, QuantCache(cache).sources_dir()));
    e.record.path = std::filesystem::absolute(path).string();
    e.record.file_name = std::filesystem::path(path).filename().string();
    e.record.file_bytes = int64_t(std::filesystem::file_size(path));
    e.record.synthetic = gguf_is_synthetic(path);
    return e;
}

Session::Session(const SessionParams & params, SweepObserver * observer)
    : params_(params), notify_(observer), lock_(lock_store(params, notify_)),
      store_(Store::open(params.db, /*create=*/true)) {
    found_ = energy::discover_sensors();
    keep_placement_gpus(found_, params_.gpus);
    host_ = describe_host(found_);
    host_.fingerprint = host_fingerprint(host_);
    store_.upsert_host(host_);
    sensors_json_ = energy::discovery_json(found_);
    sharing_ = std::make_unique<energy::SharingWatch>(found_.sensors, std::vector<unsigned>{unsigned(getpid())});
    // Other joulebench runs metering the same devices (another sweep on another database, a serve).
    claim_ = std::make_unique<energy::DeviceClaim>(found_.sensors, params_.what + " " + params_.db);
    overlap_ = std::make_unique<energy::MeterOverlapWatch>(*claim_);
    if (const auto others = claim_->others(); !others.empty()) {
        notify_.warn(fmt::format("another joulebench run meters the same devices: {}; each counts the other's load, "
                                 "and the cells that overlap are marked shared_meter",
                                 energy::describe_other_meters(others)));
    }
    run_id_ = store_.begin_run(params_.command_line, host_.fingerprint);

    meter_params_.interval_s = params_.interval_ms / 1000.0;
    idle_w_ = NAN;
    for (const auto & u : found_.unavailable) notify_.info(fmt::format("not measured: {}: {}", u.what, u.reason));
}

void Session::measure_idle_once() {
    if (idle_measured_ || params_.idle_s <= 0) return;
    idle_measured_ = true;
    notify_.info(fmt::format("measuring idle power for {:.1f} s", params_.idle_s));
    idle_ = idle_baseline(found_.sensors, meter_params_, params_.idle_s, &idle_load_);
    idle_w_ = total_w(idle_);
    if (idle_load_ && idle_load_->busy()) {
        notify_.warn(fmt::format("the idle baseline ran beside other load: {}; idle power, and so every net "
                                 "energy, is biased (marked idle_cpu_load.busy in each cell's energy_json)",
                                 energy::describe_load(*idle_load_)));
    }
}

Session::~Session() {
    try {
        store_.finish_run(run_id_);
    } catch (...) {
        // The run stays unfinished in the store, as a killed one does.
    }
}

MeasuredCell Session::measure(CellJob & job, const SweepCell & cell) {
    measure_idle_once();
    ModelEntry & model = *job.model;
    SchemeEntry & scheme = *job.scheme;
    Workload & task = *job.task;
    if (!model.recorded) {
        // Architecture and size come from llama.cpp once the model is loaded; a row with the file
        // facts goes in now so cells never point at nothing.
        store_.upsert_model(model.record);
        model.recorded = true;
    }
    if (!scheme.size_recorded && !scheme.rs.file.scheme.empty()) {
        store_.upsert_model_scheme(model.record.hash, scheme.record.canonical, scheme.record.bpw,
                                   scheme.record.file_bytes);
        scheme.size_recorded = true;
    }
    const std::string what = cell.label();
    MeasuredCell out;
    CellRecord & rec = out.rec;
    rec.set_key({host_.fingerprint, model.record.hash, scheme.record.canonical, task.name(), job.workload_fp,
                 job.repeat});
    rec.run_id = run_id_;
    rec.host_name = host_.hostname;
    rec.scheme_name = scheme.rs.name;
    rec.sensors_json = sensors_json_;
    rec.started_at = utc_now_iso();
    rec.primary_metric = task.primary_metric();
    rec.n_items = int64_t(task.n_items());
    const auto t_cell = Clock::now();
    CellOutcome & outcome = out.outcome;
    auto & loaded = scheme.loaded;
    try {
        if (!scheme.rs.error.empty()) throw RuntimeFailure(scheme.rs.error);
        if (!job.error.empty()) throw RuntimeFailure(job.error);
        energy::Meter meter(found_.sensors, meter_params_);
        meter.set_idle_power(idle_);
        MeterObserver phases(meter);
        notify_->on_cell_begin(cell, [&meter] { return meter.latest_power_w(); });
        sharing_->begin();
        overlap_->begin();
        energy::CpuLoadWatch cpu_load(energy::CpuScope::process_tree);
        cpu_load.begin();
        meter.start("idle");
        const EngineParams & ep = job.engine;
        const std::string config = engine_config_json(ep);
        if (loaded && loaded->engine && loaded->config_json != config) {
            // Other context settings (sequences, sizes, a tune trial's): a new context on the
            // loaded model where it loads the same way, else the model again.
            if (same_model_load(loaded->engine->params(), ep)) {
                try {
                    loaded->engine->set_phase_observer(&phases);
                    loaded->engine->reconfigure(ep);
                    loaded->config_json = config;
                } catch (...) {
                    loaded.reset();  // no context left
                    throw;
                }
            } else {
                loaded.reset();
            }
        }
        if (!loaded) {
            loaded = std::make_unique<LoadedModel>();
            loaded->config_json = config;
            loaded->engine = std::make_unique<LlamaEngine>(ep, &phases);
            const auto & info = loaded->engine->info();
            model.record.arch = info.arch;
            model.record.n_params = int64_t(info.n_params);
            store_.upsert_model(model.record);
        }
        LlamaEngine & engine = *loaded->engine;
        engine.set_phase_observer(&phases);
        phases.set_label(task.name());
        engine.reset_counters();
        const auto t_task = Clock::now();
        tasks::TaskResult result = task.run(engine);
        const double task_s = std::chrono::duration<double>(Clock::now() - t_task).count();
        meter.mark(task.name() + "/idle");
        engine.set_phase_observer(nullptr);
        energy::Measurement m = meter.stop();
        const auto load = cpu_load.end();
        const auto shared = sharing_->end();
        const auto overlapped = overlap_->end();
        outcome.seconds = std::chrono::duration<double>(Clock::now() - t_cell).count();

        const LmCounters c = engine.counters();
        const LabelEnergy e = label_energy(m, task.name());
        if (loaded->load_energy.total.seconds == 0) loaded->load_energy = label_energy(m, "load");
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
        rec.idle_power_w = idle_w_;
        out.timeline = timeline_of(m);
        nlohmann::json ej = {{"domains", energy_json(m)},
                             {"method", e.method},
                             {"engine", nlohmann::json::parse(loaded->config_json)},
                             {"estimated_j", e.total.estimated_j}};
        // Several measured domains (GPUs) peak at different moments: the peak of their sum, from
        // the timeline, is the cell's peak draw.
        std::vector<std::string> modelled;
        for (const auto & d : m.domains) {
            if (d.estimated()) modelled.push_back(d.domain.str());
        }
        if (const double peak = peak_total_w(out.timeline, modelled); std::isfinite(peak)) ej["peak_total_w"] = peak;
        const WarnFn warn = [this](const std::string & text) { notify_.warn(text); };
        mark_shared_gpu(ej, shared, what, warn);
        mark_shared_meter(ej, overlapped, what, warn);
        mark_cpu_load(ej, load, idle_load_, what, warn);
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
            out.items.push_back({int64_t(i), item_json(result.items[i]).dump()});
        }
        rec.status = kStatusOk;
        outcome.energy_j = rec.energy_j;
        outcome.estimated = rec.energy_estimated;
    } catch (const std::exception & ex) {
        rec.status = kStatusFailed;
        rec.error = ex.what();
        out.items.clear();
        out.timeline = {};
        outcome.status = CellStatus::failed;
        outcome.error = ex.what();
        outcome.seconds = std::chrono::duration<double>(Clock::now() - t_cell).count();
        if (loaded && !loaded->engine) loaded.reset();
    }
    return out;
}

void Session::commit(MeasuredCell & m, const SweepCell & cell) {
    m.rec.finished_at = utc_now_iso();
    store_.commit_cell(m.rec, m.items, m.timeline);
    notify_->on_cell_end(cell, m.outcome);
}

void Session::settle() {
    if (params_.idle_check_s <= 0 || idle_.empty() || notify_->stop_requested()) return;
    // The next cell starts from a settled device: wait (in idle-check windows, up to settle_s)
    // until it is back near the idle power of the start.
    const auto settle = settle_device(found_.sensors, meter_params_, params_.idle_check_s, idle_w_, params_.settle_s,
                                      [&] { return notify_->stop_requested(); });
    if (!settle.settled && !notify_->stop_requested()) {
        // Said once, counted for the end: a GPU that keeps its clocks up for longer than settle_s
        // would otherwise repeat it after every cell.
        if (unsettled_++ == 0) {
            notify_.warn(fmt::format("idle power {:.1f} W vs {:.1f} W at the start after waiting {:.1f} s: the device "
                                     "has not settled (heat, clocks, another job); net energies may be biased "
                                     "(further cases are counted at the end)",
                                     settle.watts, idle_w_, settle.waited_s));
        }
        unsettled_max_w_ = std::max(unsettled_max_w_, settle.watts);
    }
}

void add_energy_json(CellRecord & rec, const std::string & key, const nlohmann::json & value) {
    nlohmann::json ej = nlohmann::json::parse(rec.energy_json, nullptr, /*allow_exceptions=*/false);
    if (!ej.is_object()) ej = nlohmann::json::object();
    ej[key] = value;
    rec.energy_json = ej.dump();
}

CellNumbers cell_numbers(const CellRecord & rec, const Workload & task) {
    CellNumbers n;
    const int64_t tokens = rec.prefill_tokens + rec.decode_tokens;
    n.j_per_token = tokens > 0 && std::isfinite(rec.energy_j) ? rec.energy_j / double(tokens) : NAN;
    double busy_s = 0;
    if (std::isfinite(rec.prefill_t_s)) busy_s += rec.prefill_t_s;
    if (std::isfinite(rec.decode_t_s)) busy_s += rec.decode_t_s;
    n.tok_s = tokens > 0 && busy_s > 0 ? double(tokens) / busy_s : NAN;
    n.ttft_s = rec.ttft_s;
    if (!std::isfinite(n.ttft_s) && task.prefill_only() && std::isfinite(rec.prefill_t_s)) {
        n.ttft_s = rec.prefill_t_s / double(std::max(1, task.repetitions()));
    }
    return n;
}

}  // namespace jb::sweep
