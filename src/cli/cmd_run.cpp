// joulebench run: the default job on a fresh machine. The shipped model (stories260K) on
// samples of every shipped task under fp16, int8, dynamic and q4_k_m, metered with the best
// sensors found (estimated where nothing measures, and said so), into
// joulebench-results/results.db; then report.html and the decision table.

#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/report_run.hpp"
#include "cli/sweep.hpp"

namespace jb::cli {

namespace {

struct RunOptions {
    SweepOptions sweep;
    std::string out_dir = "joulebench-results";
};

void run_default_job(RunOptions & o) {
    namespace fs = std::filesystem;
    fs::create_directories(o.out_dir);
    auto & spec = o.sweep.spec;
    spec.db = (fs::path(o.out_dir) / "results.db").string();
    spec.command_line = invocation;
    o.sweep.resolve();
    fmt::print(stderr, "run: {} x {{{}}} on {} items of each task in {}\n", o.sweep.models, o.sweep.schemes,
               spec.task.limit, spec.task.data_dir);
    run_sweep_command(o.sweep);
    if (exit_status != 0 && exit_status != kExitCellsFailed) return;  // stopped: what was done is kept

    ReportParams report;
    report.db = spec.db;
    report.output = (fs::path(o.out_dir) / "report.html").string();
    run_report(report);

    RecommendParams rec;
    rec.db = spec.db;
    fmt::print("\n");
    run_recommend(rec);
    fmt::print("\nReport: {}\nResults: {} (joulebench report / recommend / merge read it)\n",
               fs::absolute(report.output).string(), fs::absolute(spec.db).string());
}

}  // namespace

void add_run_command(CLI::App & app) {
    auto o = std::make_shared<RunOptions>();
    auto & s = o->sweep;
    s.models = shipped_path("models/stories260K.gguf");
    s.schemes = "fp16,int8,dynamic,q4_k_m";
    s.spec.task.limit = 10;
    s.spec.task.gen_max_tokens = 64;
    s.spec.idle_s = 2.0;
    s.spec.idle_check_s = 0.0;
    auto * cmd = app.add_subcommand(
        "run", "The default job: the shipped model on samples of every task under fp16, int8, dynamic and q4_k_m, "
               "energy metered, then report.html and the decision table");
    cmd->add_option("-m,--models", s.models, "GGUF model(s)")->capture_default_str();
    cmd->add_option("--schemes", s.schemes, "Schemes")->capture_default_str();
    cmd->add_option("--tasks", s.tasks, "Tasks")->capture_default_str();
    cmd->add_option("--data-dir", s.spec.task.data_dir, "Task data")->capture_default_str();
    cmd->add_option("--limit", s.spec.task.limit, "Items per task")->capture_default_str();
    cmd->add_option("--out-dir", o->out_dir, "Where results.db and report.html go")->capture_default_str();
    cmd->add_option("-t,--threads", s.engine.params.n_threads, "CPU threads (0 = all)");
    cmd->add_option("--ngl,--n-gpu-layers", s.engine.params.n_gpu_layers, "Layers offloaded to the GPU (CUDA builds)")
        ->capture_default_str();
    cmd->add_flag("--no-progress", s.no_progress, "No live progress line on stderr");
    cmd->footer("Run it again and finished cells are kept: only what is missing is measured.");
    cmd->callback([o] { run_default_job(*o); });
}

}  // namespace jb::cli
