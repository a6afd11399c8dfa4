#pragma once
// A results database read into the report's input (report/report.hpp): the metric rows with their
// items, prices, families, serve levels, provenance, failed cells and the power timeline to plot.
// `joulebench report` renders it; a program can too.

#include <cstdint>
#include <string>
#include <vector>

#include "joulebench/metrics.hpp"
#include "joulebench/table.hpp"
#include "report/report.hpp"
#include "results/cost_model.hpp"

namespace jb {
class Store;
}

namespace jb::results {

struct ReportRequest {
    std::string title = "joulebench report";
    std::string reference = "fp16";
    CostParams cost;
    double grid_g_per_kwh = metrics::kWorldGridGPerKwh;
    std::string slo;             // serving operating points' latency targets ("": the profile's default)
    bool with_timeline = false;  // pick a power timeline to plot (HTML)
    int64_t timeline_cell = 0;   // that cell's (0: the longest reference or int8 cell with one)
};

// Throws jb::Error when the store holds nothing to report, jb::UsageError for a bad request
// (cost parameters, grid intensity, a --timeline-cell the store lacks).
report::ReportInput report_input(const Store & store, const ReportRequest & request);

// The report of the database at `db` as text: "html" (one self-contained page), or the tables
// (`tables`; empty: all) as md, csv, json or table.
std::string render_report(const std::string & db, const ReportRequest & request, const std::string & format,
                          const std::vector<std::string> & tables = {});

}  // namespace jb::results
