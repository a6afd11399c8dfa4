// The tuner (joulebench/tune.hpp): the space for the workload, every trial a metered cell in the
// store, the search (tune/search.hpp) over them, and the outcome read from every setting measured.

#include "joulebench/tune.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <thread>

#include "joulebench/error.hpp"
#include "joulebench/metrics.hpp"
#include "metrics/confidence.hpp"
#include "sweep/session.hpp"
#include "sweep/tuned.hpp"
#include "tune/outcome.hpp"
#include "tune/search.hpp"
#include "tune/serve_tune.hpp"
#include "tune/space.hpp"
#include "util/paths.hpp"

namespace jb {

namespace {

using Clock = std::chrono::steady_clock;

void check_spec(const TuneSpec & spec) {
    if (spec.model.empty()) throw UsageError("-m/--model is required");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(spec.model, ec)) throw InputError(spec.model, "model file not found");
    if (spec.budget_trials < 0 || spec.budget_s < 0 || !std::isfinite(spec.budget_s)) {
        throw UsageError("--budget-trials and --budget-s must be >= 0");
    }
    if (spec.budget_trials == 0 && spec.budget_s == 0) {
        throw UsageError("give a budget: --budget-trials N and/or --budget-s SECONDS");
    }
    if (spec.min_repeats < 1) throw UsageError("--min-repeats must be >= 1");
    if (spec.min_tok_s && !(*spec.min_tok_s > 0)) throw UsageError("--min-tps must be > 0");
    if (spec.max_ttft_s && !(*spec.max_ttft_s > 0)) throw UsageError("--max-ttft must be > 0");
    if (spec.cooldown_s < 0 || spec.idle_s < 0 || spec.idle_check_s < 0 || spec.settle_s < 0) {
        throw UsageError("--cooldown-s, --idle-s, --idle-check-s and --settle-s must be >= 0");
    }
    if (!(spec.interval_ms > 0)) throw UsageError("--interval-ms must be > 0");
    if (spec.scheme != "dynamic") parse_scheme(spec.scheme);
    check_engine_params(spec.engine);
}

// The bench workload's N (tokens per sequence) from its fingerprint "bench-v2:pp:2048:n2048:s1:r5".
int bench_tokens(const std::string & fp) {
    const size_t n = fp.find(":n");
    return n == std::string::npos ? 1 : std::max(1, std::atoi(fp.c_str() + n + 2));
}

// The trial store, search hooks and bookkeeping of one run.
class Tuner {
public:
    Tuner(const TuneSpec & spec, TuneObserver * observer) : spec_(spec), observer_(observer) {}

    TuneOutcome run();

private:
    std::optional<tune::Trial> measure(const tune::Point & p);
    int budget_left() const;
    void pause_between_trials();
    TuneOutcome outcome(const tune::SearchResult & r);

    const TuneSpec & spec_;
    TuneObserver * observer_;
    std::unique_ptr<sweep::Session> session_;
    std::unique_ptr<sweep::Workload> workload_;
    sweep::ModelEntry model_;
    sweep::SchemeEntry scheme_;
    tune::SpaceInput input_;
    tune::Space space_;
    tune::Trials trials_;
    sweep::StoredTune stored_;
    std::string base_fp_;
    std::string default_suffix_;
    std::map<std::string, int> next_repeat_;    // by settings suffix
    std::map<std::string, std::string> error_;  // the first failure of a setting
    metrics::TuneConstraints constraints_;
    // The tokens per-token figures are counted in: the work of the first successful trial (the
    // defaults'). A synthetic workload processes the same tokens under any setting; a task does
    // not (how contexts share a batch changes how many tokens are evaluated), so its J/token and
    // tokens/s are of this fixed work: the energy and time of the same items, compared fairly.
    int64_t work_tokens_ = 0;
    int trials_run_ = 0;
    double trial_s_ = 0.0;  // seconds of the trials so far, pauses included
    Clock::time_point t0_;
};

TuneOutcome Tuner::run() {
    t0_ = Clock::now();
    if (!spec_.slo.empty()) {
        throw UsageError(fmt::format("--slo: latency targets are for a served load (--workload serve:c<N>); {} takes "
                                     "--max-ttft and --min-tps",
                                     spec_.workload));
    }
    workload_ = sweep::make_workload(spec_.workload, spec_.task);
    const bool task = workload_->sequences() == 0;
    if (spec_.max_ttft_s && !task && !workload_->prefill_only()) {
        throw UsageError(
            fmt::format("--max-ttft: the decode workload {} has no time to first token (it starts "
                        "from one token); use --min-tps, or a pp workload",
                        spec_.workload));
    }
    check_placement(spec_.engine);
    constraints_.min_tok_s = spec_.min_tok_s;
    constraints_.max_ttft_s = spec_.max_ttft_s;

    sweep::SessionParams sp;
    sp.db = spec_.db;
    sp.what = "tune";
    sp.command_line = spec_.command_line;
    sp.wait_for_db = spec_.wait_for_db;
    sp.idle_s = spec_.idle_s;
    sp.idle_check_s = spec_.idle_check_s;
    sp.settle_s = spec_.settle_s;
    sp.interval_ms = spec_.interval_ms;
    sp.gpus = spec_.engine.gpus;
    session_ = std::make_unique<sweep::Session>(sp, observer_);
    auto & notify = session_->notify();

    model_ = sweep::model_entry(spec_.model, spec_.cache_dir);
    SchemeOptions so;
    so.cache_dir = spec_.cache_dir;
    so.kld_budget = spec_.kld_budget;
    so.engine = spec_.engine;
    scheme_.rs = resolve_scheme(
        spec_.model, spec_.scheme, so, [&](const std::string & m) { notify.info(m); },
        [&](const std::string & m) { notify.warn(m); });
    if (!scheme_.rs.error.empty()) throw RuntimeFailure(scheme_.rs.error);
    scheme_.record = sweep::scheme_record(scheme_.rs);
    session_->store().upsert_scheme(scheme_.record);

    // The defaults are what a sweep of this one workload would run.
    const int seqs = workload_->sequences();
    const int n_seq = seqs == 1 ? 1 : seqs == 0 ? spec_.engine.n_seq_max : std::min(spec_.engine.n_seq_max, seqs);
    input_.defaults = scheme_engine_params(spec_.engine, scheme_.rs, n_seq);
    input_.on_gpu = spec_.engine.n_gpu_layers > 0 && !llama_gpu_devices().empty();
    input_.hardware_threads = int(std::max(1u, std::thread::hardware_concurrency()));
    input_.task = task;
    input_.prefill = workload_->prefill_only();
    input_.sequences = std::max(1, seqs);
    input_.n_tokens = task ? 1 : bench_tokens(workload_->fingerprint());
    input_.tokens_per_call = input_.n_tokens * input_.sequences;
    input_.flash_attn_fixed = scheme_.rs.scheme.flash_attn_required();
    input_.search_kv = spec_.search_kv;
    input_.overrides = spec_.axes;
    space_ = tune::build_space(input_);
    default_suffix_ = settings_suffix(input_.defaults);
    base_fp_ = workload_->fingerprint() + placement_suffix(spec_.engine);

    // Trials of earlier tunes of this cell count: the search goes on from them.
    stored_ = sweep::stored_tune(session_->store(), {session_->host().fingerprint, model_.record.hash,
                                                     scheme_.record.canonical, workload_->name(), base_fp_});
    work_tokens_ = stored_.work_tokens;
    for (const auto & s : stored_.settings) {
        next_repeat_[s.suffix] = s.next_repeat;
        EngineParams p = input_.defaults;
        apply_settings_suffix(s.suffix, p);
        tune::Point point;
        if (tune::point_of(space_, p, input_.defaults, point)) trials_.at(point) = s.runs;
    }
    if (!stored_.settings.empty()) {
        notify.info(fmt::format("{} settings of earlier tunes of this cell are in {}: the search reuses them",
                                stored_.settings.size(), spec_.db));
    }

    tune::Hooks hooks;
    hooks.measure = [&](const tune::Point & p) { return measure(p); };
    hooks.valid = [&](const tune::Point & p) {
        return tune::runnable(tune::apply_point(space_, p, input_.defaults), input_);
    };
    hooks.budget_left = [&] { return budget_left(); };
    tune::SearchParams params;
    params.constraints = constraints_;
    params.min_repeats = spec_.min_repeats;
    const tune::SearchResult r = tune::coordinate_descent(space_.axes, space_.start, hooks, params, trials_);
    return outcome(r);
}

int Tuner::budget_left() const {
    return tune::trials_left(spec_.budget_trials, spec_.budget_s, trials_run_, trial_s_,
                             std::chrono::duration<double>(Clock::now() - t0_).count());
}

void Tuner::pause_between_trials() {
    // A fixed cooldown first (ML.ENERGY's benchmark pauses between runs as well), then the
    // sweep's check that the device is back near its idle power.
    tune::cooldown(spec_.cooldown_s, [&] { return session_->notify()->stop_requested(); });
    session_->settle();
}

std::optional<tune::Trial> Tuner::measure(const tune::Point & p) {
    auto & notify = session_->notify();
    if (notify->stop_requested()) return std::nullopt;
    const auto t_trial = Clock::now();
    sweep::CellJob job;
    job.model = &model_;
    job.scheme = &scheme_;
    job.task = workload_.get();
    job.engine = tune::apply_point(space_, p, input_.defaults);
    const std::string suffix = settings_suffix(job.engine);
    job.workload_fp = base_fp_ + suffix;
    job.repeat = next_repeat_[suffix]++;
    SweepCell cell;
    cell.index = size_t(trials_run_);
    cell.total = spec_.budget_trials > 0 ? size_t(spec_.budget_trials) : size_t(trials_run_ + 1);
    cell.model_file = model_.record.file_name;
    cell.scheme = spec_.scheme;
    cell.task = fmt::format("{} [{}]", workload_->name(), settings_label(job.engine));
    cell.repeat = job.repeat;
    cell.repeats = 0;
    sweep::MeasuredCell m = session_->measure(job, cell);
    const sweep::CellNumbers nums = sweep::cell_numbers(m.rec, *workload_);
    tune::Trial t;
    t.ok = m.rec.ok() && std::isfinite(nums.j_per_token);
    t.j_per_token = nums.j_per_token;
    t.tok_s = nums.tok_s;
    t.ttft_s = nums.ttft_s;
    const int64_t tokens = m.rec.prefill_tokens + m.rec.decode_tokens;
    if (t.ok && work_tokens_ <= 0) work_tokens_ = tokens;
    if (t.ok && workload_->sequences() == 0 && work_tokens_ > 0 && tokens > 0) {
        t.j_per_token = m.rec.energy_j / double(work_tokens_);
        t.tok_s = nums.tok_s * double(work_tokens_) / double(tokens);
    }
    if (m.rec.ok() && !t.ok) {
        m.rec.status = kStatusFailed;
        m.rec.error = "the trial measured no tokens";
        m.outcome.status = CellStatus::failed;
        m.outcome.error = m.rec.error;
    }
    if (!t.ok && !error_.count(suffix)) error_[suffix] = m.rec.error;
    nlohmann::json tj = sweep::trial_json(suffix, suffix == default_suffix_, t.j_per_token, t.tok_s, t.ttft_s,
                                          constraints_, spec_.min_repeats);
    tj["tokens"] = tokens;
    if (work_tokens_ > 0) tj["work_tokens"] = work_tokens_;
    sweep::add_energy_json(m.rec, "tune", tj);
    session_->commit(m, cell);
    ++trials_run_;
    if (observer_) {
        // The setting's repeats with this one (the search adds it to trials_ when this returns).
        tune::MeasuredSetting m;
        if (const auto * before = trials_.find(p)) m.runs = *before;
        tune::add_trial(m.runs, t);
        m.setting.params = job.engine;
        m.setting.suffix = suffix;
        m.setting.label = settings_label(job.engine);
        m.setting.is_default = suffix == default_suffix_;
        if (const auto e = error_.find(suffix); e != error_.end()) m.setting.error = e->second;
        observer_->on_trial_end(tune::describe(m, constraints_), trials_run_);
    }
    pause_between_trials();
    trial_s_ += std::chrono::duration<double>(Clock::now() - t_trial).count();
    return t;
}

TuneOutcome Tuner::outcome(const tune::SearchResult & r) {
    TuneOutcome out;
    out.trials = trials_run_;
    out.stop_reason = r.stop_reason;
    out.workload_fp = base_fp_;
    for (const auto & a : space_.axes) out.axes.push_back(fmt::format("{}: {}", a.name, fmt::join(a.values, " ")));

    // Every setting: those of earlier tunes (also outside this run's space) and this run's.
    std::vector<std::string> order;
    std::map<std::string, tune::MeasuredSetting> by_suffix;
    auto entry = [&](const std::string & suffix, const EngineParams & p) -> tune::MeasuredSetting & {
        if (!by_suffix.count(suffix)) order.push_back(suffix);
        tune::MeasuredSetting & m = by_suffix[suffix];
        m.setting.params = p;
        m.setting.suffix = suffix;
        m.setting.label = settings_label(p);
        m.setting.is_default = suffix == default_suffix_;
        if (const auto e = error_.find(suffix); e != error_.end()) m.setting.error = e->second;
        return m;
    };
    for (const auto & s : stored_.settings) {
        EngineParams p = input_.defaults;
        apply_settings_suffix(s.suffix, p);
        tune::MeasuredSetting & m = entry(s.suffix, p);
        m.runs = s.runs;
        m.setting.stored = s.runs.n();
    }
    for (const auto & point : trials_.points()) {
        const EngineParams p = tune::apply_point(space_, point, input_.defaults);
        entry(settings_suffix(p), p).runs = *trials_.find(point);
    }
    std::vector<tune::MeasuredSetting> measured;
    for (const auto & suffix : order) measured.push_back(by_suffix[suffix]);
    const std::string incumbent =
        r.incumbent.empty() ? "" : settings_suffix(tune::apply_point(space_, r.incumbent, input_.defaults));
    tune::summarise(measured, constraints_, spec_.min_repeats, incumbent, out);
    if (scheme_.rs.scheme.flash_attn_required()) {
        out.notes.push_back("the scheme's quantized V cache needs flash attention: it stays on");
    }
    out.seconds = std::chrono::duration<double>(Clock::now() - t0_).count();
    session_.reset();  // finishes the run; the lock goes with it
    return out;
}

}  // namespace

TuneOutcome run_tune(const TuneSpec & spec_in, TuneObserver * observer) {
    TuneSpec spec = spec_in;
    // No data directory: the shipped task samples, as run_sweep does.
    if (spec.task.data_dir.empty()) spec.task.data_dir = shipped_path("data/samples");
    check_spec(spec);
    if (tune::is_serve_workload(spec.workload)) return tune::tune_serving(spec, observer);
    return Tuner(spec, observer).run();
}

}  // namespace jb
