#pragma once
// What prices a result (the CLI's --usd-per-kwh, --gpu-price-usd, --lifetime-years,
// --utilisation) and the one place where the hardware catalogue meets the metrics: each row's
// device is matched to a catalogue GPU for its price tier and list price, handed to
// metrics::price_candidates as plain data. Shared by recommend and report.

#include <optional>
#include <string>
#include <vector>

#include "metrics/cost.hpp"
#include "joulebench/metrics.hpp"

namespace jb::results {

struct CostParams {
    double usd_per_kwh = 0.0;             // 0: no electricity price
    std::optional<double> gpu_price_usd;  // per GPU; overrides the catalogue's list price
    double lifetime_years = metrics::kDefaultLifetimeYears;
    double utilisation = metrics::kDefaultUtilisation;
};

// Throws jb::UsageError naming the option for a negative price, a lifetime <= 0 or a utilisation
// outside (0, 1].
void check_cost_params(const CostParams& p);

// The price of each distinct device of the rows: "2x NVIDIA H100 80GB HBM3" is two of the
// catalogue's H100; "A + B" the sum of both. A device the catalogue does not know has no tier
// and, without --gpu-price-usd, no price. `notes` gets one line per device saying where its
// price came from (or why there is none), and one when the catalogue cannot be read.
metrics::CostModel cost_model(const std::vector<metrics::Row>& rows, const CostParams& p,
                              std::vector<std::string>& notes);

// "cost per Mtok = energy (J/token x 1e6 / 3.6e6 x 0.15 USD/kWh) + hardware price / (3 years x 50 %) ...":
// the formula with this run's numbers, for a table's notes.
std::string cost_formula_note(const CostParams& p);

}  // namespace jb::results
