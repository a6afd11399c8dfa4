#pragma once
// Cost per million processed tokens: the electricity a run draws plus the hardware's price
// amortised over its useful life (docs/metrics.md, "Cost per million tokens"). Plain data in and
// out: the CLI looks the hardware up in the catalogue and passes its tier and price here, so the
// metrics never read the catalogue.

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "joulebench/metrics.hpp"

namespace jb::metrics {

// Defaults of the amortisation (docs/metrics.md gives the reasons).
inline constexpr double kDefaultLifetimeYears = 3.0;  // a common depreciation period for servers and GPUs
inline constexpr double kDefaultUtilisation = 0.5;    // share of the lifetime the hardware does useful work
inline constexpr double kHoursPerYear = 8766.0;       // 365.25 days

// Energy cost of one million tokens: J/token x 1e6 / 3.6e6 J/kWh x USD/kWh. NaN unless both are
// finite and the price positive.
double energy_usd_per_mtok(double j_per_token, double usd_per_kwh);

// Hardware cost of one million tokens: price / (lifetime_years x 8766 h x 3600 s x utilisation)
// x seconds per million tokens (1e6 / tokens_per_s). NaN unless every input is finite and positive
// (utilisation at most 1).
double hardware_usd_per_mtok(double price_usd, double lifetime_years, double utilisation, double tokens_per_s);

// What the CLI knows of one device (a Row's device string): its price tier and its price for the
// whole device string ("2x NVIDIA H100 ..." costs two cards).
struct HardwarePrice {
    std::string tier;                                             // "" when unknown
    double price_usd = std::numeric_limits<double>::quiet_NaN();  // NaN when unknown
    std::string source;                                           // "catalogue h100-sxm (2023-10)", "--gpu-price-usd"
};

struct CostModel {
    double usd_per_kwh = 0.0;  // 0: no electricity price, so no cost per token
    double lifetime_years = kDefaultLifetimeYears;
    double utilisation = kDefaultUtilisation;
    std::map<std::string, HardwarePrice> by_device;  // key: Candidate::device
};

// Fills each candidate's cost_tier, hardware_price_usd and the costs per million tokens. The
// cost per Mtok is given only with an electricity price AND a hardware price (else it is NaN, and
// the energy part alone stays in energy_usd_per_mtok).
void price_candidates(std::vector<Candidate>& candidates, const CostModel& cost);

// "datacenter, $28/Mtok" / "datacenter" / "": the decision matrix's Cost cell.
std::string cost_text(const Candidate& c);

}  // namespace jb::metrics
