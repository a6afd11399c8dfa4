// joulebench eval: accuracy on benchmark tasks, scored as lm-evaluation-harness scores them,
// with the energy each task cost beside it.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "energy/cpu_time.hpp"
#include "cli/eval.hpp"
#include "cli/engine_options.hpp"
#include "sweep/evaluate.hpp"
#include "joulebench/table.hpp"
#include "tasks/task.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::cli {

namespace {

double nan_if_zero(double v) { return v > 0 ? v : NAN; }

}  // namespace

void run_eval(EvalOptions & o) {
    const Format format = parse_format(o.output);
    sweep::EvalSpec spec;
    spec.model = o.model;
    spec.scheme = o.scheme;
    spec.cache_dir = o.cache_dir;
    spec.tasks = split_list(o.tasks, "--tasks");
    spec.task.data_dir = o.data_dir;
    spec.task.limit = o.limit;
    spec.task.shots = o.shots;
    spec.task.seed = o.seed;
    spec.task.token_norm = o.token_norm;
    spec.task.gen_max_tokens = o.gen_max_tokens;
    spec.idle_s = o.idle_s;
    spec.interval_ms = o.interval_ms;
    spec.engine = o.engine.resolve(o.model);
    const sweep::EvalRun run = sweep::evaluate(spec, [](const std::string & text) {
        fmt::print(stderr, "eval: {}\n", text);
    });

    Table acc;
    acc.title = fmt::format("Accuracy — {}{}", o.model, o.scheme.empty() ? "" : " (" + o.scheme + ")");
    acc.add_column("task", "Task");
    acc.add_column("metric", "Metric");
    acc.add_column("value_pct", "Value (%)", 2);
    acc.add_column("stderr_pct", "± (%)", 2);
    acc.add_column("items", "Items", 0);
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
    for (const auto & t : run.tasks) {
        const auto & r = t.result;
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
        const auto & e = t.energy;
        const bool measured = e.measured;
        any_estimated_only = any_estimated_only || !measured;
        const auto & c = t.counters;
        en.add_row({r.task, measured ? Value(e.total.energy_j) : Value(e.total.estimated_j),
                    measured ? Value(e.total.net_j) : Value(),
                    joules_per_token(e.prefill, measured, c.prefill_tokens),
                    joules_per_token(e.decode, measured, c.decode_tokens), c.prefill_tokens, c.decode_tokens,
                    c.prefill_tokens > 0 ? Value(double(c.prefill_tokens) / nan_if_zero(c.prefill_s)) : Value(),
                    c.decode_tokens > 0 ? Value(double(c.decode_tokens) / nan_if_zero(c.decode_s)) : Value(),
                    c.first_token_s >= 0 ? Value(c.first_token_s) : Value(), t.wall_s, e.method});
    }
    if (any_estimated_only) {
        en.notes.push_back("no energy counter or power sensor measured this run: energies are ESTIMATED "
                           "(CPU TDP per CPU x this process's CPU time), not measured; see `joulebench sensors`");
    }
    if (run.load && run.load->busy()) {
        en.notes.push_back(fmt::format("other load during the run: {}; a CPU energy counter includes their energy and "
                                       "contention slows the tasks",
                                       energy::describe_load(*run.load)));
    }
    if (run.idle_load && run.idle_load->busy()) {
        en.notes.push_back(fmt::format("the idle baseline ran beside other load: {}; idle power and net energy are "
                                       "biased",
                                       energy::describe_load(*run.idle_load)));
    }
    for (const auto & u : run.unavailable) en.notes.push_back(fmt::format("not measured: {} — {}", u.what, u.reason));

    if (!o.save_items.empty()) {
        std::ofstream out(o.save_items);
        if (!out) throw InputError(o.save_items, "cannot write the per-item results file");
        for (const auto & t : run.tasks) {
            for (const auto & it : t.result.items) {
                auto j = sweep::item_json(it);
                j["task"] = t.result.task;
                out << j.dump() << "\n";
            }
        }
    }

    if (format == Format::json) {
        nlohmann::json doc;
        doc["model"] = o.model;
        doc["synthetic_model"] = run.model.synthetic;
        doc["model_desc"] = run.model.desc;
        doc["accuracy"] = nlohmann::json::parse(render_table(acc, Format::json));
        doc["groups"] = nlohmann::json::parse(render_table(groups, Format::json));
        doc["energy"] = nlohmann::json::parse(render_table(en, Format::json));
        doc["load_s"] = run.load_s;
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
    cmd->add_option("--scheme", o->scheme,
                    "Evaluate the model under this scheme (int8, q4_k_m, dynamic, ...: quantized once into the cache; "
                    "default: the file as it is)");
    cmd->add_option("--cache-dir", o->cache_dir, "Quantized-file cache (default under $XDG_CACHE_HOME)");
    cmd->add_option("--tasks", o->tasks,
                    "Comma-separated tasks: mmlu, hellaswag, arc_challenge, arc_easy, truthfulqa, gsm8k, "
                    "custom:<file.jsonl>")
        ->capture_default_str();
    cmd->add_option("--data-dir", o->data_dir, "Task data in the datasets' original layout (docs/tasks.md)")
        ->capture_default_str();
    cmd->add_option("--limit", o->limit, "Evaluate a seeded sample of N items per task (MMLU: balanced over subjects)");
    cmd->add_option("--shots", o->shots, "Few-shot examples (default: each task's own, docs/design.md)");
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
