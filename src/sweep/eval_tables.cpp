#include "sweep/eval_tables.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "energy/cpu_time.hpp"
#include "joulebench/error.hpp"

namespace jb::sweep {

namespace {

double nan_if_zero(double v) {
    return v > 0 ? v : NAN;
}

}  // namespace

EvalTables eval_tables(const EvalRun & run, const std::string & model, const std::string & scheme) {
    Table acc;
    acc.title = fmt::format("Accuracy — {}{}", model, scheme.empty() ? "" : " (" + scheme + ")");
    acc.add_text_column("task", "Task");
    acc.add_text_column("metric", "Metric");
    acc.add_column("value_pct", "Value (%)", 2);
    acc.add_column("stderr_pct", "± (%)", 2);
    acc.add_column("items", "Items", 0);
    acc.add_column("shots", "Shots", 0);
    Table groups = acc;
    groups.title = "Per subject and category";
    Table en;
    en.title = "Energy and speed";
    en.add_text_column("task", "Task");
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
    en.add_text_column("method", "Method");

    bool any_estimated_only = false;
    for (const auto & t : run.tasks) {
        const auto & r = t.result;
        for (const auto & metric : r.metrics) {
            std::vector<Value> row = {
                r.task, metric.name, metric.value * 100.0, metric.stderr_ * 100.0, int64_t(metric.n), int64_t(r.shots)};
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
                    measured ? Value(e.total.net_j) : Value(), joules_per_token(e.prefill, measured, c.prefill_tokens),
                    joules_per_token(e.decode, measured, c.decode_tokens), c.prefill_tokens, c.decode_tokens,
                    c.prefill_tokens > 0 ? Value(double(c.prefill_tokens) / nan_if_zero(c.prefill_s)) : Value(),
                    c.decode_tokens > 0 ? Value(double(c.decode_tokens) / nan_if_zero(c.decode_s)) : Value(),
                    c.first_token_s >= 0 ? Value(c.first_token_s) : Value(), t.wall_s, e.method});
    }
    if (any_estimated_only) {
        en.notes.push_back(
            "no energy counter or power sensor measured this run: energies are ESTIMATED "
            "(CPU TDP per CPU x this process's CPU time), not measured; see `joulebench sensors`");
    }
    if (run.load && run.load->busy()) {
        en.notes.push_back(
            fmt::format("other load during the run: {}; a CPU energy counter includes their energy and "
                        "contention slows the tasks",
                        energy::describe_load(*run.load)));
    }
    if (run.idle_load && run.idle_load->busy()) {
        en.notes.push_back(
            fmt::format("the idle baseline ran beside other load: {}; idle power and net energy are "
                        "biased",
                        energy::describe_load(*run.idle_load)));
    }
    for (const auto & u : run.unavailable) en.notes.push_back(fmt::format("not measured: {} — {}", u.what, u.reason));

    return {std::move(acc), std::move(groups), std::move(en)};
}

nlohmann::json eval_json(const EvalRun & run, const std::string & model, const EvalTables & tables) {
    nlohmann::json doc;
    doc["model"] = model;
    doc["synthetic_model"] = run.model.synthetic;
    doc["model_desc"] = run.model.desc;
    doc["accuracy"] = nlohmann::json::parse(render_table(tables.accuracy, Format::json));
    doc["groups"] = nlohmann::json::parse(render_table(tables.groups, Format::json));
    doc["energy"] = nlohmann::json::parse(render_table(tables.energy, Format::json));
    doc["load_s"] = run.load_s;
    return doc;
}

void write_eval_items(const EvalRun & run, const std::string & path) {
    std::ofstream out(path);
    if (!out) throw InputError(path, "cannot write the per-item results file");
    for (const auto & t : run.tasks) {
        for (const auto & it : t.result.items) {
            auto j = item_json(it);
            j["task"] = t.result.task;
            out << j.dump() << "\n";
        }
    }
}

}  // namespace jb::sweep
