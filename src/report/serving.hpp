#pragma once
// The report's serving tables and HTML section (internal to src/report): served load levels
// (joulebench/serve_record.hpp) as J/request against throughput per scheme, latency percentiles,
// and the energy-optimal operating point per scheme under an SLO (joulebench/serving.hpp).

#include <string>
#include <vector>

#include "joulebench/serve_record.hpp"
#include "joulebench/serving.hpp"
#include "joulebench/table.hpp"
#include "report/report.hpp"

namespace jb::report {

// The SLO a report judges levels by: ReportInput::slo, else the serving profile's default.
metrics::Slo report_slo(const ReportInput & in);

// Per level: requests (sent, completed, failed, timed out), throughput, J/request, J/output token
// and Wh per 1,000 requests over the steady-state window and over the whole level.
Table serve_levels_table(const std::vector<ServeLevelRecord> & levels);
// Per level: TTFT, TPOT and ITL p50/p90/p99, E2E, the SLO verdict.
Table serve_latency_table(const std::vector<ServeLevelRecord> & levels, const metrics::Slo & slo);
// Per scheme: its operating point (the lowest J/request meeting the SLO) and the scheme to choose.
Table serve_frontier_table(const std::vector<ServeLevelRecord> & levels, const metrics::Slo & slo);

// "serving", "serving_latency", "serving_frontier" (empty tables without serve levels).
std::vector<NamedTable> serving_tables(const ReportInput & in);

// The HTML "Serving" section (its own <section id="serving">), or a note without serve levels.
std::string serving_html_section(const ReportInput & in);

}  // namespace jb::report
