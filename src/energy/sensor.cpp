#include "energy/sensor.hpp"

#include <charconv>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb::energy {

const char * domain_kind_name(DomainKind kind) {
    switch (kind) {
        case DomainKind::gpu:
            return "gpu";
        case DomainKind::cpu_package:
            return "cpu-package";
        case DomainKind::dram:
            return "dram";
    }
    return "?";
}

std::string Domain::str() const {
    return fmt::format("{}:{}", domain_kind_name(kind), index);
}

Domain parse_domain(const std::string & text) {
    auto bad = [&] {
        return UsageError(fmt::format("bad domain '{}' (expected gpu:N, cpu-package:N or dram:N)", text));
    };
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) throw bad();
    std::string kind = text.substr(0, colon);
    Domain d;
    if (kind == "gpu") {
        d.kind = DomainKind::gpu;
    } else if (kind == "cpu-package") {
        d.kind = DomainKind::cpu_package;
    } else if (kind == "dram") {
        d.kind = DomainKind::dram;
    } else {
        throw bad();
    }
    const char * first = text.data() + colon + 1;
    const char * last = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(first, last, d.index);
    if (ec != std::errc() || ptr != last || first == last || d.index < 0) throw bad();
    return d;
}

const char * sensor_kind_name(SensorKind kind) {
    return kind == SensorKind::energy_counter ? "counter" : "power";
}

const char * method_name(Method method) {
    switch (method) {
        case Method::counter:
            return "counter";
        case Method::samples:
            return "samples";
        case Method::estimate:
            return "estimate";
    }
    return "?";
}

Method method_of(const Sensor & sensor) {
    if (sensor.provenance().estimated) return Method::estimate;
    return sensor.kind() == SensorKind::energy_counter ? Method::counter : Method::samples;
}

void Discovery::append(Discovery other) {
    for (auto & s : other.sensors) sensors.push_back(std::move(s));
    for (auto & u : other.unavailable) unavailable.push_back(std::move(u));
}

}  // namespace jb::energy
