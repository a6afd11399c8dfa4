#pragma once
// The recommendation from a results database: the best (hardware, scheme) per use-case profile
// with its noise, the candidate list, or the distilled-vs-base families, as tables any front end
// prints. `joulebench recommend` is this plus option parsing. Definitions: docs/metrics.md.

#include <optional>
#include <string>
#include <vector>

#include "joulebench/metrics.hpp"
#include "joulebench/table.hpp"
#include "results/cost_model.hpp"

namespace jb {
class Store;
}

namespace jb::results {

struct RecommendRequest {
    std::string profile = "all";  // datacenter, enterprise, research, edge, budget, custom or all
    std::string reference = "fp16";
    std::optional<double> min_retention;  // 0.98 or 98 (%)
    std::optional<double> max_memory_gib;
    std::optional<double> max_latency_s;
    std::optional<double> max_ttft_s;
    std::optional<double> max_j_per_token;
    double grid_g_per_kwh = metrics::kWorldGridGPerKwh;
    CostParams cost;
    enum class View { decisions, candidates, families } view = View::decisions;
    bool why_column = false;  // the sentences as a `why` column (CSV, JSON) instead of footnotes
};

struct RecommendResult {
    std::vector<Table> tables;               // the decision matrix (or the view asked for)
    std::optional<Table> families;           // distilled vs base, when the database has families
    std::vector<std::string> missing;        // gaps in the reference, one line each (for stderr)
    std::string nothing_recommended;         // non-empty: no profile has a best; why (exit 1 after printing)
};

// Checks the request (jb::UsageError for a bad option, or a reference that is no scheme), reads
// the store and compares. Throws jb::Error when there is nothing to compare at all (no successful
// cell, no scored task, no reference cell), with the reason and what would fix it.
RecommendResult recommend(const Store & store, const std::string & db_name, const RecommendRequest & request);

// Checks the request's options and returns the profiles it selects: one named (tightened by the
// constraint options), or the five built-ins plus custom when a constraint is given. Throws
// jb::UsageError naming the option.
std::vector<metrics::Profile> selected_profiles(const RecommendRequest & request);

}  // namespace jb::results
