#pragma once
// The sweep: every (model, scheme, task or workload, repeat) cell of a grid, metered with the
// hardware's own counters and committed to the result store one transaction per cell. Started
// again on the same store, it skips finished cells and redoes the one that was interrupted.
//
//   jb::SweepSpec spec;
//   spec.models = {"model.gguf"};
//   spec.schemes = {"fp16", "int8"};
//   spec.tasks = {"arc_easy"};
//   spec.db = "results.db";
//   jb::SweepOutcome out = jb::run_sweep(spec);   // or run_sweep(spec, &my_observer)
//
// Progress, messages and cancellation go through a SweepObserver the caller implements; the
// runner prints nothing.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "joulebench/engine_params.hpp"
#include "joulebench/task_options.hpp"

namespace jb {

// A model family (distillation): the teacher ("base") and its student ("distilled"), recorded so
// that reports compare them.
struct FamilySpec {
    std::string name = "distill";
    std::string base;       // path of the teacher's GGUF
    std::string distilled;  // path of the student's GGUF
};

// "NAME:base=teacher.gguf,distilled=student.gguf" or "base=...,distilled=..." (family "distill").
// Throws jb::UsageError naming --family and what is wrong.
FamilySpec parse_family(const std::string & spec);
// Several specs; also refuses two families of one name.
std::vector<FamilySpec> parse_families(const std::vector<std::string> & specs);

// Where a cell's engine settings come from: the spec's (`engine`), or the best that
// `joulebench tune` stored in the same database for the cell's host, model, scheme and workload.
enum class EngineSource { given, tuned };

struct SweepSpec {
    std::vector<std::string> models;  // GGUF files
    std::vector<FamilySpec> families;  // their models are swept too (appended unless models_fixed)
    std::vector<std::string> schemes = {"fp16", "int8", "dynamic", "q4_k_m"};
    // Tasks (mmlu, hellaswag, arc_challenge, arc_easy, truthfulqa, gsm8k, custom:<file>) and synthetic
    // workloads (pp2048, tg256, tg256x8, each with an optional r<R>).
    std::vector<std::string> tasks = {"mmlu", "hellaswag", "arc_challenge", "arc_easy", "truthfulqa", "gsm8k"};
    tasks::TaskOptions task;  // data directory, --limit, shots, seed, generation length
    int repeat = 1;
    // Adaptive repeats (--ci, as hyperfine repeats until a number is known): with ci_pct > 0 every
    // cell is measured again until the 95 % confidence interval of its J/token is within ci_pct %
    // of the mean (after at least max(repeat, 3) repeats), or until ci_max_s seconds of its repeats
    // or ci_max_n repeats. Each repeat records n and the interval so far in its energy_json
    // ("repeats"); the last one says why the series stopped.
    double ci_pct = 0.0;
    double ci_max_s = 300.0;
    int ci_max_n = 50;
    // tuned: each cell runs with the best setting stored by `joulebench tune` for it (its workload
    // fingerprint gets kTunedSuffix, its energy_json the setting under "tuned"); a cell without
    // stored trials fails, saying which tune to run.
    EngineSource engine_source = EngineSource::given;
    std::string db = "joulebench-results/results.db";
    std::string cache_dir;           // quantized files; "" = the default cache
    double kld_budget = 0.01;        // dynamic: mean KLD budget vs fp16
    std::string dynamic_from;        // dynamic: follow the plan of this model ("" = the default rule)
    double idle_s = 3.0;             // idle baseline before the first cell (0: none, no net energy)
    double idle_check_s = 0.5;       // idle re-check window between cells (0: none)
    double settle_s = 5.0;           // most seconds to wait for the device to settle between cells
    double interval_ms = 10.0;       // power sampling period
    bool retry_failed = true;        // run failed cells again
    bool wait_for_db = false;        // another sweep writes db: wait for it (false: throw, naming it)
    bool models_fixed = false;       // exactly `models` (a Slurm cell: a family's other models are other cells)
    std::string command_line;        // provenance of the run
    EngineParams engine = engine_default_params();  // model_path is set per model
};

// One cell as the observer sees it.
struct SweepCell {
    size_t index = 0;  // 0-based position in the grid
    size_t total = 0;  // cells in the grid
    std::string model_file, scheme, task;
    int repeat = 0;    // 0-based
    int repeats = 1;   // 0: adaptive (--ci), not known in advance
    std::string label() const;  // "stories260K.gguf int8 arc_easy #2"
};

enum class CellStatus { measured, failed, skipped };

struct CellOutcome {
    CellStatus status = CellStatus::measured;
    std::string error;       // why it failed
    double seconds = 0.0;    // wall time of the cell (0 when skipped)
    double energy_j = 0.0;   // measured (or estimated) energy of the workload
    bool estimated = false;  // energy_j is an estimate, not a measurement
};

enum class MessageLevel { info, warning };

// Progress and cancellation. Every method has a default that does nothing; a program overrides
// what it needs. Methods are called from the thread that runs the sweep.
class SweepObserver {
public:
    virtual ~SweepObserver() = default;
    virtual void on_message(MessageLevel level, const std::string & text) {
        (void)level;
        (void)text;
    }
    // A cell starts; live_power_w() reads the measured power now (0 before the first samples) and
    // may be called from any thread until on_cell_end.
    virtual void on_cell_begin(const SweepCell & cell, const std::function<double()> & live_power_w) {
        (void)cell;
        (void)live_power_w;
    }
    virtual void on_cell_end(const SweepCell & cell, const CellOutcome & outcome) {
        (void)cell;
        (void)outcome;
    }
    // Polled between cells (and while waiting for the device to settle): true stops the sweep
    // after the current cell; every finished cell stays in the store.
    virtual bool stop_requested() { return false; }
};

struct SweepOutcome {
    size_t measured = 0, failed = 0, skipped = 0;
    bool stopped = false;       // stop_requested() ended it before the grid was done
    size_t unsettled = 0;       // cells after which the device did not settle within settle_s
    double unsettled_max_w = 0.0;
    double idle_w = 0.0;        // idle baseline measured at the start (NaN: none)
};

// Runs the grid into spec.db (created if missing). Throws jb::UsageError / jb::InputError for a bad
// spec (missing model, unknown scheme or task, bad data) before any measurement; a failure inside
// a cell is recorded with its reason and the sweep goes on.
SweepOutcome run_sweep(const SweepSpec & spec, SweepObserver * observer = nullptr);

}  // namespace jb
