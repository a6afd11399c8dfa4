// joulebench sweep: options, a progress line and Ctrl-C for jb::run_sweep (joulebench/sweep.hpp).

#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/slurm_cli.hpp"
#include "cli/stop_signals.hpp"
#include "cli/sweep.hpp"
#include "cli/sweep_progress.hpp"
#include "report/report.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "util/strings.hpp"

namespace jb::cli {

void SweepOptions::resolve() {
    spec.models = models.empty() ? std::vector<std::string>{} : split_list(models, "--models");
    spec.families = parse_families(families);
    spec.schemes = split_list(schemes, "--schemes");
    spec.tasks = split_list(tasks, "--tasks");
    spec.engine = engine.resolve("");
    if (!ci.empty()) {
        const std::optional<double> pct = parse_double(ci.back() == '%' ? ci.substr(0, ci.size() - 1) : ci);
        if (!pct || !(*pct > 0) || *pct >= 100) {
            throw UsageError(fmt::format("--ci '{}': expected a half-width in percent of the mean, like 2%", ci));
        }
        spec.ci_pct = *pct;
    }
    if (engine_source != "default" && engine_source != "tuned") {
        throw UsageError(fmt::format("--engine '{}': expected default (the engine options) or tuned (the best "
                                     "setting `joulebench tune` stored in --db)", engine_source));
    }
    spec.engine_source = engine_source == "tuned" ? EngineSource::tuned : EngineSource::given;
}

void run_sweep_command(SweepOptions & o) {
    const Format format = parse_format(o.output);
    SweepOutcome out;
    int stop_signal = 0;
    {
        StopSignals stop;
        const auto progress = make_sweep_progress(isatty(STDERR_FILENO) && !o.no_progress, stop);
        out = run_sweep(o.spec, progress.get());
        stop_signal = stop.signal();
    }
    fmt::print(stderr, "sweep: {} cells measured, {} failed, {} already in {}\n", out.measured, out.failed,
               out.skipped, o.spec.db);
    if (out.unsettled > 1) {
        fmt::print(stderr, "sweep: after {} of {} cells the device had not settled within --settle-s {:g} s (up to "
                           "{:.1f} W vs {:.1f} W at the start); net energies may be biased; --settle-s 0 skips "
                           "the wait\n", out.unsettled, out.measured + out.failed, o.spec.settle_s,
                   out.unsettled_max_w, out.idle_w);
    }
    if (out.stopped) {
        fmt::print(stderr, "sweep: stopped by signal {}; {} finished cells are kept in {}; run the same command "
                           "again to resume\n", stop_signal, out.measured + out.failed + out.skipped, o.spec.db);
        exit_status = 128 + stop_signal;
        return;
    }
    print_table(std::cout, report::sweep_cells_table(Store::open_readonly(o.spec.db).list_cells()), format);
    if (out.failed > 0) {
        fmt::print(stderr, "sweep: {} cell{} failed (reasons in the table's error column); exit status {}\n",
                   out.failed, out.failed == 1 ? "" : "s", kExitCellsFailed);
        exit_status = kExitCellsFailed;
    }
}

void add_sweep_command(CLI::App & app) {
    auto o = std::make_shared<SweepOptions>();
    auto & s = o->spec;
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
    cmd->add_option("--data-dir", s.task.data_dir, "Task data (docs/tasks.md)")->capture_default_str();
    cmd->add_option("--limit", s.task.limit, "Seeded sample of N items per task");
    cmd->add_option("--shots", s.task.shots, "Few-shot examples (default: each task's own)");
    cmd->add_option("--seed", s.task.seed, "Seed for samples and few-shot draws")->capture_default_str();
    cmd->add_option("--max-tokens", s.task.gen_max_tokens, "Generation tasks: most tokens per answer")
        ->capture_default_str();
    cmd->add_option("--repeat", s.repeat, "Measure every cell this many times (with --ci: at least this many, and "
                                          "at least 3)")->capture_default_str();
    cmd->add_option("--ci", o->ci,
                    "Repeat every cell until the 95 % confidence interval of its J/token is within this half-width "
                    "of the mean, e.g. 2% (as hyperfine repeats until a number is known); each repeat records n "
                    "and the interval");
    cmd->add_option("--ci-max-s", s.ci_max_s, "--ci: most seconds of repeats per cell")->capture_default_str();
    cmd->add_option("--ci-max-n", s.ci_max_n, "--ci: most repeats per cell")->capture_default_str();
    cmd->add_option("--engine", o->engine_source,
                    "Engine settings: default (the engine options below) or tuned (per cell, the best setting "
                    "`joulebench tune` stored in --db for its host, model, scheme and workload; recorded in the cell)")
        ->capture_default_str();
    cmd->add_option("--db", s.db, "Result database (created if missing)")->capture_default_str();
    cmd->add_option("--cache-dir", s.cache_dir, "Quantized-file cache (default under $XDG_CACHE_HOME)");
    cmd->add_option("--kld-budget", s.kld_budget, "dynamic: mean KL divergence budget vs fp16")->capture_default_str();
    cmd->add_option("--dynamic-from", s.dynamic_from,
                    "dynamic: follow the plan measured on this model, by relative depth (default for synthetic "
                    "models: the shipped stories260K)");
    cmd->add_option("--idle-s", s.idle_s,
                    "Idle baseline measured once, before the first work (none when every cell is done)")
        ->capture_default_str();
    cmd->add_option("--idle-check-s", s.idle_check_s, "Idle re-check between cells (0: none)")->capture_default_str();
    cmd->add_option("--settle-s", s.settle_s,
                    "After a cell, wait up to this long (in --idle-check-s windows) for the power to come back within "
                    "15 % of the idle power of the start before the next cell; warn if it does not")
        ->capture_default_str();
    cmd->add_option("--interval-ms", s.interval_ms, "Power sampling period")->capture_default_str();
    cmd->add_flag("--no-retry-failed", [o](int64_t) { o->spec.retry_failed = false; },
                  "Keep failed cells as they are instead of running them again");
    cmd->add_flag("--no-progress", o->no_progress, "No live progress line on stderr");
    cmd->add_flag("--wait", s.wait_for_db,
                  "When another sweep writes --db, wait for it to finish instead of stopping with its pid and host");
    cmd->add_option("-o,--output", o->output, "Summary format: table, md, csv or json")->capture_default_str();
    add_engine_options(cmd, o->engine);
    auto slurm = add_slurm_sweep_options(cmd);  // --slurm, --cell: slurm_cli.hpp
    cmd->footer("A cell is committed in one transaction when it finishes. Killed at any moment, the same command "
                "started again skips finished cells and redoes the interrupted one. Ctrl-C stops after the current "
                "cell; a second Ctrl-C stops at once.\n"
                "One sweep writes a database at a time: a second one on the same --db stops at once naming the first "
                "(pid, host, since when), or waits with --wait. Sweeps on other databases that meter the same devices "
                "warn, and the cells that overlapped are marked shared_meter.\n"
                "Exit status: 0 when every cell ran; 3 when some cells failed (reasons in the table); 1 for an error "
                "before any measurement, 2 for bad usage, 128+N when stopped by signal N.");
    cmd->callback([o, slurm, cmd] {
        o->resolve();
        o->spec.command_line = invocation;
        if (slurm_sweep(*cmd, o->spec, *slurm)) return;
        run_sweep_command(*o);
    });
}

}  // namespace jb::cli
