// jb::Results (joulebench/results.hpp): a results database read back through the same calls as
// `joulebench report` and `recommend`.

#include "joulebench/results.hpp"

#include "results/report_input.hpp"

#include <algorithm>

#include "joulebench/store.hpp"
#include "report/report.hpp"
#include "results/store_rows.hpp"

namespace jb {

namespace {

metrics::Options metric_options(const ResultsOptions & o) {
    metrics::Options m;
    m.reference = o.reference;
    m.grid_g_per_kwh = o.grid_g_per_kwh;
    m.usd_per_kwh = o.usd_per_kwh;
    return m;
}

}  // namespace

Results Results::open(const std::string & db, const ResultsOptions & options) {
    const Store store = Store::open_readonly(db);
    Results r;
    r.db_ = db;
    r.options_ = options;
    r.rows_ = results::load_rows(store, /*items=*/true);
    r.summaries_ = metrics::summarize(r.rows_, metric_options(options));
    return r;
}

std::vector<metrics::Candidate> Results::candidates() const {
    return metrics::candidates(summaries_, options_.reference);
}

std::vector<metrics::Recommendation> Results::recommend(const std::string & profile) const {
    return recommend(metrics::find_profile(profile));
}

std::vector<metrics::Recommendation> Results::recommend(const metrics::Profile & profile) const {
    // One model's candidates at a time (hosts compete within it), in order of appearance.
    const std::vector<metrics::Candidate> all = candidates();
    std::vector<std::string> models;
    for (const auto & c : all) {
        if (std::find(models.begin(), models.end(), c.model) == models.end()) models.push_back(c.model);
    }
    std::vector<metrics::Recommendation> out;
    for (const auto & m : models) {
        std::vector<metrics::Candidate> of_model;
        std::copy_if(all.begin(), all.end(), std::back_inserter(of_model),
                     [&](const metrics::Candidate & c) { return c.model == m; });
        out.push_back(metrics::recommend(of_model, profile));
    }
    return out;
}

Table Results::eor_table() const {
    report::ReportInput in;
    in.rows = rows_;
    in.options = metric_options(options_);
    const report::Analysis a = report::analyze(in);
    return report::summary_table(a.summaries, a.scheme_order);
}

std::string Results::report(const std::string & format, const std::vector<std::string> & tables) const {
    results::ReportRequest r;
    r.reference = options_.reference;
    r.grid_g_per_kwh = options_.grid_g_per_kwh;
    r.cost.usd_per_kwh = options_.usd_per_kwh;
    return results::render_report(db_, r, format, tables);
}

}  // namespace jb
