// joulebench tune: options, progress on stderr and the outcome on stdout for jb::run_tune
// (joulebench/tune.hpp). docs/tune.md.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/engine_options.hpp"
#include "cli/stop_signals.hpp"
#include "joulebench/error.hpp"
#include "joulebench/tune.hpp"
#include "report/tune_trials.hpp"
#include "util/paths.hpp"

namespace jb::cli {

namespace {

struct TuneOptions {
    TuneSpec spec;
    EngineOptions engine;
    std::vector<std::string> axes;
    double min_tps = 0, max_ttft_s = 0;
    std::string output = "table";
};

class Progress final : public TuneObserver {
public:
    Progress(const StopSignals & stop, int budget, bool served) : stop_(stop), budget_(budget), served_(served) {}
    void on_message(MessageLevel level, const std::string & text) override {
        fmt::print(stderr, "tune: {}{}\n", level == MessageLevel::warning ? "warning: " : "", text);
    }
    void on_trial_end(const TuneSetting & s, int trial) override {
        const std::string of = budget_ > 0 ? fmt::format("/{}", budget_) : "";
        if (s.failed) {
            fmt::print(stderr, "tune: [{}{}] {}: failed: {}\n", trial, of, s.label, s.error);
            return;
        }
        const char * per = served_ ? "output " : "";
        fmt::print(stderr, "tune: [{}{}] {}: {:.5g} J/{}token (mean of {}), {:.1f} {}tok/s{}\n", trial, of, s.label,
                   s.j_per_token, per, s.n, s.tok_s, per,
                   s.feasible ? "" : ", misses the constraints");
    }
    bool stop_requested() override { return stop_.signal() != 0; }

private:
    const StopSignals & stop_;
    int budget_;
    bool served_;  // a served load: J per output token
};

// A served load: the engine options given become the server's defaults (where the search starts);
// those llama-server takes otherwise are refused, naming what to use.
void serve_defaults(TuneOptions & o, const CLI::App & cmd) {
    auto given = [&](const char * name) { return cmd.get_option(name)->count() > 0; };
    auto & v = o.spec.serve.server;
    const EngineParams & e = o.spec.engine;
    if (given("--batch-size")) v.batch_size = e.n_batch;
    if (given("--ubatch-size")) v.ubatch_size = e.n_ubatch;
    if (given("--parallel")) v.parallel = e.n_seq_max;
    if (given("--flash-attn")) v.flash_attn = flash_attn_name(e.flash_attn);
    if (given("--cache-type-k")) v.cache_type_k = e.type_k;
    if (given("--cache-type-v")) v.cache_type_v = e.type_v;
    if (given("--ctx-size")) {
        throw UsageError("-c/--ctx-size: a served load's context is per slot: --axis cps=N (or --server-arg -c)");
    }
    for (const char * name : {"--split-mode", "--main-gpu", "--tensor-split", "--gpus"}) {
        if (given(name)) {
            throw UsageError(
                fmt::format("{}: a served load's placement is llama-server's: pass it with --server-arg "
                            "(and CUDA_VISIBLE_DEVICES for the GPUs)",
                            name));
        }
    }
}

void run(TuneOptions & o, const CLI::App & cmd) {
    const Format format = parse_format(o.output);
    o.spec.engine = o.engine.resolve("");
    const bool served = o.spec.workload.rfind("serve", 0) == 0;
    if (served) serve_defaults(o, cmd);
    for (const auto & a : o.axes) o.spec.axes.push_back(parse_tune_axis(a));
    if (o.min_tps > 0) o.spec.min_tok_s = o.min_tps;
    if (o.max_ttft_s > 0) o.spec.max_ttft_s = o.max_ttft_s;
    TuneOutcome out;
    int signal = 0;
    {
        StopSignals stop;
        Progress progress(stop, o.spec.budget_trials, served);
        out = run_tune(o.spec, &progress);
        signal = stop.signal();
    }
    if (format == Format::json) {
        std::cout << report::tune_outcome_json(out).dump(2) << "\n";
    } else {
        print_table(std::cout, report::tune_trials_table(out), format);
        if (format != Format::csv) std::cout << "\n" << report::tune_verdict(out) << "\n";
    }
    fmt::print(stderr, "tune: {}\n", report::tune_verdict(out));
    if (!out.serve_options.empty()) {
        fmt::print(stderr, "tune: to serve with it: joulebench serve {}\n", fmt::join(out.serve_options, " "));
    }
    if (signal != 0) exit_status = 128 + signal;
}

}  // namespace

void add_tune_command(CLI::App & app) {
    auto o = std::make_shared<TuneOptions>();
    auto & s = o->spec;
    s.task.data_dir = shipped_path("data/samples");
    auto * cmd = app.add_subcommand("tune",
                                    "Search the engine settings (batch, micro-batch, flash attention, threads, "
                                    "sequences, context, KV type) for the least energy per token");
    cmd->add_option("-m,--model", s.model, "GGUF model")->required();
    cmd->add_option("--scheme", s.scheme, "Scheme (fp16, int8, q4_k_m, dynamic, ...)")->capture_default_str();
    cmd->add_option("-w,--workload", s.workload,
                    "pp<N>, tg<N>, tg<N>x<S> (r<R> repetitions), a task (hellaswag, ...), or a served load: "
                    "serve:c<N> (N concurrent clients) or serve:r<R> (R requests/s), which tunes llama-server")
        ->capture_default_str();
    cmd->add_option("--data-dir", s.task.data_dir, "Task data (docs/tasks.md)")->capture_default_str();
    cmd->add_option("--limit", s.task.limit, "A task: seeded sample of N items");
    cmd->add_option("--budget-trials", s.budget_trials, "Most trials (metered cells)");
    cmd->add_option("--budget-s", s.budget_s, "Most seconds of tuning");
    cmd->add_option("--min-tps", o->min_tps, "Constraint: tokens per second at least this");
    cmd->add_option("--max-ttft", o->max_ttft_s,
                    "Constraint: time to first token at most this many seconds (pp "
                    "workloads, generation tasks)");
    cmd->add_option("--min-repeats", s.min_repeats, "Repeats of the defaults and the best, for the interval")
        ->capture_default_str();
    cmd->add_option("--axis", o->axes,
                    "Replace a searched setting's values, e.g. ub=128,256,512 or fa=on (c, b, ub, "
                    "np, fa, t, kv; a served load: np, b, ub, fa, t, kv, cps = context per slot); repeatable");
    cmd->add_flag("--search-kv", s.search_kv, "Also try a q8_0 KV cache (it changes the numbers the model computes)");
    cmd->add_option("--cooldown-s", s.cooldown_s, "Pause after every trial")->capture_default_str();
    cmd->add_option("--idle-s", s.idle_s, "Idle baseline measured once at the start")->capture_default_str();
    cmd->add_option("--idle-check-s", s.idle_check_s, "Idle re-check after every trial (0: none)")
        ->capture_default_str();
    cmd->add_option("--settle-s", s.settle_s, "Most seconds to wait for the device to settle after a trial")
        ->capture_default_str();
    cmd->add_option("--interval-ms", s.interval_ms, "Power sampling period")->capture_default_str();
    cmd->add_option("--db", s.db, "Result database: trials are stored cells (created if missing)")
        ->capture_default_str();
    cmd->add_option("--cache-dir", s.cache_dir, "Quantized-file cache (default under $XDG_CACHE_HOME)");
    cmd->add_flag("--wait", s.wait_for_db, "When another run writes --db, wait for it");
    cmd->add_option("-o,--output", o->output, "table, md, csv or json")->capture_default_str();
    const char * served = "Served load (--workload serve:...)";
    auto & v = s.serve;
    cmd->add_option("--slo", s.slo,
                    "Constraint: latency targets METRIC_pP=LIMIT,... (ttft, tpot, itl, e2e at p50, "
                    "p90, p99), e.g. ttft_p99=2s,tpot_p99=100ms")
        ->group(served);
    cmd->add_option("--input-len", v.input_len, "Prompt tokens: N, uniform:MIN-MAX or normal:MEAN,SD[,MIN-MAX]")
        ->capture_default_str()
        ->group(served);
    cmd->add_option("--output-len", v.output_len, "Output tokens (max_tokens, with ignore_eos): same forms")
        ->capture_default_str()
        ->group(served);
    cmd->add_option("--prompts", v.prompts,
                    "tasks:NAME or a JSONL file of {\"prompt\", \"max_tokens\"} "
                    "(default: synthetic prompts of --input-len)")
        ->group(served);
    cmd->add_option("--requests", v.requests, "Requests per trial (default: 4 x clients, at least 16)")->group(served);
    cmd->add_option("--duration", v.duration_s, "Seconds per trial (no request is sent after it)")->group(served);
    cmd->add_option("--max-in-flight", v.max_in_flight, "serve:r<R>: most requests in flight (default: the slots)")
        ->group(served);
    cmd->add_option("--server-bin", v.server_bin, "llama-server to start (default: beside joulebench)")->group(served);
    cmd->add_option("--server-arg", v.server.extra_args,
                    "Another llama-server argument, passed as is "
                    "(repeatable)")
        ->group(served);
    cmd->add_option("--request-timeout-s", v.request_timeout_s, "A request not done by then times out")
        ->capture_default_str()
        ->group(served);
    add_engine_options(cmd, o->engine);
    cmd->footer(
        "The engine options give the defaults the search starts from and measures the saving against. Trials "
        "are cells in --db (their settings in the workload fingerprint): a tune run again goes on from them, "
        "and `joulebench sweep --engine tuned` runs each cell with the best. A served load (serve:c<N>) tunes "
        "llama-server's settings instead, every trial a served level (J per output token; --slo as the latency "
        "constraint); -t, --ngl, -b, --ub, --np, --fa, --ctk and --ctv give the server's defaults. docs/tune.md.");
    cmd->callback([o, cmd] {
        o->spec.command_line = invocation;
        run(*o, *cmd);
    });
}

}  // namespace jb::cli
