// joulebench eval: accuracy on benchmark tasks, scored as lm-evaluation-harness scores them,
// with the energy each task cost beside it.

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/engine_options.hpp"
#include "sweep/eval_tables.hpp"
#include "sweep/evaluate.hpp"
#include "util/paths.hpp"
#include "util/strings.hpp"

namespace jb::cli {

namespace {

struct EvalOptions {
    sweep::EvalSpec spec;  // filled by the options directly, but for the lists and the engine
    std::string tasks = "mmlu,hellaswag,arc_challenge,arc_easy,truthfulqa,gsm8k";
    EngineOptions engine;
    std::string output = "table";
    std::string save_items;
    bool groups = false;

    EvalOptions() { spec.task.data_dir = shipped_path("data/samples"); }
};

void run_eval(EvalOptions & o) {
    const Format format = parse_format(o.output);
    o.spec.tasks = split_list(o.tasks, "--tasks");
    o.spec.engine = o.engine.resolve(o.spec.model);
    const sweep::EvalRun run = sweep::evaluate(o.spec, [](const std::string & text) {
        fmt::print(stderr, "eval: {}\n", text);
    });
    const sweep::EvalTables tables = sweep::eval_tables(run, o.spec.model, o.spec.scheme);
    if (!o.save_items.empty()) sweep::write_eval_items(run, o.save_items);
    if (format == Format::json) {
        std::cout << sweep::eval_json(run, o.spec.model, tables).dump(2) << "\n";
        return;
    }
    print_table(std::cout, tables.accuracy, format);
    if (o.groups && !tables.groups.rows.empty()) {
        std::cout << "\n";
        print_table(std::cout, tables.groups, format);
    }
    std::cout << "\n";
    print_table(std::cout, tables.energy, format);
}

}  // namespace

void add_eval_command(CLI::App & app) {
    auto o = std::make_shared<EvalOptions>();
    auto & s = o->spec;
    auto * cmd = app.add_subcommand("eval", "Accuracy on benchmark tasks (lm-evaluation-harness scoring) with the energy "
                                            "each task cost");
    cmd->add_option("-m,--model", s.model, "GGUF model file")->required();
    cmd->add_option("--scheme", s.scheme,
                    "Evaluate the model under this scheme (int8, q4_k_m, dynamic, ...: quantized once into the cache; "
                    "default: the file as it is)");
    cmd->add_option("--cache-dir", s.cache_dir, "Quantized-file cache (default under $XDG_CACHE_HOME)");
    cmd->add_option("--tasks", o->tasks,
                    "Comma-separated tasks: mmlu, hellaswag, arc_challenge, arc_easy, truthfulqa, gsm8k, "
                    "custom:<file.jsonl>")
        ->capture_default_str();
    cmd->add_option("--data-dir", s.task.data_dir, "Task data in the datasets' original layout (docs/tasks.md)")
        ->capture_default_str();
    cmd->add_option("--limit", s.task.limit, "Evaluate a seeded sample of N items per task (MMLU: balanced over subjects)");
    cmd->add_option("--shots", s.task.shots, "Few-shot examples (default: each task's own, docs/design.md)");
    cmd->add_option("--seed", s.task.seed, "Seed for --limit samples and few-shot draws")->capture_default_str();
    cmd->add_flag("--token-norm", s.task.token_norm,
                  "Also score HellaSwag by mean log-prob per token, as llama-perplexity --hellaswag does");
    cmd->add_option("--max-tokens", s.task.gen_max_tokens, "Generation tasks: most tokens per answer")->capture_default_str();
    cmd->add_option("--idle-s", s.idle_s, "Seconds of idle power measured before the run (0: no net energy)")
        ->capture_default_str();
    cmd->add_option("--interval-ms", s.interval_ms, "Power sampling period")->capture_default_str();
    cmd->add_option("-o,--output", o->output, "Output: table, md, csv or json")->capture_default_str();
    cmd->add_option("--save-items", o->save_items, "Write every per-item result to this JSONL file");
    cmd->add_flag("--groups", o->groups, "Also print per-subject and per-category scores (MMLU)");
    add_engine_options(cmd, o->engine);
    cmd->callback([o] { run_eval(*o); });
}

}  // namespace jb::cli
