// The table a sweep prints at its end: every cell of the store, one row each.

#include <cmath>

#include "report/report.hpp"

namespace jb::report {

Table sweep_cells_table(const std::vector<CellRecord> & cells) {
    bool any_failed = false;
    for (const auto & c : cells) any_failed = any_failed || !c.ok();
    Table t;
    t.title = "Sweep results";
    for (auto [name, header] : {std::pair{"model", "model"}, {"scheme", "scheme"}, {"task", "task"},
                                {"repeat", "repeat"}, {"status", "status"}, {"metric", "metric"}}) {
        t.add_column(name, header);
        t.columns.back().right_align = false;
    }
    t.add_column("score_pct", "score (%)", 2);
    t.add_column("score_stderr_pct", "± (%)", 2);
    t.add_column("energy_j", "energy (J)", 2);
    t.add_column("prefill_j_per_token", "prefill J/tok", 5);
    t.add_column("decode_j_per_token", "decode J/tok", 5);
    t.add_column("time_s", "time (s)", 2);
    t.add_column("energy_origin", "energy");
    t.columns.back().right_align = false;
    if (any_failed) {
        t.add_column("error", "error");
        t.columns.back().right_align = false;
    }
    bool any_estimated = false;
    for (const auto & c : cells) {
        auto pct = [](double v) { return std::isfinite(v) ? Value(v * 100.0) : Value(); };
        auto per = [](double j, int64_t n) { return std::isfinite(j) && n > 0 ? Value(j / double(n)) : Value(); };
        any_estimated = any_estimated || (c.ok() && c.energy_estimated);
        std::vector<Value> row = {c.model_name, c.scheme_name.empty() ? c.scheme_canonical : c.scheme_name, c.task,
                                  int64_t(c.repeat_idx + 1), c.status, c.primary_metric, pct(c.score),
                                  pct(c.score_stderr), std::isfinite(c.energy_j) ? Value(c.energy_j) : Value(),
                                  per(c.prefill_energy_j, c.prefill_tokens), per(c.decode_energy_j, c.decode_tokens),
                                  std::isfinite(c.wall_t_s) ? Value(c.wall_t_s) : Value(),
                                  std::string(!c.ok() ? "" : c.energy_estimated ? "estimated" : "measured")};
        if (any_failed) row.push_back(c.error);
        t.add_row(std::move(row));
    }
    if (any_estimated) {
        t.notes.push_back("estimated: no counter or power sensor measured that cell; its energy is a model (CPU TDP per "
                          "CPU x joulebench's CPU time), see `joulebench sensors`");
    }
    return t;
}

}  // namespace jb::report
