#include "results/serving_recommend.hpp"

#include <fmt/format.h>

#include <cmath>

#include "results/store_rows.hpp"
#include "joulebench/error.hpp"
#include "joulebench/serving.hpp"
#include "joulebench/store.hpp"
#include "joulebench/table.hpp"
#include "report/report_util.hpp"
#include "report/serving.hpp"

namespace jb::results {

namespace {

using report::real;

Table traffic_table(const metrics::TrafficRecommendation & rec) {
    Table t;
    t.title = fmt::format("Serving recommendation for traffic {} (profile serving)", rec.traffic.str());
    t.add_text_column("model_name", "model");
    t.add_text_column("host_name", "host");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("source", "source");
    t.add_column("j_per_request", "J/request", 4);
    t.add_column("j_per_request_ci95", "± 95 %", 4);
    t.add_column("wh_per_1000_requests", "Wh/1k req", 4);
    t.add_column("j_per_output_token", "J/out token", 5);
    t.add_column("requests_per_s", "req/s", 3);
    t.add_column("ttft_p99_ms", "TTFT p99 (ms)", 1);
    t.add_column("tpot_p99_ms", "TPOT p99 (ms)", 1);
    t.add_column("retention_pct", "retention (%)", 2);
    t.add_text_column("meets_slo", "meets SLO");
    t.add_text_column("choice", "choice");
    t.add_text_column("basis", "basis");
    for (const auto & a : rec.answers) {
        t.add_row({a.model_name, a.host_name, a.scheme, std::string(a.served ? "served" : "offline"),
                   real(a.j_per_request), real(a.j_per_request_ci95), real(a.wh_per_1000_requests),
                   real(a.j_per_output_token),
                   real(a.requests_per_s), real(a.ttft_p99_ms), real(a.tpot_p99_ms),
                   std::isfinite(a.retention) ? Value(a.retention * 100.0) : Value(),
                   std::string(!a.served ? "n/a" : a.violation.empty() ? "yes" : "no: " + a.violation),
                   std::string(a.best ? "choose" : ""), a.basis});
    }
    t.notes.push_back(rec.why);
    for (const auto & n : rec.notes) t.notes.push_back(n);
    t.notes.push_back("profile serving: " + metrics::serving_profile().description);
    return t;
}

}  // namespace

std::optional<Table> serving_recommendation(const Store & store, const std::string & db_name, const std::string & traffic_text,
                                            const RecommendRequest & request) {
    if (traffic_text.empty() && request.profile != "serving") return std::nullopt;
    const std::vector<ServeLevelRecord> levels = reported_serve_levels(store);
    if (traffic_text.empty()) {
        // The serving profile without a traffic: each scheme's operating point under the default SLO.
        if (levels.empty()) {
            throw Error(fmt::format("{}: no served levels: run `joulebench serve ... --db {}`, or describe the "
                                    "traffic with --traffic prompt=512,output=256,concurrency=8",
                                    db_name, db_name));
        }
        return report::serve_frontier_table(levels, metrics::default_slo());
    }
    const metrics::Traffic traffic = metrics::parse_traffic(traffic_text);
    metrics::Options mo;
    mo.reference = request.reference;
    const std::vector<metrics::Row> rows = load_rows(store);
    const std::vector<metrics::Summary> summaries = metrics::summarize(rows, mo);
    const std::vector<metrics::Candidate> cands = metrics::candidates(summaries, request.reference);
    const metrics::TrafficRecommendation rec = metrics::recommend_traffic(levels, summaries, cands, traffic);
    if (rec.answers.empty()) throw Error(fmt::format("{}: {}", db_name, rec.why));
    return traffic_table(rec);
}

}  // namespace jb::results
