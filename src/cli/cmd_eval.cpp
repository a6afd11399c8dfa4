// joulebench eval: accuracy on benchmark tasks, scored as lm-evaluation-harness scores them,
// with the energy each task cost beside it.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/eval.hpp"
#include "cli/engine_options.hpp"
#include "cli/metered.hpp"
#include "energy/discover.hpp"
#include "report/table.hpp"
#include "tasks/task.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace jb::cli {

std::string shipped_path(const std::string & relative) {
    std::error_code ec;
    if (std::filesystem::exists(relative, ec)) return relative;
    return std::string(JOULEBENCH_SOURCE_DIR) + "/" + relative;
}

namespace {

struct TaskRun {
    tasks::TaskResult result;
    LmCounters counters;
    double wall_s = 0.0;
    LabelEnergy energy;
};

double nan_if_zero(double v) { return v > 0 ? v : NAN; }

}  // namespace

void run_eval(EvalOptions & o) {
    if (o.model.empty()) throw UsageError("eval needs a model: -m model.gguf");
    if (o.idle_s < 0) throw UsageError(fmt::format("--idle-s must be >= 0 (got {})", o.idle_s));
    if (o.interval_ms <= 0) throw UsageError(fmt::format("--interval-ms must be > 0 (got {})", o.interval_ms));
    const Format format = parse_format(o.output);
    EngineParams params = o.engine.resolve(o.model);

    // Every task reads and checks its data before a model is loaded or a joule is spent.
    tasks::TaskOptions topt;
    topt.data_dir = o.data_dir;
    topt.limit = o.limit;
    topt.shots = o.shots;
    topt.seed = o.seed;
    topt.token_norm = o.token_norm;
    topt.gen_max_tokens = o.gen_max_tokens;
    std::vector<std::unique_ptr<tasks::Task>> task_list;
    for (const auto & name : split_list(o.tasks, "--tasks")) task_list.push_back(tasks::make_task(name, topt));

    energy::Discovery found = energy::discover_sensors();
    energy::MeterParams mp;
    mp.interval_s = o.interval_ms / 1000.0;
    energy::Meter meter(found.sensors, mp);
    if (o.idle_s > 0) {
        fmt::print(stderr, "eval: measuring idle power for {:.1f} s\n", o.idle_s);
        meter.measure_idle(o.idle_s);
    }
    MeterObserver observer(meter);
    meter.start("idle");
    fmt::print(stderr, "eval: loading {}\n", o.model);
    LlamaEngine engine(params, &observer);
    if (engine.info().synthetic) {
        fmt::print(stderr, "eval: warning: {} is a synthetic model (random weights): its accuracy is chance by "
                           "construction; only its energy and speed mean anything\n", o.model);
    }

    std::vector<TaskRun> runs;
    for (auto & task : task_list) {
        fmt::print(stderr, "eval: {} ({} items, {}-shot)\n", task->name(), task->n_items(), task->shots());
        observer.set_label(task->name());
        engine.reset_counters();
        const auto t0 = std::chrono::steady_clock::now();
        TaskRun run;
        run.result = task->run(engine);
        run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        run.counters = engine.counters();
        meter.mark(task->name() + "/idle");
        runs.push_back(std::move(run));
    }
    observer.set_label("");
    energy::Measurement m = meter.stop();
    for (auto & run : runs) run.energy = label_energy(m, run.result.task);

    Table acc;
    acc.title = fmt::format("Accuracy — {}", o.model);
    acc.add_column("task", "Task");
    acc.add_column("metric", "Metric");
    acc.add_column("value_pct", "Value (%)", 2);
    acc.add_column("stderr_pct", "± (%)", 2);
    acc.add_column("n", "n", 0);
    acc.add_column("shots", "Shots", 0);
    acc.columns[0].right_align = acc.columns[1].right_align = false;
    Table groups = acc;
    groups.title = "Per subject and category";
    Table en;
    en.title = "Energy and speed";
    en.add_column("task", "Task");
    en.columns[0].right_align = false;
    en.add_column("energy_j", "Energy (J)", 2);
    en.add_column("net_energy_j", "Net (J)", 2);
    en.add_column("prefill_j_per_token", "Prefill J/tok", 5);
    en.add_column("decode_j_per_token", "Decode J/tok", 5);
    en.add_column("prefill_tokens", "Prefill tok", 0);
    en.add_column("decode_tokens", "Decode tok", 0);
    en.add_column("prefill_tokens_per_s", "Prefill tok/s", 1);
    en.add_column("decode_tokens_per_s", "Decode tok/s", 1);
    en.add_column("ttft_s", "TTFT (s)", 3);
    en.add_column("wall_s", "Time (s)", 2);
    en.add_column("method", "Method");
    en.columns.back().right_align = false;

    bool any_estimated_only = false;
    for (const auto & run : runs) {
        const auto & r = run.result;
        for (const auto & metric : r.metrics) {
            std::vector<Value> row = {r.task, metric.name, metric.value * 100.0, metric.stderr_ * 100.0,
                                      int64_t(metric.n), int64_t(r.shots)};
            if (metric.group.empty()) {
                acc.add_row(row);
            } else {
                row[0] = fmt::format("{}/{}", r.task, metric.group);
                groups.add_row(row);
            }
        }
        const auto & e = run.energy;
        const bool measured = e.measured;
        any_estimated_only = any_estimated_only || !measured;
        const auto & c = run.counters;
        en.add_row({r.task, measured ? Value(e.total.energy_j) : Value(e.total.estimated_j),
                    measured ? Value(e.total.net_j) : Value(),
                    joules_per_token(e.prefill, measured, c.prefill_tokens),
                    joules_per_token(e.decode, measured, c.decode_tokens), c.prefill_tokens, c.decode_tokens,
                    c.prefill_tokens > 0 ? Value(double(c.prefill_tokens) / nan_if_zero(c.prefill_s)) : Value(),
                    c.decode_tokens > 0 ? Value(double(c.decode_tokens) / nan_if_zero(c.decode_s)) : Value(),
                    c.first_token_s >= 0 ? Value(c.first_token_s) : Value(), run.wall_s, e.method});
    }
    if (any_estimated_only) {
        en.notes.push_back("no energy counter or power sensor measured this run: energies are ESTIMATED "
                           "(CPU TDP x utilisation), not measured; see `joulebench sensors`");
    }
    for (const auto & u : found.unavailable) en.notes.push_back(fmt::format("not measured: {} — {}", u.what, u.reason));

    if (!o.save_items.empty()) {
        std::ofstream out(o.save_items);
        if (!out) throw InputError(o.save_items, "cannot write the per-item results file");
        for (const auto & run : runs) {
            for (const auto & it : run.result.items) {
                auto j = item_json(it);
                j["task"] = run.result.task;
                out << j.dump() << "\n";
            }
        }
    }

    if (format == Format::json) {
        nlohmann::json doc;
        doc["model"] = o.model;
        doc["synthetic_model"] = engine.info().synthetic;
        doc["model_desc"] = engine.info().desc;
        doc["accuracy"] = nlohmann::json::parse(render_table(acc, Format::json));
        doc["groups"] = nlohmann::json::parse(render_table(groups, Format::json));
        doc["energy"] = nlohmann::json::parse(render_table(en, Format::json));
        doc["load_s"] = label_energy(m, "load").load.seconds;
        std::cout << doc.dump(2) << "\n";
        return;
    }
    print_table(std::cout, acc, format);
    if (o.groups && !groups.rows.empty()) {
        std::cout << "\n";
        print_table(std::cout, groups, format);
    }
    std::cout << "\n";
    print_table(std::cout, en, format);
}

void add_eval_command(CLI::App & app) {
    auto o = std::make_shared<EvalOptions>();
    auto * cmd = app.add_subcommand("eval", "Accuracy on benchmark tasks (lm-evaluation-harness scoring) with the energy "
                                            "each task cost");
    cmd->add_option("-m,--model", o->model, "GGUF model file")->required();
    cmd->add_option("--tasks", o->tasks,
                    "Comma-separated tasks: mmlu, hellaswag, arc_challenge, arc_easy, truthfulqa, gsm8k, "
                    "custom:<file.jsonl>")
        ->capture_default_str();
    cmd->add_option("--data-dir", o->data_dir, "Task data in the datasets' original layout (docs/tasks.md)")
        ->capture_default_str();
    cmd->add_option("--limit", o->limit, "Evaluate a seeded sample of N items per task (MMLU: balanced over subjects)");
    cmd->add_option("--shots", o->shots, "Few-shot examples (default: each task's own, DESIGN.md)");
    cmd->add_option("--seed", o->seed, "Seed for --limit samples and few-shot draws")->capture_default_str();
    cmd->add_flag("--token-norm", o->token_norm,
                  "Also score HellaSwag by mean log-prob per token, as llama-perplexity --hellaswag does");
    cmd->add_option("--max-tokens", o->gen_max_tokens, "Generation tasks: most tokens per answer")->capture_default_str();
    cmd->add_option("--idle-s", o->idle_s, "Seconds of idle power measured before the run (0: no net energy)")
        ->capture_default_str();
    cmd->add_option("--interval-ms", o->interval_ms, "Power sampling period")->capture_default_str();
    cmd->add_option("-o,--output", o->output, "Output: table, md, csv or json")->capture_default_str();
    cmd->add_option("--save-items", o->save_items, "Write every per-item result to this JSONL file");
    cmd->add_flag("--groups", o->groups, "Also print per-subject and per-category scores (MMLU)");
    add_engine_options(cmd, o->engine);
    cmd->callback([o] { run_eval(*o); });
}

}  // namespace jb::cli
