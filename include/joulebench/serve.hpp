#pragma once
// Serving under load: each model x scheme served by llama-server (started on a free loopback
// port from the same llama.cpp build, stopped after its levels), or an OpenAI-compatible
// endpoint already running on this host, driven at each concurrency (closed loop) and each
// request rate (open loop) with streamed requests, metered with the hardware's own counters,
// and committed to the result store one transaction per level. docs/serve.md.
//
//   jb::ServeSpec spec;
//   spec.models = {"models/stories260K.gguf"};
//   spec.schemes = {"fp16", "q4_k_m"};
//   spec.concurrency = {1, 4, 16};
//   spec.db = "results.db";
//   jb::ServeOutcome out = jb::run_serve(spec);   // or run_serve(spec, &my_observer)
//
// Started again on the same store with the same settings, it skips the levels already stored
// (ok or partial) and runs the failed and missing ones. Progress, messages and cancellation go
// through a ServeObserver; the runner prints nothing.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/engine_params.hpp"
#include "joulebench/serve_record.hpp"
#include "joulebench/sweep.hpp"  // MessageLevel

namespace jb {

// llama-server's settings that change energy. Each is passed only when set; an unset one keeps
// the server's default and is recorded as "default".
struct ServeServerOptions {
    int parallel = 0;     // -np slots; 0: the largest concurrency, so no client queues (open loop: max_in_flight, else >= 16)
    int ctx_size = 0;     // -c (all slots); 0: parallel x (longest prompt + longest output + 64), rounded up to 256
    int batch_size = 0;   // -b
    int ubatch_size = 0;  // -ub
    std::string flash_attn;                // -fa on|off|auto ("": default; "on" when the scheme's KV types need it)
    std::string cache_type_k, cache_type_v;  // -ctk/-ctv ("": the scheme's KV types)
    std::optional<int> n_gpu_layers;       // -ngl
    int threads = 0;                       // -t
    int threads_batch = 0;                 // -tb
    std::vector<std::string> extra_args;   // passed as they are, recorded
    double startup_timeout_s = 300.0;      // model load included
};

struct ServeSpec {
    std::vector<std::string> models;  // GGUF files (with url: optional, names the model served)
    std::vector<std::string> schemes = {"fp16"};  // with url: one label for what the endpoint serves
    std::string url;         // "http://127.0.0.1:8080": drive this endpoint (loopback) instead of starting a server
    std::string api = "completions";  // or "chat" (/v1/chat/completions)
    std::string server_bin;  // llama-server; "": beside the running executable (default_server_binary())
    ServeServerOptions server;

    std::vector<int> concurrency;  // closed-loop levels: concurrent clients
    std::vector<double> rates;     // open-loop levels: Poisson arrivals, requests per second
    int max_in_flight = 0;         // open loop: most requests in flight; 0: the server's slots
    // Bounds of every level: requests sent and/or seconds. Both 0: 4 x concurrency requests (at
    // least 16) for a closed level, 20 s of arrivals (at least 16) for an open one.
    long requests = 0;
    double duration_s = 0.0;
    // Each level is run this many times, every scheme's server started afresh for each round
    // (round 1 of every scheme and model, then round 2, ...), with the same prompts and arrivals.
    // Round k >= 2 is stored with "|repeat=k" on its workload fingerprint; metrics::pool_repeats
    // gives the mean with its 95 % interval.
    int repeats = 1;

    // Request shapes. Synthetic (prompts = ""): prompt and output token lengths, each fixed
    // ("256"), uniform ("uniform:128-512") or normal ("normal:256,64"). prompts = "tasks:NAME"
    // (a shipped task, gsm8k, mmlu, ..., or a mix: short, medium, long) or a JSONL file of
    // {"prompt", "max_tokens"}; output_len then gives max_tokens where a prompt has none.
    std::string input_len = "256";
    std::string output_len = "128";
    std::string prompts;
    std::string data_dir;  // the tasks' data ("" = the shipped samples)
    std::string corpus;    // the text synthetic prompts are cut from ("" = the shipped calibration text)
    uint64_t seed = 1;
    bool ignore_eos = true;  // every request generates exactly max_tokens (same work for every scheme)
    double request_timeout_s = 300.0;
    double idle_timeout_s = 60.0;

    std::string db = "joulebench-results/results.db";
    // Appended to the levels' workload fingerprint: `tune` stores its trials as levels with
    // "|tune=r<repeat>|<settings>" (results::is_tune_trial leaves them out of reports and
    // recommendations).
    std::string workload_suffix;
    // A tune's trial: {"slo", "min_tok_s", "min_repeats"} (JSON text), kept in the level's
    // workload_json under "tune" so that `tuned` ranks the trials as that tune did.
    std::string tune_json;
    // Run every level with the best llama-server setting that `joulebench tune --workload
    // serve:<level>` stored in db for the same model, scheme, level and requests (the options in
    // `server` that the tune did not search stay); a level without stored trials fails, naming the
    // tune to run. The levels' workload fingerprint gets "|server=tuned".
    bool tuned = false;
    std::string cache_dir;         // quantized files; "" = the default cache
    double idle_s = 3.0;           // idle baseline before the first level that runs (0: none, no net energy)
    double idle_check_s = 0.5;     // idle re-check window between levels (0: none)
    double settle_s = 5.0;         // most seconds to wait for the device to settle between levels
    double interval_ms = 10.0;     // power sampling period
    bool retry_failed = true;      // run failed levels again
    bool wait_for_db = false;      // another run writes db: wait for it (false: throw, naming it)
    std::string command_line;      // provenance
    EngineParams engine = engine_default_params();  // quantizing threads; dynamic's calibration
};

// One level as the observer sees it.
struct ServeLevel {
    size_t index = 0;  // 0-based over every level of the run
    size_t total = 0;
    std::string model_file, scheme;
    std::string level;  // "c=4", "r=2.5"
    std::string label() const;  // "stories260K.gguf q4_k_m c=4"
};

// Progress inside a level, about every 0.5 s.
struct ServeProgress {
    double t_s = 0.0;
    long sent = 0, completed = 0, failed = 0, timed_out = 0, in_flight = 0, waiting = 0;
    double chunks_per_s = 0.0;  // token chunks streamed per second, over the last interval
    bool steady = false;        // inside the steady-state window
};

struct ServeLevelOutcome {
    std::string status;  // "ok", "partial", "failed", "stopped" (not stored) or "skipped" (already stored)
    std::string reason;
    double seconds = 0.0;
    std::optional<ServeLevelRecord> record;  // what was stored (measured levels)
};

class ServeObserver {
public:
    virtual ~ServeObserver() = default;
    virtual void on_message(MessageLevel level, const std::string & text) {
        (void)level;
        (void)text;
    }
    // A level starts; live_power_w() reads the measured power now and may be called from any
    // thread until on_level_end.
    virtual void on_level_begin(const ServeLevel & level, const std::function<double()> & live_power_w) {
        (void)level;
        (void)live_power_w;
    }
    virtual void on_level_progress(const ServeLevel & level, const ServeProgress & progress) {
        (void)level;
        (void)progress;
    }
    virtual void on_level_end(const ServeLevel & level, const ServeLevelOutcome & outcome) {
        (void)level;
        (void)outcome;
    }
    // Polled about every 50 ms during a level and between levels: true stops the level (requests
    // in flight are cancelled, the level is not stored) and the run; every finished level stays.
    virtual bool stop_requested() { return false; }
};

struct ServeOutcome {
    size_t ok = 0, partial = 0, failed = 0, skipped = 0;
    bool stopped = false;
    double idle_w = 0.0;  // idle baseline (NaN: none)
    std::vector<ServeLevelKey> levels;  // every level of the run, measured or skipped, in order
};

// llama-server beside the running executable (the build puts both in one bin/ directory).
std::string default_server_binary();

// Runs every level into spec.db (created if missing). Throws jb::UsageError / jb::InputError for
// a bad spec (no model, no level, unknown scheme, bad lengths, a missing server binary or prompt
// file, a URL that is not loopback) before any measurement; a server that does not start or dies,
// and requests that fail, become failed (or partial) levels with their reason, and the run goes on.
ServeOutcome run_serve(const ServeSpec & spec, ServeObserver * observer = nullptr);

}  // namespace jb
