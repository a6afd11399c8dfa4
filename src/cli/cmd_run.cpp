// joulebench run: the default job on a fresh machine. For now: what this machine can meter,
// then the shipped model on a sample of every shipped task with its energy. (The sweep over
// schemes, the report and the recommendation join it as they land.)

#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/eval.hpp"

namespace jb::cli {

namespace {

struct RunOptions {
    EvalOptions eval;
};

}  // namespace

void add_run_command(CLI::App & app) {
    auto o = std::make_shared<RunOptions>();
    o->eval.model = shipped_path("models/stories260K.gguf");
    o->eval.limit = 12;
    o->eval.gen_max_tokens = 96;
    o->eval.idle_s = 2.0;
    auto * cmd = app.add_subcommand("run", "The default job: the shipped model on samples of every task, energy metered");
    cmd->add_option("-m,--model", o->eval.model, "GGUF model")->capture_default_str();
    cmd->add_option("--data-dir", o->eval.data_dir, "Task data")->capture_default_str();
    cmd->add_option("--limit", o->eval.limit, "Items per task")->capture_default_str();
    cmd->add_option("-t,--threads", o->eval.engine.params.n_threads, "CPU threads (0 = all)");
    cmd->add_option("-o,--output", o->eval.output, "Output: table, md, csv or json")->capture_default_str();
    cmd->callback([o] {
        fmt::print(stderr, "run: {} on {} items of each task in {}\n", o->eval.model, o->eval.limit, o->eval.data_dir);
        run_eval(o->eval);
    });
}

}  // namespace jb::cli
