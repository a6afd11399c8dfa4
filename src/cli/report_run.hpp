#pragma once
// The report and recommend commands' options and bodies, also used by `joulebench run`.

#include <optional>
#include <string>
#include <vector>

#include "cli/cost_model.hpp"
#include "joulebench/metrics.hpp"

namespace jb::cli {

inline constexpr const char * kDefaultDb = "joulebench-results/results.db";
inline constexpr const char * kDefaultHtml = "joulebench-results/report.html";

struct ReportParams {
    std::string db = kDefaultDb;
    std::string output;  // a format name, a file, or "-" (stdout)
    std::string format;  // html, md, csv, json, table; "" = from --output, else html
    std::vector<std::string> tables;
    int64_t timeline_cell = 0;
    std::string reference = "fp16";
    CostParams cost;  // --usd-per-kwh, --gpu-price-usd, --lifetime-years, --utilisation
    double grid_g_per_kwh = metrics::kWorldGridGPerKwh;
    std::string title = "joulebench report";
    std::string slo;  // serving operating points' latency targets ("": the serving profile's default)
};

void run_report(const ReportParams & p);

struct RecommendParams {
    std::string db;
    std::string profile = "all";
    std::string reference = "fp16";
    std::optional<double> min_retention;
    std::optional<double> max_memory_gib;
    std::optional<double> max_latency_s;
    std::optional<double> max_ttft_s;
    std::optional<double> max_j_per_token;
    double grid_g_per_kwh = metrics::kWorldGridGPerKwh;
    CostParams cost;  // --usd-per-kwh, --gpu-price-usd, --lifetime-years, --utilisation
    std::string output = "table";
    bool list_candidates = false;
    bool list_families = false;  // --families: the distilled vs base table instead
    std::string traffic;         // --traffic prompt=512,output=256,concurrency=8 (cli/serving_recommend.hpp)
};

void run_recommend(const RecommendParams & o);

}  // namespace jb::cli
