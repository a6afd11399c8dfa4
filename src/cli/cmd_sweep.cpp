// joulebench sweep: every (model, scheme, task, repeat) cell, energy metered, each committed to
// SQLite in one transaction as it finishes. A sweep started again skips finished cells and
// redoes the one that was interrupted.

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/dynamic_plan.hpp"
#include "cli/eval.hpp"
#include "cli/family.hpp"
#include "cli/host_info.hpp"
#include "cli/metered.hpp"
#include "cli/shared_gpu.hpp"
#include "cli/slurm_cli.hpp"
#include "cli/store_rows.hpp"
#include "cli/sweep.hpp"
#include "cli/workload.hpp"
#include "energy/discover.hpp"
#include "quant/cache.hpp"
#include "quant/dynamic.hpp"
#include "quant/fidelity.hpp"
#include "quant/hash.hpp"
#include "quant/quantize.hpp"
#include "report/table.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace jb::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> g_stop_signal{0};
std::atomic<int64_t> g_stop_ns{0};  // CLOCK_MONOTONIC of the first stop signal, 0 before it

extern "C" void on_stop_signal(int sig) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t now = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    int64_t first = 0;
    if (g_stop_ns.compare_exchange_strong(first, now)) {
        g_stop_signal = sig;
        return;
    }
    // timeout(1) signals the command and then its whole process group, and a batch system may
    // signal every process of a job: one request can arrive twice within microseconds (a GPU
    // campaign's sweep died of that). Only a signal a second or more after the first is the
    // user insisting: then stop at once; the database is consistent at any moment.
    if (now - first < 1'000'000'000) return;
    signal(sig, SIG_DFL);
    raise(sig);
}

std::string format_duration(double s) {
    if (!(s >= 0) || s > 360000) return "--:--";
    int total = int(s + 0.5);
    return total >= 3600 ? fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
                         : fmt::format("{}:{:02}", total / 60, total % 60);
}

// The progress line on stderr: cell counter, what runs, live watts, elapsed and ETA. Redrawn
// twice a second from its own thread while a cell runs; plain lines when stderr is no terminal.
class Progress {
public:
    Progress(size_t total, bool tty) : total_(total), tty_(tty), t0_(Clock::now()) {}
    ~Progress() { end_cell(); }

    void begin_cell(size_t index, std::string what, energy::Meter * meter) {
        end_cell();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            index_ = index;
            what_ = std::move(what);
            meter_ = meter;
            running_ = true;
        }
        if (!tty_) {
            fmt::print(stderr, "sweep: [{}/{}] {}\n", index + 1, total_, what_);
            return;
        }
        thread_ = std::thread([this] {
            std::unique_lock<std::mutex> lock(mutex_);
            while (running_) {
                draw_locked();
                wake_.wait_for(lock, std::chrono::milliseconds(500));
            }
        });
    }

    // A cell finished (executed) after `seconds`; skipped cells do not count towards the ETA.
    void end_cell(double seconds = -1) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (seconds >= 0) {
                run_s_ += seconds;
                ++n_run_;
            }
            running_ = false;
            meter_ = nullptr;
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
            fmt::print(stderr, "\r\033[K");
        }
    }

    void set_remaining(size_t remaining) {
        std::lock_guard<std::mutex> lock(mutex_);
        remaining_ = remaining;
    }

private:
    void draw_locked() {
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
        const double eta = n_run_ > 0 ? run_s_ / double(n_run_) * double(remaining_) : -1;
        const double watts = meter_ ? meter_->latest_power_w() : 0.0;
        std::string power = watts > 0 ? fmt::format("{:6.1f} W", watts) : std::string("     - W");
        fmt::print(stderr, "\r\033[K[{}/{}] {}  {}  elapsed {}  ETA {}", index_ + 1, total_, what_, power,
                   format_duration(elapsed), format_duration(eta));
        fflush(stderr);
    }

    size_t total_;
    bool tty_;
    Clock::time_point t0_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
    bool running_ = false;
    size_t index_ = 0;
    size_t remaining_ = 0;
    std::string what_;
    energy::Meter * meter_ = nullptr;
    double run_s_ = 0.0;
    size_t n_run_ = 0;
};

nlohmann::json energy_json(const energy::Measurement & m) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto & d : m.domains) {
        nlohmann::json j = {{"domain", d.domain.str()},
                            {"method", energy::method_name(d.method)},
                            {"sensor", d.sensor},
                            {"gross_j", d.gross_j},
                            {"duration_s", d.duration_s},
                            {"avg_w", d.avg_w},
                            {"peak_w", d.peak_w},
                            {"n_samples", d.n_samples}};
        if (d.net_j) j["net_j"] = *d.net_j;
        if (d.idle_w) j["idle_w"] = *d.idle_w;
        if (d.counter_j) j["counter_j"] = *d.counter_j;
        if (d.samples_j) j["samples_j"] = *d.samples_j;
        if (!d.error.empty()) j["error"] = d.error;
        out.push_back(std::move(j));
    }
    return out;
}

// The Meter's samples on one time axis (each domain's last value held), with the phases.
PowerTimeline timeline_of(const energy::Measurement & m) {
    PowerTimeline tl;
    for (const auto & d : m.domains) tl.domains.push_back(d.domain.str());
    std::vector<double> last(m.domains.size(), NAN);
    tl.power_w.assign(m.domains.size(), {});
    for (const auto & p : m.timeline) {
        if (p.domain < 0 || size_t(p.domain) >= m.domains.size()) continue;
        last[size_t(p.domain)] = p.power_w;
        if (!tl.t_s.empty() && tl.t_s.back() == p.t_s) {
            for (size_t d = 0; d < last.size(); ++d) tl.power_w[d].back() = last[d];
            continue;
        }
        tl.t_s.push_back(p.t_s);
        for (size_t d = 0; d < last.size(); ++d) tl.power_w[d].push_back(last[d]);
    }
    for (const auto & ph : m.phases) tl.phases.push_back({ph.name, ph.t_begin_s, ph.t_end_s});
    return tl;
}

double or_nan(bool ok, double v) { return ok ? v : NAN; }

struct ResolvedScheme {
    Scheme scheme;
    SchemeResult file;
    std::string sensitivity_json;
};

}  // namespace

WorkloadOptions sweep_workload_options(const SweepOptions & o) {
    WorkloadOptions w;
    w.task.data_dir = o.data_dir;
    w.task.limit = o.limit;
    w.task.shots = o.shots;
    w.task.seed = o.seed;
    w.task.gen_max_tokens = o.gen_max_tokens;
    return w;
}

ResolvedScheme resolve_scheme(const std::string & model, const std::string & name, const SweepOptions & o);

namespace {

struct LoadedModel {
    std::unique_ptr<LlamaEngine> engine;
    LabelEnergy load_energy;
    std::string config_json;  // the engine's placement, for provenance
    int n_seq = 1;            // sequences the engine was sized for
};

}  // namespace

void run_sweep(SweepOptions & o) {
    // --family: its models are swept too (appended when -m lacks them) and related in the store.
    const std::vector<FamilySpec> families = parse_families(o.families);
    if (o.models.empty() && families.empty()) throw UsageError("--models is required (or give --family)");
    auto models = o.models.empty() ? std::vector<std::string>{} : split_list(o.models, "--models");
    if (!o.models_fixed) {
        for (const auto & m : family_models_missing(families, models)) models.push_back(m);
    }
    const auto scheme_names = split_list(o.schemes, "--schemes");
    const auto task_names = split_list(o.tasks, "--tasks");
    if (o.repeat < 1) throw UsageError(fmt::format("--repeat must be >= 1 (got {})", o.repeat));
    if (o.idle_s < 0 || o.idle_check_s < 0 || o.settle_s < 0) {
        throw UsageError("--idle-s, --idle-check-s and --settle-s must be >= 0");
    }
    if (o.interval_ms <= 0) throw UsageError(fmt::format("--interval-ms must be > 0 (got {})", o.interval_ms));
    for (const auto & m : models) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(m, ec)) throw InputError(m, "model file not found");
    }
    // Scheme names are checked before any work (dynamic's types are chosen later).
    for (const auto & s : scheme_names) {
        if (s != "dynamic") parse_scheme(s);
    }

    const WorkloadOptions wopt = sweep_workload_options(o);
    std::vector<std::unique_ptr<Workload>> task_list;
    for (const auto & name : task_names) task_list.push_back(make_workload(name, wopt));
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
    const int others_seq = synthetic_only ? std::min(o.engine.params.n_seq_max, widest) : o.engine.params.n_seq_max;
    auto engine_sequences = [&](const Workload & w) { return w.sequences() == 1 ? 1 : others_seq; };

    // Placement options are checked now; with --gpus only those GPUs are metered (the k-th GPU
    // NVML lists among the visible ones is llama.cpp's GPU k; nvml.hpp says when they differ).
    const EngineParams placement = o.engine.resolve("");
    const std::string placement_fp = placement_suffix(placement);
    check_placement(placement);
    std::filesystem::path db_path(o.db);
    if (db_path.has_parent_path()) std::filesystem::create_directories(db_path.parent_path());
    Store store = Store::open(o.db, /*create=*/true);

    energy::Discovery found = energy::discover_sensors();
    if (!placement.gpus.empty()) {
        std::vector<int> order;
        for (const auto & sensor : found.sensors) {
            const auto d = sensor->domain();
            if (d.kind == energy::DomainKind::gpu && std::find(order.begin(), order.end(), d.index) == order.end()) {
                order.push_back(d.index);
            }
        }
        energy::SensorList kept;
        for (const auto & sensor : found.sensors) {
            const auto d = sensor->domain();
            if (d.kind == energy::DomainKind::gpu) {
                const auto pos = int(std::find(order.begin(), order.end(), d.index) - order.begin());
                if (std::find(placement.gpus.begin(), placement.gpus.end(), pos) == placement.gpus.end()) continue;
            }
            kept.push_back(sensor);
        }
        found.sensors = std::move(kept);
    }
    HostRecord host = describe_host(found);
    host.fingerprint = host_fingerprint(host);
    store.upsert_host(host);
    const std::string sensors = sensors_json(found);
    energy::SharingWatch sharing(found.sensors, unsigned(getpid()));  // other processes on the metered GPUs
    const int64_t run_id = store.begin_run(o.command_line, host.fingerprint);

    energy::MeterParams mp;
    mp.interval_s = o.interval_ms / 1000.0;
    std::vector<std::pair<energy::Domain, double>> idle;
    double idle_w_total = NAN;
    if (o.idle_s > 0) {
        fmt::print(stderr, "sweep: measuring idle power for {:.1f} s\n", o.idle_s);
        energy::Meter m(found.sensors, mp);
        m.measure_idle(o.idle_s);
        idle = m.idle_power();
        idle_w_total = 0;
        for (const auto & [d, w] : idle) idle_w_total += w;
    }
    for (const auto & u : found.unavailable) fmt::print(stderr, "sweep: not measured: {}: {}\n", u.what, u.reason);

    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int{}, old_term{};
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    g_stop_signal = 0;
    g_stop_ns = 0;

    const size_t total = models.size() * scheme_names.size() * task_list.size() * size_t(o.repeat);
    Progress progress(total, isatty(STDERR_FILENO) && !o.no_progress);
    size_t index = 0, n_done = 0, n_skipped = 0, n_failed = 0, n_unsettled = 0;
    double unsettled_max_w = 0;
    size_t remaining = total;
    progress.set_remaining(remaining);
    bool stopped = false;

    for (const auto & model_path : models) {
        if (stopped) break;
        ModelRecord model;
        model.hash = hex64(xxh64_file_memo(
            model_path, QuantCache(o.cache_dir.empty() ? default_cache_dir() : o.cache_dir).sources_dir()));
        model.path = std::filesystem::absolute(model_path).string();
        model.file_name = std::filesystem::path(model_path).filename().string();
        model.file_bytes = int64_t(std::filesystem::file_size(model_path));
        model.synthetic = gguf_is_synthetic(model_path);
        bool model_recorded = false;
        if (const auto roles = family_roles_of(families, model_path); !roles.empty()) {
            store.upsert_model(model);  // a relation points at a model row
            model_recorded = true;
            for (const auto & [family, role] : roles) store.set_model_relation(family, role, model.hash);
        }

        for (const auto & scheme_name : scheme_names) {
            if (stopped) break;
            ResolvedScheme rs;
            std::string scheme_error;
            try {
                rs = resolve_scheme(model_path, scheme_name, o);
            } catch (const std::exception & e) {
                scheme_error = e.what();
                rs.scheme.name = scheme_name;
            }
            // A quantized KV cache the model's head sizes cannot take fails every cell with the
            // reason, not with llama.cpp's "could not create a context".
            std::string kv_problem;
            if (scheme_error.empty() && (rs.scheme.kv_type_k != GGML_TYPE_F16 || rs.scheme.kv_type_v != GGML_TYPE_F16)) {
                kv_problem = kv_cache_problem(rs.file.path, rs.scheme.kv_type_k, rs.scheme.kv_type_v);
            }
            SchemeRecord srec;
            srec.name = scheme_name;
            srec.canonical = scheme_error.empty() ? rs.file.scheme : "unresolved:" + scheme_name;
            srec.default_type = scheme_error.empty() ? ftype_name(rs.scheme.ftype) : "";
            srec.kv_type = type_name(rs.scheme.kv_type_k) + "/" + type_name(rs.scheme.kv_type_v);
            srec.bpw = scheme_error.empty() ? rs.file.bpw : NAN;
            srec.file_bytes = int64_t(rs.file.file_bytes);
            nlohmann::json types = nlohmann::json::object();
            for (const auto & [t, ty] : rs.file.tensor_types) types[t] = type_name(ty);
            srec.tensor_types_json = types.dump();
            srec.sensitivity_json = rs.sensitivity_json;
            store.upsert_scheme(srec);
            bool size_recorded = !scheme_error.empty();  // this model's size under the scheme (model_schemes)

            std::unique_ptr<LoadedModel> loaded;
            for (auto & task : task_list) {
                for (int rep = 0; rep < o.repeat; ++rep, ++index) {
                    if (g_stop_signal != 0) {
                        stopped = true;
                        break;
                    }
                    CellRecord rec;
                    rec.set_key({host.fingerprint, model.hash, srec.canonical, task->name(),
                                 task->fingerprint() + placement_fp, rep});
                    if (store.has_cell(rec.key(), !o.retry_failed)) {
                        ++n_skipped;
                        progress.set_remaining(--remaining);
                        continue;
                    }
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
                    const std::string what = fmt::format("{} {} {}{}", model.file_name, scheme_name, task->name(),
                                                         o.repeat > 1 ? fmt::format(" #{}", rep + 1) : "");
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
                    try {
                        if (!scheme_error.empty()) throw RuntimeFailure("scheme " + scheme_name + ": " + scheme_error);
                        if (!kv_problem.empty()) throw RuntimeFailure("scheme " + scheme_name + ": " + kv_problem);
                        energy::Meter meter(found.sensors, mp);
                        meter.set_idle_power(idle);
                        MeterObserver observer(meter);
                        progress.begin_cell(index, what, &meter);
                        sharing.begin();
                        meter.start("idle");
                        if (loaded && loaded->engine && loaded->n_seq != engine_sequences(*task)) loaded.reset();
                        if (!loaded) {
                            loaded = std::make_unique<LoadedModel>();
                            loaded->n_seq = engine_sequences(*task);
                            EngineParams ep = o.engine.resolve(rs.file.path);
                            ep.type_k = type_name(rs.scheme.kv_type_k);
                            ep.type_v = type_name(rs.scheme.kv_type_v);
                            for (auto & c : ep.type_k) c = char(std::tolower(c));
                            for (auto & c : ep.type_v) c = char(std::tolower(c));
                            if (rs.scheme.flash_attn_required()) ep.flash_attn = FlashAttn::on;
                            ep.n_seq_max = loaded->n_seq;
                            loaded->config_json = engine_config_json(ep);
                            loaded->engine = std::make_unique<LlamaEngine>(ep, &observer);
                            const auto & info = loaded->engine->info();
                            model.arch = info.arch;
                            model.n_params = int64_t(info.n_params);
                            store.upsert_model(model);
                        }
                        LlamaEngine & engine = *loaded->engine;
                        engine.set_phase_observer(&observer);
                        observer.set_label(task->name());
                        engine.reset_counters();
                        const auto t_task = Clock::now();
                        tasks::TaskResult result = task->run(engine);
                        const double task_s = std::chrono::duration<double>(Clock::now() - t_task).count();
                        meter.mark(task->name() + "/idle");
                        engine.set_phase_observer(nullptr);
                        energy::Measurement m = meter.stop();
                        const auto shared = sharing.end();
                        progress.end_cell(std::chrono::duration<double>(Clock::now() - t_cell).count());

                        const LmCounters c = engine.counters();
                        const LabelEnergy e = label_energy(m, task->name());
                        if (loaded && loaded->load_energy.total.seconds == 0) loaded->load_energy = label_energy(m, "load");
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
                        rec.idle_power_w = idle_w_total;
                        timeline = timeline_of(m);
                        nlohmann::json ej = {{"domains", energy_json(m)},
                                             {"method", e.method},
                                             {"engine", nlohmann::json::parse(loaded->config_json)},
                                             {"estimated_j", e.total.estimated_j}};
                        // Several measured domains (GPUs) peak at different moments: the peak of
                        // their sum, from the timeline, is the cell's peak draw.
                        if (const double peak = peak_total_w(timeline, estimated_domains(ej)); std::isfinite(peak)) {
                            ej["peak_total_w"] = peak;
                        }
                        mark_shared_gpu(ej, shared, what);
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
                            items.push_back({int64_t(i), item_json(result.items[i]).dump()});
                        }
                        rec.status = kStatusOk;
                        ++n_done;
                    } catch (const std::exception & ex) {
                        progress.end_cell();
                        rec.status = kStatusFailed;
                        rec.error = ex.what();
                        items.clear();
                        timeline = {};
                        ++n_failed;
                        fmt::print(stderr, "sweep: {} failed: {}\n", what, ex.what());
                        if (loaded && !loaded->engine) loaded.reset();
                    }
                    rec.finished_at = utc_now_iso();
                    store.commit_cell(rec, items, timeline);
                    progress.set_remaining(--remaining);

                    if (o.idle_check_s > 0 && !idle.empty() && remaining > 0 && g_stop_signal == 0) {
                        // The next cell starts from a settled device: wait (in idle-check windows,
                        // up to --settle-s) until it is back near the idle power of the start.
                        const auto settle = energy::settle_to_idle(
                            [&] {
                                if (g_stop_signal != 0) return 0.0;
                                energy::Meter check(found.sensors, mp);
                                check.measure_idle(o.idle_check_s);
                                double w = 0;
                                for (const auto & [d, dw] : check.idle_power()) w += dw;
                                return w;
                            },
                            o.idle_check_s, idle_w_total > 0 ? idle_w_total : INFINITY, o.settle_s);
                        if (!settle.settled && g_stop_signal == 0) {
                            // Said once, counted for the end: a GPU that keeps its clocks up for
                            // longer than --settle-s would otherwise repeat it after every cell.
                            if (n_unsettled++ == 0) {
                                fmt::print(stderr, "sweep: idle power {:.1f} W vs {:.1f} W at the start after "
                                                   "waiting {:.1f} s: the device has not settled (heat, clocks, "
                                                   "another job); net energies may be biased (further cases are "
                                                   "counted at the end)\n",
                                           settle.watts, idle_w_total, settle.waited_s);
                            }
                            unsettled_max_w = std::max(unsettled_max_w, settle.watts);
                        }
                    }
                }
                if (stopped) break;
            }
        }
    }
    store.finish_run(run_id);
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);

    fmt::print(stderr, "sweep: {} cells measured, {} failed, {} already in {}\n", n_done, n_failed, n_skipped, o.db);
    if (n_unsettled > 1) {
        fmt::print(stderr, "sweep: after {} of {} cells the device had not settled within --settle-s {:g} s (up to "
                           "{:.1f} W vs {:.1f} W at the start); net energies may be biased; --settle-s 0 skips "
                           "the wait\n", n_unsettled, n_done + n_failed, o.settle_s, unsettled_max_w, idle_w_total);
    }
    if (stopped) {
        fmt::print(stderr, "sweep: stopped by signal {}; {} finished cells are kept in {}; run the same command "
                           "again to resume\n", int(g_stop_signal), n_done + n_failed + n_skipped, o.db);
        exit_status = 128 + g_stop_signal;
        return;
    }
    print_sweep_summary(store, o.output);
}

void print_sweep_summary(const Store & store, const std::string & output) {
    const Format format = parse_format(output);
    Table t;
    t.title = "Sweep results";
    for (const char * name : {"model_name", "scheme_name", "task", "repeat_idx", "status", "primary_metric"}) {
        t.add_column(name);
        t.columns.back().right_align = false;
    }
    t.add_column("score", "score (%)", 2);
    t.add_column("score_stderr", "± (%)", 2);
    t.add_column("energy_j", "energy (J)", 2);
    t.add_column("prefill_j_per_token", "prefill J/tok", 5);
    t.add_column("decode_j_per_token", "decode J/tok", 5);
    t.add_column("wall_t_s", "time (s)", 2);
    t.add_column("energy_estimated", "estimated", 0);
    for (const auto & c : store.list_cells()) {
        auto pct = [](double v) { return std::isfinite(v) ? Value(v * 100.0) : Value(); };
        auto per = [](double j, int64_t n) { return std::isfinite(j) && n > 0 ? Value(j / double(n)) : Value(); };
        t.add_row({c.model_name, c.scheme_name, c.task, c.repeat_idx, c.status, c.primary_metric, pct(c.score),
                   pct(c.score_stderr), std::isfinite(c.energy_j) ? Value(c.energy_j) : Value(),
                   per(c.prefill_energy_j, c.prefill_tokens), per(c.decode_energy_j, c.decode_tokens),
                   std::isfinite(c.wall_t_s) ? Value(c.wall_t_s) : Value(), int64_t(c.energy_estimated)});
    }
    print_table(std::cout, t, format);
}

ResolvedScheme resolve_scheme(const std::string & model, const std::string & name, const SweepOptions & o) {
    ResolvedScheme rs;
    QuantizeOptions q;
    q.cache_dir = o.cache_dir;
    q.n_threads = o.engine.params.n_threads;
    q.on_progress = [](const std::string & msg) { fmt::print(stderr, "sweep: {}\n", msg); };
    if (name == "dynamic") {
        DynamicOptions d;
        d.kld_budget = o.kld_budget;
        d.quant = q;
        d.engine = o.engine.resolve(model);
        d.on_progress = q.on_progress;
        d.plan_from = dynamic_plan_source(model, o.dynamic_from);
        DynamicResult r = build_dynamic_scheme(model, d);
        if (!r.budget_met) {
            fmt::print(stderr, "sweep: warning: dynamic could not meet --kld-budget {} on {} (measured {:.5f}); "
                               "it uses the most precise candidates\n", o.kld_budget, model, r.final_fidelity.mean_kld);
        }
        if (!r.kv_note.empty()) fmt::print(stderr, "sweep: dynamic: {}\n", r.kv_note);
        rs.scheme = r.chosen;
        rs.file = r.scheme;
        rs.sensitivity_json = r.sensitivity_json();
        return rs;
    }
    rs.scheme = parse_scheme(name);
    rs.file = quantize_cached(model, rs.scheme, q);
    return rs;
}

void add_sweep_command(CLI::App & app) {
    auto o = std::make_shared<SweepOptions>();
    auto * cmd = app.add_subcommand("sweep", "Run every (model, scheme, task) cell with energy metered, into SQLite; "
                                             "resumes where a killed sweep stopped");
    cmd->add_option("-m,--models", o->models, "Comma-separated GGUF models (required unless --family gives them)");
    cmd->add_option("--family", o->families,
                    "A model family: [NAME:]base=teacher.gguf,distilled=student.gguf (NAME default 'distill'); its "
                    "models are swept too, and report/recommend compare the distilled model with its base. Repeatable")
        ->allow_extra_args(false);
    cmd->add_option("--schemes", o->schemes, "Comma-separated schemes (fp16, bf16, int8, dynamic, q6_k, q4_k_m, "
                                             "any llama.cpp type, +kv8 suffix, or a scheme JSON file)")
        ->capture_default_str();
    cmd->add_option("--tasks", o->tasks,
                    "Comma-separated tasks (mmlu, hellaswag, arc_challenge, arc_easy, truthfulqa, gsm8k, "
                    "custom:<file>) and synthetic workloads: pp<N> (prefill N tokens), tg<N> (decode N tokens), "
                    "tg<N>x<S> (S sequences decoded together), each with an optional r<R> (R repetitions, default 5)")
        ->capture_default_str();
    cmd->add_option("--data-dir", o->data_dir, "Task data (docs/tasks.md)")->capture_default_str();
    cmd->add_option("--limit", o->limit, "Seeded sample of N items per task");
    cmd->add_option("--shots", o->shots, "Few-shot examples (default: each task's own)");
    cmd->add_option("--seed", o->seed, "Seed for samples and few-shot draws")->capture_default_str();
    cmd->add_option("--max-tokens", o->gen_max_tokens, "Generation tasks: most tokens per answer")->capture_default_str();
    cmd->add_option("--repeat", o->repeat, "Measure every cell this many times")->capture_default_str();
    cmd->add_option("--db", o->db, "Result database (created if missing)")->capture_default_str();
    cmd->add_option("--cache-dir", o->cache_dir, "Quantized-file cache (default under $XDG_CACHE_HOME)");
    cmd->add_option("--kld-budget", o->kld_budget, "dynamic: mean KL divergence budget vs fp16")->capture_default_str();
    cmd->add_option("--dynamic-from", o->dynamic_from,
                    "dynamic: follow the plan measured on this model, by relative depth (default for synthetic "
                    "models: the shipped stories260K)");
    cmd->add_option("--idle-s", o->idle_s, "Idle baseline measured once before the sweep")->capture_default_str();
    cmd->add_option("--idle-check-s", o->idle_check_s, "Idle re-check between cells (0: none)")->capture_default_str();
    cmd->add_option("--settle-s", o->settle_s,
                    "After a cell, wait up to this long (in --idle-check-s windows) for the power to come back within "
                    "15 % of the idle power of the start before the next cell; warn if it does not")
        ->capture_default_str();
    cmd->add_option("--interval-ms", o->interval_ms, "Power sampling period")->capture_default_str();
    cmd->add_flag("--no-retry-failed", [o](int64_t) { o->retry_failed = false; },
                  "Keep failed cells as they are instead of running them again");
    cmd->add_flag("--no-progress", o->no_progress, "No live progress line on stderr");
    cmd->add_option("-o,--output", o->output, "Summary format: table, md, csv or json")->capture_default_str();
    add_engine_options(cmd, o->engine);
    auto slurm = add_slurm_sweep_options(cmd);  // --slurm, --cell: slurm_cli.hpp
    cmd->footer("A cell is committed in one transaction when it finishes. Killed at any moment, the same command "
                "started again skips finished cells and redoes the interrupted one. Ctrl-C stops after the current "
                "cell; a second Ctrl-C stops at once.");
    cmd->callback([o, slurm, cmd, &app] {
        o->command_line = "joulebench sweep";
        for (const auto & a : app.remaining_for_passthrough()) o->command_line += " " + a;
        if (slurm_sweep(*cmd, *o, *slurm)) return;
        run_sweep(*o);
    });
}

}  // namespace jb::cli
