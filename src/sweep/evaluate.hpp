#pragma once
// One model on a list of tasks, metered as one run: what `joulebench eval` prints. The tasks read
// and check their data before the model is loaded or a joule is spent; each task's energy, tokens
// and times come from the phases the engine reports.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "energy/sensor.hpp"
#include "engine/llama_engine.hpp"
#include "joulebench/engine_params.hpp"
#include "joulebench/task_options.hpp"
#include "sweep/metered.hpp"
#include "tasks/task.hpp"

namespace jb::sweep {

struct EvalSpec {
    std::string model;
    std::string scheme;  // "" = the model file as it is; else quantized through the cache first
    std::string cache_dir;
    std::vector<std::string> tasks;
    tasks::TaskOptions task;
    double idle_s = 2.0;
    double interval_ms = 10.0;
    EngineParams engine = engine_default_params();
};

struct TaskRun {
    tasks::TaskResult result;
    LmCounters counters;
    double wall_s = 0.0;
    LabelEnergy energy;
};

struct EvalRun {
    ModelInfo model;
    std::string model_file;  // what ran: the model, or its quantized file under `scheme`
    std::vector<TaskRun> tasks;
    double load_s = 0.0;
    std::vector<energy::Unavailable> unavailable;  // what could not be metered, and why
    // The machine's CPU time beside this process's over the run and the idle baseline (absent
    // without one, or where /proc/stat cannot be read); busy() flags other load.
    std::optional<energy::CpuLoad> load, idle_load;
};

// Throws UsageError / InputError for bad options or data before any measurement.
EvalRun evaluate(const EvalSpec & spec, const std::function<void(const std::string &)> & on_message);

}  // namespace jb::sweep
