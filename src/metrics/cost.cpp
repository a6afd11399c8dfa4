// Cost per million tokens: energy + amortised hardware. Formula and defaults: docs/metrics.md.

#include "metrics/cost.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace jb::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTokensPerMtok = 1e6;
constexpr double kJoulesPerKwh = 3.6e6;
constexpr double kSecondsPerHour = 3600.0;

bool positive(double v) {
    return std::isfinite(v) && v > 0.0;
}

}  // namespace

double energy_usd_per_mtok(double j_per_token, double usd_per_kwh) {
    if (!std::isfinite(j_per_token) || j_per_token < 0 || !positive(usd_per_kwh)) return kNaN;
    return j_per_token * kTokensPerMtok / kJoulesPerKwh * usd_per_kwh;
}

double hardware_usd_per_mtok(double price_usd, double lifetime_years, double utilisation, double tokens_per_s) {
    if (!positive(price_usd) || !positive(lifetime_years) || !positive(utilisation) || utilisation > 1.0 ||
        !positive(tokens_per_s)) {
        return kNaN;
    }
    // The price spread over the seconds of useful work in the hardware's life, times the seconds
    // one million tokens take at the measured throughput.
    const double useful_s = lifetime_years * kHoursPerYear * kSecondsPerHour * utilisation;
    const double seconds_per_mtok = kTokensPerMtok / tokens_per_s;
    return price_usd / useful_s * seconds_per_mtok;
}

void price_candidates(std::vector<Candidate>& candidates, const CostModel& cost) {
    for (Candidate& c : candidates) {
        const auto it = cost.by_device.find(c.device);
        const HardwarePrice* hw = it == cost.by_device.end() ? nullptr : &it->second;
        c.cost_tier = hw ? hw->tier : "";
        c.hardware_price_usd = hw ? hw->price_usd : kNaN;
        c.energy_usd_per_mtok = energy_usd_per_mtok(c.j_per_token, cost.usd_per_kwh);
        c.hardware_usd_per_mtok =
            hw ? hardware_usd_per_mtok(hw->price_usd, cost.lifetime_years, cost.utilisation, c.tok_s) : kNaN;
        c.usd_per_mtok = std::isfinite(c.energy_usd_per_mtok) && std::isfinite(c.hardware_usd_per_mtok)
                             ? c.energy_usd_per_mtok + c.hardware_usd_per_mtok
                             : kNaN;
    }
}

std::string cost_text(const Candidate& c) {
    std::string out = c.cost_tier;
    if (std::isfinite(c.usd_per_mtok)) {
        out += fmt::format("{}${:.3g}/Mtok", out.empty() ? "" : ", ", c.usd_per_mtok);
    }
    return out;
}

}  // namespace jb::metrics
