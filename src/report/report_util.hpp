#pragma once
// Small helpers shared by the report's text and HTML outputs (internal to src/report).

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "joulebench/table.hpp"

namespace jb::report {

// A real cell, empty when the number is not finite (not measured).
inline Value real(double v) {
    return std::isfinite(v) ? Value(v) : Value();
}
// A fraction as a percentage cell, empty when not finite.
inline Value pct(double fraction) {
    return std::isfinite(fraction) ? Value(fraction * 100.0) : Value();
}

template <typename Container>
std::string join(const Container & items, const std::string & sep) {
    std::string out;
    for (const auto & s : items) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

// "NVIDIA H100 80GB HBM3, NVIDIA H100 80GB HBM3" from a host's gpus_json ("" without a GPU).
inline std::string gpu_names(const std::string & gpus_json) {
    const auto gpus = nlohmann::json::parse(gpus_json, nullptr, /*allow_exceptions=*/false);
    std::string out;
    if (!gpus.is_array()) return out;
    for (const auto & g : gpus) {
        std::string name = g.is_object() && g.contains("name") && g["name"].is_string() ? g["name"].get<std::string>()
                                                                                        : "GPU";
        if (name.empty()) name = "GPU";
        out += (out.empty() ? "" : ", ") + name;
    }
    return out;
}

}  // namespace jb::report
