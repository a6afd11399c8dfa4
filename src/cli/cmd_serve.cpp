// joulebench serve: options, a progress line and Ctrl-C for jb::run_serve (joulebench/serve.hpp),
// then the levels of the run and each scheme's operating point under the SLO.

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/stop_signals.hpp"
#include "joulebench/error.hpp"
#include "joulebench/serve.hpp"
#include "joulebench/serving.hpp"
#include "joulebench/store.hpp"
#include "report/serving.hpp"
#include "util/strings.hpp"

namespace jb::cli {

namespace {

struct ServeOptions {
    std::string models, schemes, concurrency, rates, slo = "ttft_p99=2s,tpot_p99=100ms", output = "table";
    int n_gpu_layers = -1;
    bool no_progress = false;
    ServeSpec spec;
};

// Messages on stderr; one progress line redrawn on a terminal, plain lines elsewhere.
class Progress final : public ServeObserver {
public:
    Progress(bool tty, const StopSignals & stop) : tty_(tty), stop_(stop) {}
    void on_message(MessageLevel level, const std::string & text) override {
        clear();
        fmt::print(stderr, "serve: {}{}\n", level == MessageLevel::warning ? "warning: " : "", text);
    }
    void on_level_begin(const ServeLevel & l, const std::function<double()> & live_power_w) override {
        live_ = live_power_w;
        if (!tty_) fmt::print(stderr, "serve: [{}/{}] {}\n", l.index + 1, l.total, l.label());
    }
    void on_level_progress(const ServeLevel & l, const ServeProgress & p) override {
        if (!tty_) return;
        const double w = live_ ? live_() : 0.0;
        fmt::print(stderr, "\r\033[K[{}/{}] {}  {:.0f} s  done {}/{}  in flight {}  {:.0f} tok/s  {}{}", l.index + 1,
                   l.total, l.label(), p.t_s, p.completed + p.failed + p.timed_out, p.sent, p.in_flight,
                   p.chunks_per_s, w > 0 ? fmt::format("{:.1f} W", w) : std::string("- W"), p.steady ? "  steady" : "");
        drawn_ = true;
    }
    void on_level_end(const ServeLevel & l, const ServeLevelOutcome & o) override {
        clear();
        live_ = nullptr;
        if (o.status == "skipped") {
            fmt::print(stderr, "serve: [{}/{}] {}: already in the database\n", l.index + 1, l.total, l.label());
        } else if (o.record) {
            const ServeLevelRecord & r = *o.record;
            fmt::print(stderr, "serve: [{}/{}] {}: {}, {}/{} completed, {:.4g} J/request, {:.4g} J/output token, "
                               "TTFT p99 {:.0f} ms ({:.1f} s){}\n",
                       l.index + 1, l.total, l.label(), r.status, r.completed, r.sent, r.best_j_per_request(),
                       r.best_j_per_output_token(), r.ttft_p99_ms, o.seconds, r.reason.empty() ? "" : ": " + r.reason);
        } else {
            fmt::print(stderr, "serve: [{}/{}] {}: {}: {}\n", l.index + 1, l.total, l.label(), o.status, o.reason);
        }
    }
    bool stop_requested() override { return stop_.signal() != 0; }

private:
    void clear() {
        if (drawn_) fmt::print(stderr, "\r\033[K");
        drawn_ = false;
    }
    bool tty_;
    const StopSignals & stop_;
    std::function<double()> live_;
    bool drawn_ = false;
};

void run_serve_command(ServeOptions & o) {
    const Format format = parse_format(o.output);
    const metrics::Slo slo = metrics::parse_slo(o.slo);
    ServeSpec & s = o.spec;
    s.models = o.models.empty() ? std::vector<std::string>{} : split_list(o.models, "--models");
    s.schemes = split_list(o.schemes.empty() ? (s.url.empty() ? "fp16" : "endpoint") : o.schemes, "--schemes");
    if (!o.concurrency.empty()) {
        for (double c : split_numbers(o.concurrency, "--concurrency", true)) s.concurrency.push_back(int(c));
    }
    if (!o.rates.empty()) s.rates = split_numbers(o.rates, "--rate", false);
    if (s.concurrency.empty() && s.rates.empty()) s.concurrency = {1, 4, 16};
    if (o.n_gpu_layers >= 0) s.server.n_gpu_layers = o.n_gpu_layers;
    ServeOutcome out;
    int stop_signal = 0;
    {
        StopSignals stop;
        Progress progress(isatty(STDERR_FILENO) && !o.no_progress, stop);
        out = run_serve(s, &progress);
        stop_signal = stop.signal();
    }
    fmt::print(stderr, "serve: {} levels ok, {} partial, {} failed, {} already in {}\n", out.ok, out.partial,
               out.failed, out.skipped, s.db);
    if (out.stopped) {
        fmt::print(stderr, "serve: stopped by signal {}; the finished levels are kept in {}; run the same command "
                           "again to resume\n", stop_signal, s.db);
        exit_status = 128 + (stop_signal ? stop_signal : SIGINT);
        return;
    }
    const Store store = Store::open_readonly(s.db);
    std::vector<ServeLevelRecord> runs;
    for (const auto & key : out.levels) {
        if (auto l = store.find_serve_level(key)) runs.push_back(std::move(*l));
    }
    const std::vector<ServeLevelRecord> levels = metrics::pool_repeats(runs);
    print_table(std::cout, report::serve_levels_table(levels), format);
    if (format == Format::table || format == Format::md) {
        std::cout << "\n";
        print_table(std::cout, report::serve_latency_table(levels, slo), format);
        std::cout << "\n";
        print_table(std::cout, report::serve_frontier_table(levels, slo), format);
    }
    if (out.failed > 0) {
        fmt::print(stderr, "serve: {} level{} failed (reasons in the table's note column); exit status {}\n",
                   out.failed, out.failed == 1 ? "" : "s", kExitCellsFailed);
        exit_status = kExitCellsFailed;
    }
}

}  // namespace

void add_serve_command(CLI::App & app) {
    auto o = std::make_shared<ServeOptions>();
    auto & s = o->spec;
    auto & v = s.server;
    auto * cmd = app.add_subcommand("serve", "Serve each model x scheme with llama-server (or drive --url) at each "
                                             "concurrency or request rate: energy per request, latency, into SQLite");
    cmd->add_option("-m,--models", o->models, "Comma-separated GGUF models (with --url: the model it serves, optional)");
    cmd->add_option("--schemes", o->schemes, "Comma-separated schemes, as sweep (default fp16); with --url: one label "
                                             "for what the endpoint serves (default 'endpoint')");
    cmd->add_option("--concurrency", o->concurrency, "Closed-loop levels: concurrent clients, e.g. 1,4,16 (default "
                                                     "1,4,16 unless --rate)");
    cmd->add_option("--rate", o->rates, "Open-loop levels: Poisson arrivals in requests/s, e.g. 0.5,1,2 (drawn given "
                                        "their count, so each level delivers its rate; TTFT counts an arrival's wait)");
    cmd->add_option("--requests", s.requests, "Requests per level (default: 4 x concurrency, at least 16; open "
                                              "loop: 20 s of arrivals)");
    cmd->add_option("--duration", s.duration_s, "Seconds per level (no request is sent after it)");
    cmd->add_option("--repeats", s.repeats, "Run every level N times, each scheme's server started afresh for each "
                                            "round; tables show the mean with its 95 % interval")
        ->capture_default_str();
    cmd->add_option("--input-len", s.input_len, "Prompt tokens: N, uniform:MIN-MAX or normal:MEAN,SD[,MIN-MAX]")->capture_default_str();
    cmd->add_option("--output-len", s.output_len, "Output tokens (max_tokens, with ignore_eos): same forms")->capture_default_str();
    cmd->add_option("--prompts", s.prompts, "tasks:NAME (gsm8k, mmlu, truthfulqa_mc1, ...; mixes short, medium, long) "
                                            "or a JSONL file of {\"prompt\", \"max_tokens\"} (default: synthetic)");
    cmd->add_option("--data-dir", s.data_dir, "Task data for --prompts tasks:NAME (default: the shipped samples)");
    cmd->add_option("--slo", o->slo, "Latency targets of the operating point: METRIC_pP=LIMIT,... (ttft, tpot, itl, "
                                     "e2e; p50, p90, p99)")->capture_default_str();
    cmd->add_option("--url", s.url, "Drive this OpenAI-compatible endpoint on this host (http://127.0.0.1:8080) "
                                    "instead of starting llama-server; its host's devices are metered");
    cmd->add_option("--api", s.api, "completions or chat")->capture_default_str();
    cmd->add_option("--server-bin", s.server_bin, "llama-server to start (default: beside joulebench)");
    cmd->add_option("--parallel", v.parallel, "llama-server -np slots (default: the largest concurrency)");
    cmd->add_option("--ctx-size", v.ctx_size, "llama-server -c, all slots (default: slots x (prompt + output + 64))");
    cmd->add_option("--batch-size", v.batch_size, "llama-server -b");
    cmd->add_option("--ubatch-size", v.ubatch_size, "llama-server -ub");
    cmd->add_option("--flash-attn", v.flash_attn, "llama-server -fa: on, off or auto");
    cmd->add_option("--cache-type-k", v.cache_type_k, "llama-server -ctk (default: the scheme's)");
    cmd->add_option("--cache-type-v", v.cache_type_v, "llama-server -ctv (default: the scheme's)");
    cmd->add_option("--n-gpu-layers", o->n_gpu_layers, "llama-server -ngl");
    cmd->add_option("--threads", v.threads, "llama-server -t");
    cmd->add_option("--threads-batch", v.threads_batch, "llama-server -tb");
    cmd->add_option("--server-arg", v.extra_args, "Another llama-server argument, passed as is (repeatable; "
                                                  "--server-arg=--cont-batching)")->allow_extra_args(false);
    cmd->add_option("--max-in-flight", s.max_in_flight, "Open loop: most requests in flight (default: the slots)");
    cmd->add_option("--seed", s.seed, "Seed of prompts and arrivals")->capture_default_str();
    cmd->add_option("--request-timeout-s", s.request_timeout_s, "A request not done by then times out")->capture_default_str();
    cmd->add_option("--db", s.db, "Result database (created if missing)")->capture_default_str();
    cmd->add_option("--cache-dir", s.cache_dir, "Quantized-file cache (default under $XDG_CACHE_HOME)");
    cmd->add_option("--idle-s", s.idle_s, "Idle baseline measured once before the first level")->capture_default_str();
    cmd->add_option("--settle-s", s.settle_s, "Between levels, wait up to this long for the power to settle")->capture_default_str();
    cmd->add_option("--interval-ms", s.interval_ms, "Power sampling period")->capture_default_str();
    cmd->add_flag("--tuned", s.tuned, "Run each level with the best llama-server setting `joulebench tune --workload "
                                      "serve:...` stored in --db for it (docs/tune.md)");
    cmd->add_flag("--no-retry-failed", [o](int64_t) { o->spec.retry_failed = false; }, "Keep failed levels as they are");
    cmd->add_flag("--wait", s.wait_for_db, "When another run writes --db, wait for it instead of stopping");
    cmd->add_flag("--no-progress", o->no_progress, "No live progress line on stderr");
    cmd->add_option("-o,--output", o->output, "Table format: table, md, csv or json (csv, json: the levels)")->capture_default_str();
    cmd->footer("A level is committed in one transaction when it ends; the same command again skips stored levels and "
                "runs failed and missing ones. llama-server runs in its own process group and is stopped (SIGTERM, "
                "then SIGKILL) after each scheme, on Ctrl-C and if joulebench dies. Ctrl-C cancels the current level "
                "(not stored); a second Ctrl-C stops at once. Requests reuse no prompt (cache_prompt false), and the "
                "server runs without its host-memory prompt cache (--cache-ram 0; --server-arg=--cache-ram "
                "--server-arg=N keeps one).\n"
                "Exit status: 0 when every level ran (partial levels, with some failed requests, count as run); 3 "
                "when a level failed (the server did not start, died or hung); 1 for an error before any level, 2 "
                "for bad usage, 128+N when stopped by signal N. docs/serve.md.");
    cmd->callback([o] {
        o->spec.command_line = invocation;
        run_serve_command(*o);
    });
}

}  // namespace jb::cli
