#pragma once
// What `joulebench eval` prints of an evaluation (sweep::evaluate): the accuracy per task and metric,
// per subject and category (MMLU), and the energy and speed per task, as tables for every printer;
// the JSON document of -o json; the per-item results as JSON lines.

#include <nlohmann/json.hpp>
#include <string>

#include "joulebench/table.hpp"
#include "sweep/evaluate.hpp"

namespace jb::sweep {

struct EvalTables {
    Table accuracy;  // task, metric, value and standard error in %, items, shots
    Table groups;    // the same per subject and category ("mmlu/stem")
    Table
        energy;  // energy, net energy, J/token and tok/s per phase, TTFT, time, method; notes on what was not measured
};

// `scheme`: "" for the model file as it is.
EvalTables eval_tables(const EvalRun & run, const std::string & model, const std::string & scheme);

// {"model", "synthetic_model", "model_desc", "accuracy", "groups", "energy" (the tables as JSON), "load_s"}.
nlohmann::json eval_json(const EvalRun & run, const std::string & model, const EvalTables & tables);

// Every item's result (sweep::item_json plus "task") as one JSON line each; throws InputError when
// `path` cannot be written.
void write_eval_items(const EvalRun & run, const std::string & path);

}  // namespace jb::sweep
