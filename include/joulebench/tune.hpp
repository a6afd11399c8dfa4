#pragma once
// The tuner: the engine settings (batch and micro-batch sizes, flash attention, threads, sequences
// in parallel, context size, KV types) that spend the least energy per token on one model, scheme
// and workload, under optional speed constraints. Every trial is a metered cell in the result
// store, its settings in its workload fingerprint (settings_suffix), so a later tune goes on from
// them and `sweep --engine tuned` runs with the best. docs/tune.md says how the search works.
//
//   jb::TuneSpec spec;
//   spec.model = "model.gguf";
//   spec.scheme = "int8";
//   spec.workload = "pp2048";
//   spec.budget_trials = 30;
//   spec.min_tok_s = 5000;                        // optional
//   jb::TuneOutcome out = jb::run_tune(spec);     // or run_tune(spec, &my_observer)
//   out.settings[out.best].params                 // the engine settings to use
//
// A served load (workload "serve:c32", 32 concurrent clients, or "serve:r2.5", 2.5 requests/s)
// tunes llama-server's settings instead (slots, batch and micro-batch, flash attention, threads on a
// CPU, KV type, context per slot): every trial is a served level (run_serve) in the store, the
// objective J per output token, the constraints output tokens/s and a latency SLO.
//
// Progress, messages and cancellation go through a TuneObserver (a SweepObserver: every trial is a
// cell, or a served level shown as one); the tuner prints nothing.

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/engine_params.hpp"
#include "joulebench/serve.hpp"
#include "joulebench/sweep.hpp"
#include "joulebench/task_options.hpp"

namespace jb {

// One searched engine setting and the values it may take, by its short name in settings_suffix:
// "b" (n_batch), "ub" (n_ubatch), "fa" (on/off/auto), "t" (threads), "np" (sequences in parallel;
// a server's slots), "c" (context cells), "kv" (K/V cache types, "f16/f16", "q8_0/q8_0"), and for
// a served load "cps" (context cells per slot, or "auto": what serve sizes).
struct TuneAxis {
    std::string name;
    std::vector<std::string> values;
};
// "ub=128,256,512": an axis from the command line; throws jb::UsageError naming --axis.
TuneAxis parse_tune_axis(const std::string & text);

struct TuneSpec {
    std::string model;  // GGUF file
    std::string scheme = "fp16";
    std::string workload = "tg128";  // pp<N>, tg<N>, tg<N>x<S> (r<R>), a task (hellaswag, ...), serve:c<N>, serve:r<R>
    tasks::TaskOptions task;         // for a task: data, --limit, shots, seed
    std::string db = "joulebench-results/results.db";
    std::string cache_dir;  // quantized files; "" = the default cache
    // The defaults the search starts from (and the saving is measured against), as a sweep would
    // run the cell; also the placement (GPUs, split), which is not searched.
    EngineParams engine = engine_default_params();
    // Axes replacing the built-in ones of the same name (docs/tune.md lists those per workload and
    // backend). Every axis also holds the default's value (the search starts there), so an axis
    // whose one value is the default's fixes that setting.
    std::vector<TuneAxis> axes;
    bool search_kv = false;  // also try a q8_0 KV cache (it changes the numbers, so off by default)

    // Constraints on the chosen setting (means over its repeats).
    std::optional<double> min_tok_s;   // tokens per second at least
    std::optional<double> max_ttft_s;  // time to first token at most (pp workloads, generation tasks)
    std::string slo;  // a served load: latency targets, "ttft_p99=2s,tpot_p99=100ms" (parse_slo); "" none

    // A served load: the requests (input_len, output_len, prompts, data_dir, requests, duration_s,
    // seed, timeouts), the server binary and the server settings that are not searched (GPU layers,
    // extra arguments). The model, scheme, level, database, metering and the searched settings come
    // from this spec.
    ServeSpec serve;

    // Budget: trials (metered cells) and/or seconds of tuning; 0 = no limit of that kind, and at
    // least one must be given.
    int budget_trials = 0;
    double budget_s = 0.0;
    int min_repeats = 3;  // repeats of the defaults and of the chosen setting, for the interval

    double cooldown_s = 2.0;    // pause after every trial before the device is checked for idle
    double idle_s = 3.0;        // idle baseline at the start (0: none, no net energy)
    double idle_check_s = 0.5;  // idle re-check window after each trial (0: none)
    double settle_s = 5.0;      // most seconds to wait for the device to settle after a trial
    double interval_ms = 10.0;  // power sampling period
    double kld_budget = 0.01;   // scheme dynamic: mean KLD budget vs fp16
    bool wait_for_db = false;
    std::string command_line;  // provenance of the run
};

// One engine setting the search measured (or found stored), with its repeats.
struct TuneSetting {
    EngineParams params;  // the defaults with this setting applied
    ServeServerOptions server;  // a served load: llama-server's settings (params are then the defaults)
    std::string suffix;   // settings_suffix(params) (its cells' workload-fingerprint suffix); served: "np=32,b=2048,..."
    std::string label;    // settings_label(params); served: "np 32, b 2048, ..."
    int n = 0;            // successful repeats
    bool failed = false;  // a repeat failed (out of memory, unsupported): never chosen
    std::string error;    // the first failure's reason
    // Mean J/token and its 95 % half-width (NaN for n < 2), and mean tokens/s: for a task, of the
    // tokens the defaults evaluate (the same items under every setting; docs/tune.md).
    double j_per_token = 0.0, j_per_token_ci = 0.0;
    // Means (NaN where not measured). A served load: tokens/s of output, TTFT its p99, latency_ratio
    // the SLO's worst value / limit (<= 1 meets it).
    double tok_s = 0.0, ttft_s = 0.0, latency_ratio = NAN;
    bool feasible = true;              // meets the constraints
    bool pareto = false;               // on the J/token - tokens/s frontier of the feasible settings
    bool is_default = false;
    int stored = 0;  // repeats found in the store from earlier tunes
};

struct TuneOutcome {
    std::vector<TuneSetting> settings;  // in the order they were first tried
    int best = -1;                      // index of the chosen setting (-1: nothing measured)
    int defaults = -1;                  // index of the defaults
    // 1 - J/token(best) / J/token(defaults) with its 95 % interval (NaN bounds with fewer than two
    // repeats of either).
    double saving = 0.0, saving_lo = 0.0, saving_hi = 0.0;
    std::vector<int> pareto;    // indices of the frontier, by increasing J/token
    bool best_feasible = true;  // false: no setting met the constraints; best is the closest
    int trials = 0;             // cells measured by this run
    double seconds = 0.0;
    std::string stop_reason;        // "converged", "budget", "stopped"
    bool serving = false;           // llama-server's settings at a served load (J per output token)
    std::string workload_fp;        // the trials' fingerprint before their settings suffix (served: the level)
    std::vector<std::string> serve_options;  // served: the best setting as `joulebench serve` options
    std::vector<std::string> axes;  // "ub: 128 256 512 ...", the space searched
    std::vector<std::string> notes;
};

// The observer: every trial is a cell (on_cell_begin / on_cell_end with live power), and
// on_trial_end says what the search learnt from it.
class TuneObserver : public SweepObserver {
public:
    virtual void on_trial_end(const TuneSetting & setting, int trial) {
        (void)setting;
        (void)trial;
    }
};

// The `joulebench serve` options that run a served load's setting (TuneSetting::server), e.g.
// {"--parallel", "64", "--batch-size", "2048", "--ubatch-size", "2048", "--flash-attn", "auto"}.
std::vector<std::string> serve_options_of(const ServeServerOptions & server);

// Tunes into spec.db (created if missing). Throws jb::UsageError / jb::InputError for a bad spec
// before any measurement; a failed trial is stored and the search goes on without that setting.
TuneOutcome run_tune(const TuneSpec & spec, TuneObserver * observer = nullptr);

}  // namespace jb
