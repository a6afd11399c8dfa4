// Hardware prices from the catalogue for the cost per million tokens (docs/metrics.md).

#include "results/cost_model.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "hardware/catalogue.hpp"
#include "joulebench/error.hpp"

namespace jb::results {

namespace {

struct Part {
    int count = 1;
    std::string name;
};

// "2x NVIDIA H100 80GB HBM3" -> {2, "NVIDIA H100 80GB HBM3"}; "A + B" -> {1, A}, {1, B}
// (store_rows.cpp's host_device writes these forms).
std::vector<Part> device_parts(const std::string& device) {
    std::vector<Part> out;
    size_t start = 0;
    while (start <= device.size()) {
        size_t plus = device.find(" + ", start);
        std::string piece = device.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
        Part p;
        p.name = piece;
        const size_t x = piece.find("x ");
        if (x != std::string::npos && x > 0 && piece.find_first_not_of("0123456789") == x) {
            p.count = std::stoi(piece.substr(0, x));
            p.name = piece.substr(x + 2);
        }
        if (!p.name.empty()) out.push_back(p);
        if (plus == std::string::npos) break;
        start = plus + 3;
    }
    return out;
}

}  // namespace

void check_cost_params(const CostParams& p) {
    if (!(p.usd_per_kwh >= 0.0) || !std::isfinite(p.usd_per_kwh)) {
        throw UsageError(fmt::format("--usd-per-kwh must be >= 0 (got {})", p.usd_per_kwh));
    }
    if (p.gpu_price_usd && !(*p.gpu_price_usd > 0.0 && std::isfinite(*p.gpu_price_usd))) {
        throw UsageError(fmt::format("--gpu-price-usd must be > 0 (got {})", *p.gpu_price_usd));
    }
    if (!(p.lifetime_years > 0.0) || !std::isfinite(p.lifetime_years)) {
        throw UsageError(fmt::format("--lifetime-years must be > 0 (got {})", p.lifetime_years));
    }
    if (!(p.utilisation > 0.0 && p.utilisation <= 1.0)) {
        throw UsageError(fmt::format("--utilisation must be in (0, 1] (got {})", p.utilisation));
    }
}

metrics::CostModel cost_model(const std::vector<metrics::Row>& rows, const CostParams& p,
                              std::vector<std::string>& notes) {
    metrics::CostModel m;
    m.usd_per_kwh = p.usd_per_kwh;
    m.lifetime_years = p.lifetime_years;
    m.utilisation = p.utilisation;

    std::optional<hardware::Catalogue> catalogue;
    try {
        catalogue = hardware::default_catalogue();
    } catch (const std::exception& e) {
        notes.push_back(fmt::format("cost: no hardware catalogue ({}): no price tiers{}", e.what(),
                                    p.gpu_price_usd ? "" : " and no hardware prices"));
    }

    std::set<std::string> devices;
    for (const auto& r : rows) {
        if (r.ok && !r.device.empty()) devices.insert(r.device);
    }
    for (const auto& device : devices) {
        metrics::HardwarePrice hp;
        double price = 0.0;
        bool all_priced = true;
        std::vector<std::string> ids, unknown;
        for (const Part& part : device_parts(device)) {
            const hardware::GpuSpec* spec = catalogue ? catalogue->match_device(part.name) : nullptr;
            if (spec) {
                ids.push_back(spec->id);
                if (hp.tier.empty()) hp.tier = spec->price_tier;
            } else {
                unknown.push_back(part.name);
            }
            if (p.gpu_price_usd) {
                price += part.count * *p.gpu_price_usd;
            } else if (spec && spec->list_price_usd && *spec->list_price_usd > 0) {
                price += part.count * *spec->list_price_usd;
            } else {
                all_priced = false;
            }
        }
        if (all_priced && price > 0) hp.price_usd = price;
        std::string source;
        if (p.gpu_price_usd) {
            source = fmt::format("--gpu-price-usd {:g} per GPU", *p.gpu_price_usd);
        } else if (std::isfinite(hp.price_usd)) {
            std::string dates;
            for (const auto& id : ids) {
                const auto* spec = catalogue->find(id);
                dates += fmt::format("{}{} {}", dates.empty() ? "" : ", ", id,
                                     spec && !spec->price_date.empty() ? "(" + spec->price_date + ")" : "");
            }
            source = "catalogue list price: " + dates;
        } else if (!unknown.empty()) {
            source = "not in the hardware catalogue: no price (give --gpu-price-usd)";
        } else {
            source = "no list price in the catalogue (give --gpu-price-usd)";
        }
        hp.source = source;
        notes.push_back(fmt::format("cost: {}: tier {}, {}{}", device, hp.tier.empty() ? "unknown" : hp.tier,
                                    std::isfinite(hp.price_usd) ? fmt::format("{:.0f} USD, ", hp.price_usd) : "",
                                    source));
        m.by_device[device] = hp;
    }
    return m;
}

std::string cost_formula_note(const CostParams& p) {
    return fmt::format(
        "cost/Mtok = energy (J/token x 1e6 / 3.6e6 x {:g} USD/kWh) + hardware (price / ({:g} years x 8766 h x "
        "3600 s x {:g} utilisation) x 1e6 / tokens per s)",
        p.usd_per_kwh, p.lifetime_years, p.utilisation);
}

}  // namespace jb::results
