#pragma once
// A results database read back as the product's answers: the cells as metric rows, their
// summaries over repeats (score, energy, EOR, TWEOR, J/token by phase, ratios to the reference),
// the candidates per model and hardware, and the recommendation for a profile. `joulebench report`
// and `joulebench recommend` read through the same calls.
//
//   jb::Results results = jb::Results::open("joulebench-results/results.db");
//   jb::print_table(std::cout, results.eor_table(), jb::Format::md);
//   for (const auto & r : results.recommend("budget")) std::cout << r.why << "\n";

#include <string>
#include <vector>

#include "joulebench/metrics.hpp"
#include "joulebench/table.hpp"

namespace jb {

struct ResultsOptions {
    std::string reference = "fp16";                             // the scheme every ratio is against
    double grid_g_per_kwh = metrics::kWorldGridGPerKwh;        // CO2 intensity for gCO2e
    double usd_per_kwh = 0.0;                                   // 0: no energy cost
};

class Results {
public:
    // Opens the database read-only (it is never written). Throws jb::InputError naming the file
    // when it is missing or not a joulebench database.
    static Results open(const std::string & db, const ResultsOptions & options = {});

    const std::string & db() const { return db_; }
    const ResultsOptions & options() const { return options_; }
    // Every cell, failed ones too (ok = false: they enter no metric).
    const std::vector<metrics::Row> & rows() const { return rows_; }
    // One per (host, model, scheme, task, workload), over its repeats.
    const std::vector<metrics::Summary> & summaries() const { return summaries_; }
    // Per (host, model, scheme): the workload compared with the reference.
    std::vector<metrics::Candidate> candidates() const;
    // The recommendation per (host, model) for a built-in profile (datacenter, enterprise,
    // research, edge, budget, ...); throws jb::UsageError for an unknown one.
    std::vector<metrics::Recommendation> recommend(const std::string & profile) const;
    std::vector<metrics::Recommendation> recommend(const metrics::Profile & profile) const;
    // The summary table the report prints (score, energy, EOR, TWEOR, ratios to the reference).
    Table eor_table() const;
    // The whole report, as `joulebench report` writes it: "html" (one self-contained page with
    // charts) or the tables (`tables`, e.g. {"summary", "decision"}; empty: all) as "md", "csv",
    // "json" or "table". Throws jb::UsageError for an unknown format or table.
    std::string report(const std::string & format, const std::vector<std::string> & tables = {}) const;

private:
    std::string db_;
    ResultsOptions options_;
    std::vector<metrics::Row> rows_;
    std::vector<metrics::Summary> summaries_;
};

}  // namespace jb
