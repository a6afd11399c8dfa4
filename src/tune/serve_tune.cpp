// The tune of a served load: llama-server's settings searched by coordinate descent, every trial a
// level of jb::run_serve with the point's settings, stored with "|tune=r<repeat>|<settings>" after
// its workload fingerprint. A tune run again on the same store reads the earlier trials of the same
// load back (after its first trial, which names the load's key) and goes on from them.

#include "tune/serve_tune.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "energy/discover.hpp"
#include "joulebench/error.hpp"
#include "joulebench/serving.hpp"
#include "joulebench/store.hpp"
#include "quant/scheme.hpp"
#include "serve/tuned.hpp"
#include "tune/outcome.hpp"
#include "tune/search.hpp"
#include "tune/serve_space.hpp"
#include "util/strings.hpp"

namespace jb::tune {

namespace {

using Clock = std::chrono::steady_clock;

// "serve:c32" (32 clients, closed loop) or "serve:r2.5" (2.5 requests/s, open loop).
struct ServeLoad {
    int clients = 0;
    double rate = 0.0;
};

ServeLoad parse_serve_load(const std::string & workload) {
    const std::string rest = workload.substr(6);  // after "serve:"
    ServeLoad l;
    auto bad = [&] {
        return UsageError(
            fmt::format("--workload '{}': a served load is serve:c<N> (N concurrent clients) or "
                        "serve:r<R> (R requests/s)",
                        workload));
    };
    if (rest.size() < 2 || (rest[0] != 'c' && rest[0] != 'r')) throw bad();
    if (rest[0] == 'c') {
        l.clients = parse_int(rest.substr(1)).value_or(0);
        if (l.clients < 1) throw bad();
    } else {
        l.rate = parse_double(rest.substr(1)).value_or(0.0);
        if (!(l.rate > 0)) throw bad();
    }
    return l;
}

// Whether the machine has a GPU the meter sees (NVML), asked without llama.cpp: a CUDA context
// in this process would hold GPU memory for the whole tune (and be one more process on the GPU).
bool has_gpu() {
    energy::DiscoverOptions o = energy::discover_options_from_env();
    o.rapl = false;
    o.cpu_estimate = false;
    for (const auto & s : energy::discover_sensors(o).sensors) {
        if (s->domain().kind == energy::DomainKind::gpu) return true;
    }
    return false;
}

// A level of run_serve as the tune observer sees a trial: one cell.
class LevelAsCell final : public ServeObserver {
public:
    LevelAsCell(TuneObserver * observer, std::set<std::string> & said, SweepCell cell)
        : observer_(observer), said_(said), cell_(std::move(cell)) {}
    void on_message(MessageLevel level, const std::string & text) override {
        // Every trial is a run of its own: what it says about the sensors and the scheme would
        // repeat at every trial, and is said once.
        if (observer_ && said_.insert(text).second) observer_->on_message(level, text);
    }
    void on_level_begin(const ServeLevel &, const std::function<double()> & live_power_w) override {
        if (observer_) observer_->on_cell_begin(cell_, live_power_w);
    }
    void on_level_end(const ServeLevel &, const ServeLevelOutcome & o) override {
        if (!observer_ || o.status == "skipped") return;
        CellOutcome c;
        c.status = o.status == "ok" ? CellStatus::measured : CellStatus::failed;
        c.error = o.reason;
        c.seconds = o.seconds;
        if (o.record) {
            c.energy_j = o.record->energy_j;
            c.estimated = o.record->energy_estimated;
        }
        observer_->on_cell_end(cell_, c);
    }
    bool stop_requested() override { return observer_ && observer_->stop_requested(); }

private:
    TuneObserver * observer_;
    std::set<std::string> & said_;
    SweepCell cell_;
};

class ServeTuner {
public:
    ServeTuner(const TuneSpec & spec, TuneObserver * observer) : spec_(spec), observer_(observer) {}
    TuneOutcome run();

private:
    std::optional<Trial> measure(const Point & p);
    // A stored level as a trial of the setting (a failed, partial or missing one: failed).
    Trial trial_of(const std::optional<ServeLevelRecord> & rec, const std::string & suffix);
    // The trials earlier tunes of this load stored (found once the first trial names the load's
    // key): the search starts from all of them, and new repeats get new indices.
    void preload(const Store & store, const ServeLevelKey & first);
    bool point_of_suffix(const std::string & suffix, Point & out) const;
    int budget_left() const;
    void info(const std::string & text) {
        if (observer_) observer_->on_message(MessageLevel::info, text);
    }
    bool stop_requested() { return observer_ && observer_->stop_requested(); }

    const TuneSpec & spec_;
    TuneObserver * observer_;
    ServeLoad load_;
    metrics::Slo slo_;
    metrics::TuneConstraints constraints_;
    ServeSpaceInput input_;
    Space space_;
    Trials trials_;
    std::string default_suffix_;
    std::map<std::string, int> next_repeat_;    // by settings suffix
    std::map<std::string, int> stored_;         // repeats read back from the store, by suffix
    std::map<std::string, std::string> error_;  // the first failure of a setting
    std::string level_fp_;                      // the levels' workload fingerprint (without the tune suffix)
    std::set<std::string> said_;                // messages passed on (each once)
    bool preloaded_ = false;
    int trials_run_ = 0;
    double trial_s_ = 0.0;
    Clock::time_point t0_;
};

TuneOutcome ServeTuner::run() {
    t0_ = Clock::now();
    load_ = parse_serve_load(spec_.workload);
    if (spec_.max_ttft_s) {
        throw UsageError(
            "--max-ttft: a served load's latency target is an SLO: --slo ttft_p99=2s (or tpot, itl, "
            "e2e at p50, p90, p99)");
    }
    if (!spec_.serve.url.empty()) throw UsageError("tune starts its own llama-server: --url cannot be tuned");
    if (!spec_.slo.empty()) slo_ = metrics::parse_slo(spec_.slo, "--slo");
    constraints_.min_tok_s = spec_.min_tok_s;
    if (!slo_.empty()) constraints_.max_latency_ratio = 1.0;

    // The defaults: serve's own (slots = clients; llama-server's batch 2048, micro-batch 512,
    // flash attention auto), every searched setting explicit so that a trial names it.
    ServeServerOptions d = spec_.serve.server;
    const int clients = load_.clients > 0               ? load_.clients
                        : spec_.serve.max_in_flight > 0 ? spec_.serve.max_in_flight
                                                        : 16;
    if (d.parallel <= 0) d.parallel = clients;
    if (d.batch_size <= 0) d.batch_size = 2048;
    if (d.ubatch_size <= 0) d.ubatch_size = 512;
    if (!d.n_gpu_layers) d.n_gpu_layers = spec_.engine.n_gpu_layers;
    if (d.threads <= 0) d.threads = spec_.engine.n_threads;
    bool fa_fixed = false;
    std::string kv_k = "f16", kv_v = "f16";
    if (spec_.scheme != "dynamic") {
        const Scheme sc = parse_scheme(spec_.scheme);
        kv_k = cache_type_name(sc.kv_type_k);
        kv_v = cache_type_name(sc.kv_type_v);
        fa_fixed = sc.flash_attn_required();
    }
    if (d.cache_type_k.empty()) d.cache_type_k = kv_k;
    if (d.cache_type_v.empty()) d.cache_type_v = kv_v;
    if (d.flash_attn.empty()) d.flash_attn = fa_fixed ? "on" : "auto";
    input_.defaults = d;
    input_.on_gpu = *d.n_gpu_layers != 0 && has_gpu();
    input_.hardware_threads = int(std::max(1u, std::thread::hardware_concurrency()));
    input_.flash_attn_fixed = fa_fixed;
    input_.search_kv = spec_.search_kv;
    input_.overrides = spec_.axes;
    space_ = build_serve_space(input_);
    default_suffix_ = serve::settings_suffix(d);

    Hooks hooks;
    hooks.measure = [&](const Point & p) { return measure(p); };
    hooks.valid = [&](const Point & p) { return serve_runnable(apply_serve_point(space_, p, input_.defaults)); };
    hooks.budget_left = [&] { return budget_left(); };
    SearchParams params;
    params.constraints = constraints_;
    params.min_repeats = spec_.min_repeats;
    const SearchResult r = coordinate_descent(space_.axes, space_.start, hooks, params, trials_);

    TuneOutcome out;
    out.serving = true;
    out.trials = trials_run_;
    out.stop_reason = r.stop_reason;
    out.workload_fp = level_fp_;
    for (const auto & a : space_.axes) out.axes.push_back(fmt::format("{}: {}", a.name, fmt::join(a.values, " ")));
    std::vector<MeasuredSetting> measured;
    for (const auto & point : trials_.points()) {
        MeasuredSetting m;
        m.setting.params = spec_.engine;
        m.setting.server = apply_serve_point(space_, point, input_.defaults);
        m.setting.suffix = serve::settings_suffix(m.setting.server);
        m.setting.label = serve_settings_label(m.setting.server);
        m.setting.is_default = m.setting.suffix == default_suffix_;
        m.setting.stored = stored_.count(m.setting.suffix) ? stored_[m.setting.suffix] : 0;
        if (const auto e = error_.find(m.setting.suffix); e != error_.end()) m.setting.error = e->second;
        m.runs = *trials_.find(point);
        measured.push_back(std::move(m));
    }
    const std::string incumbent =
        r.incumbent.empty() ? "" : serve::settings_suffix(apply_serve_point(space_, r.incumbent, input_.defaults));
    summarise(measured, constraints_, spec_.min_repeats, incumbent, out);
    if (out.best >= 0) out.serve_options = serve_options_of(out.settings[size_t(out.best)].server);
    if (!slo_.empty()) out.notes.push_back("latency target: " + slo_.str() + " (every target met: latency/SLO <= 1)");
    if (fa_fixed) out.notes.push_back("the scheme's quantized V cache needs flash attention: it stays on");
    out.seconds = std::chrono::duration<double>(Clock::now() - t0_).count();
    return out;
}

Trial ServeTuner::trial_of(const std::optional<ServeLevelRecord> & rec, const std::string & suffix) {
    Trial t;
    t.ok = false;
    if (rec) t = serve::level_trial(*rec, slo_.empty() ? nullptr : &slo_);
    if (!t.ok && !error_.count(suffix)) {
        error_[suffix] = !rec                   ? "the level was not stored"
                         : !rec->reason.empty() ? rec->reason
                                                : "the level measured no output tokens";
    }
    return t;
}

void ServeTuner::preload(const Store & store, const ServeLevelKey & first) {
    ServeLevelFilter f;
    f.host_fingerprints = {first.host_fingerprint};
    f.model_hashes = {first.model_hash};
    f.scheme_canonicals = {first.scheme_canonical};
    int reused = 0, other_server = 0;
    for (const ServeLevelRecord & l : store.list_serve_levels(f)) {
        if (l.level != first.level || l.key() == first) continue;
        const std::optional<serve::TrialName> t = serve::trial_name(l.workload_fp, level_fp_);
        if (!t) continue;
        if (!serve::same_server(l, spec_.serve.server.extra_args)) {  // trials of another server
            ++other_server;
            continue;
        }
        Point p;
        if (!point_of_suffix(t->settings, p)) continue;  // a setting outside this run's space
        trials_.add(p, trial_of(l, t->settings));
        ++stored_[t->settings];
        next_repeat_[t->settings] = std::max(next_repeat_[t->settings], t->repeat + 1);
        ++reused;
    }
    if (other_server > 0) {
        info(fmt::format("{} trials of earlier tunes of this load in {} ran with other llama-server arguments or "
                         "its prompt cache on: not reused",
                         other_server, spec_.db));
    }
    if (reused > 0) {
        info(
            fmt::format("{} trials of earlier tunes of this load are in {}: the search reuses them", reused, spec_.db));
    }
}

bool ServeTuner::point_of_suffix(const std::string & suffix, Point & out) const {
    ServeServerOptions o = input_.defaults;
    return serve::apply_settings_suffix(suffix, o) && serve_point_of(space_, o, input_.defaults, out);
}

int ServeTuner::budget_left() const {
    return trials_left(spec_.budget_trials, spec_.budget_s, trials_run_, trial_s_,
                       std::chrono::duration<double>(Clock::now() - t0_).count());
}

std::optional<Trial> ServeTuner::measure(const Point & p) {
    if (stop_requested()) return std::nullopt;
    const ServeServerOptions server = apply_serve_point(space_, p, input_.defaults);
    const std::string suffix = serve::settings_suffix(server);
    const int repeat = next_repeat_[suffix]++;

    ServeSpec s = spec_.serve;
    s.models = {spec_.model};
    s.schemes = {spec_.scheme};
    s.concurrency.clear();
    s.rates.clear();
    if (load_.clients > 0) s.concurrency = {load_.clients};
    if (load_.rate > 0) s.rates = {load_.rate};
    s.server = server;
    if (s.data_dir.empty()) s.data_dir = spec_.task.data_dir;
    // The settings in the fingerprint too, so that a later tune maps a stored trial to its point.
    s.workload_suffix = serve::trial_suffix(repeat, suffix);
    nlohmann::json tj = {{"slo", spec_.slo}, {"min_repeats", spec_.min_repeats}, {"min_tok_s", nullptr}};
    if (spec_.min_tok_s) tj["min_tok_s"] = *spec_.min_tok_s;
    s.tune_json = tj.dump();
    s.db = spec_.db;
    s.cache_dir = spec_.cache_dir;
    s.idle_s = spec_.idle_s;  // before every trial's server starts: also the check that the device is idle
    s.idle_check_s = 0;       // one level per run
    s.settle_s = spec_.settle_s;
    s.interval_ms = spec_.interval_ms;
    s.wait_for_db = spec_.wait_for_db;
    s.command_line = spec_.command_line;
    s.engine = spec_.engine;

    SweepCell cell;
    cell.index = size_t(trials_run_);
    cell.total = spec_.budget_trials > 0 ? size_t(spec_.budget_trials) : size_t(trials_run_ + 1);
    cell.model_file = std::filesystem::path(spec_.model).filename().string();
    cell.scheme = spec_.scheme;
    cell.task = fmt::format("{} [{}]", spec_.workload, serve_settings_label(server));
    cell.repeat = repeat;
    cell.repeats = 0;
    LevelAsCell bridge(observer_, said_, cell);
    const auto t_trial = Clock::now();
    const ServeOutcome o = run_serve(s, &bridge);
    if (o.stopped || o.levels.empty()) return std::nullopt;
    const bool measured_now = o.skipped == 0;
    if (level_fp_.empty()) {
        const std::string fp = o.levels.front().workload_fp;
        level_fp_ = fp.substr(0, fp.find("|tune="));
    }
    const Store store = Store::open(spec_.db, /*create=*/false);
    const std::optional<ServeLevelRecord> rec = store.find_serve_level(o.levels.front());
    const Trial t = trial_of(rec, suffix);
    if (measured_now) {
        ++trials_run_;
    } else {
        ++stored_[suffix];
    }
    if (!preloaded_) {
        preloaded_ = true;
        preload(store, o.levels.front());
    }
    if (observer_) {
        // The setting's repeats with this one (the search adds it to trials_ when this returns).
        MeasuredSetting m;
        if (const auto * before = trials_.find(p)) m.runs = *before;
        add_trial(m.runs, t);
        m.setting.server = server;
        m.setting.suffix = suffix;
        m.setting.label = serve_settings_label(server);
        m.setting.is_default = suffix == default_suffix_;
        if (const auto e = error_.find(suffix); e != error_.end()) m.setting.error = e->second;
        observer_->on_trial_end(describe(m, constraints_), trials_run_);
    }
    // The pause after a trial; the next trial's idle baseline then checks the device.
    if (measured_now) cooldown(spec_.cooldown_s, [&] { return stop_requested(); });
    if (measured_now) trial_s_ += std::chrono::duration<double>(Clock::now() - t_trial).count();
    return t;
}

}  // namespace

bool is_serve_workload(const std::string & workload) {
    return workload.rfind("serve:", 0) == 0 || workload == "serve";
}

TuneOutcome tune_serving(const TuneSpec & spec, TuneObserver * observer) {
    if (spec.workload == "serve") parse_serve_load(spec.workload + ":");  // throws: no load given
    return ServeTuner(spec, observer).run();
}

}  // namespace jb::tune
