#pragma once
// The report and recommend commands' options and bodies, also used by `joulebench run`.

#include <string>
#include <vector>

#include "results/cost_model.hpp"
#include "results/recommend.hpp"
#include "results/report_input.hpp"

namespace CLI {
class App;
}

namespace jb::cli {

inline constexpr const char * kDefaultDb = "joulebench-results/results.db";
inline constexpr const char * kDefaultHtml = "joulebench-results/report.html";

struct ReportParams {
    std::string db = kDefaultDb;
    std::string output;  // a format name, a file, or "-" (stdout)
    std::string format;  // html, md, csv, json, table; "" = from --output, else html
    std::vector<std::string> tables;
    results::ReportRequest request;  // title, reference, cost, grid intensity, SLO, timeline cell
};

void run_report(const ReportParams & p);

struct RecommendParams {
    std::string db;
    std::string output = "table";
    results::RecommendRequest request;
    std::string traffic;  // --traffic prompt=512,output=256,concurrency=8 (results/serving_recommend.hpp)
};

// --usd-per-kwh, --gpu-price-usd, --lifetime-years, --utilisation (report and recommend).
void add_cost_options(CLI::App * cmd, results::CostParams & p);

void run_recommend(const RecommendParams & o);

}  // namespace jb::cli
