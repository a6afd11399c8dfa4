#include "sweep/evaluate.hpp"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "energy/cpu_time.hpp"
#include "energy/discover.hpp"
#include "energy/meter.hpp"
#include "joulebench/error.hpp"
#include "quant/gguf_file.hpp"
#include "sweep/schemes.hpp"

namespace jb::sweep {

EvalRun evaluate(const EvalSpec & spec, const std::function<void(const std::string &)> & on_message) {
    auto say = [&](const std::string & text) {
        if (on_message) on_message(text);
    };
    if (spec.model.empty()) throw UsageError("eval needs a model: -m model.gguf");
    if (spec.idle_s < 0) throw UsageError(fmt::format("--idle-s must be >= 0 (got {})", spec.idle_s));
    if (!(spec.interval_ms > 0)) throw UsageError(fmt::format("--interval-ms must be > 0 (got {})", spec.interval_ms));
    if (spec.tasks.empty()) throw UsageError("--tasks: no task given");
    check_engine_params(spec.engine);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(spec.model, ec)) throw InputError(spec.model, "model file not found");
    inspect_gguf(spec.model);  // a foreign or truncated file fails here, before idle is measured

    // Every task reads and checks its data before a model is loaded or a joule is spent.
    std::vector<std::unique_ptr<tasks::Task>> task_list;
    for (const auto & name : spec.tasks) task_list.push_back(tasks::make_task(name, spec.task));

    EvalRun out;
    EngineParams params = spec.engine;
    params.model_path = spec.model;
    if (!spec.scheme.empty()) {
        SchemeOptions so;
        so.cache_dir = spec.cache_dir;
        so.engine = params;
        const ResolvedScheme rs = resolve_scheme(spec.model, spec.scheme, so, say, [&](const std::string & w) {
            say("warning: " + w);
        });
        if (!rs.error.empty()) throw UsageError(rs.error);
        params = scheme_engine_params(params, rs, params.n_seq_max);
    }
    out.model_file = params.model_path;

    energy::Discovery found = energy::discover_sensors();
    out.unavailable = found.unavailable;
    energy::MeterParams mp;
    mp.interval_s = spec.interval_ms / 1000.0;
    energy::Meter meter(found.sensors, mp);
    if (spec.idle_s > 0) {
        say(fmt::format("measuring idle power for {:.1f} s", spec.idle_s));
        energy::CpuLoadWatch idle_load(energy::CpuScope::process_tree);
        idle_load.begin();
        meter.measure_idle(spec.idle_s);
        out.idle_load = idle_load.end();
    }
    MeterObserver observer(meter);
    energy::CpuLoadWatch load(energy::CpuScope::process_tree);
    load.begin();
    meter.start("idle");
    say(fmt::format("loading {}", out.model_file));
    LlamaEngine engine(params, &observer);
    out.model = engine.info();
    if (out.model.synthetic) {
        say(fmt::format("warning: {} is a synthetic model (random weights): its accuracy is chance by construction; "
                        "only its energy and speed mean anything", spec.model));
    }
    for (auto & task : task_list) {
        say(fmt::format("{} ({} items, {}-shot)", task->name(), task->n_items(), task->shots()));
        observer.set_label(task->name());
        engine.reset_counters();
        const auto t0 = std::chrono::steady_clock::now();
        TaskRun run;
        run.result = task->run(engine);
        run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        run.counters = engine.counters();
        meter.mark(task->name() + "/idle");
        out.tasks.push_back(std::move(run));
    }
    observer.set_label("");
    const energy::Measurement m = meter.stop();
    out.load = load.end();
    for (auto & run : out.tasks) run.energy = label_energy(m, run.result.task);
    out.load_s = label_energy(m, "load").load.seconds;
    return out;
}

}  // namespace jb::sweep
