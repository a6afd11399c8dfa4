#include "report/sensors.hpp"

#include <fmt/format.h>

namespace jb::report {

namespace {

std::string join_details(const energy::Provenance & p) {
    std::string out;
    for (const auto & [key, value] : p.details) {
        if (value.empty()) continue;
        out += fmt::format("{}{}={}", out.empty() ? "" : "; ", key, value);
    }
    return out;
}

}  // namespace

Table sensors_table(const energy::Discovery & found) {
    Table t;
    t.title = "joulebench sensors";
    t.add_text_column("domain", "Domain");
    t.add_text_column("status", "Status");
    t.add_text_column("kind", "Kind");
    t.add_text_column("method", "Method");
    t.add_column("rate_hz", "Rate (Hz)", 0);
    t.add_text_column("sensor", "Sensor");
    t.add_text_column("driver", "Driver");
    t.add_text_column("detail", "Detail / reason");

    bool estimated = false;
    for (const auto & s : found.sensors) {
        const energy::Provenance & p = s->provenance();
        Value rate = p.update_hz > 0 ? Value(p.update_hz) : Value();
        energy::Method method = energy::method_of(*s);
        estimated = estimated || method == energy::Method::estimate;
        t.add_row({s->domain().str(), std::string(p.estimated ? "estimated" : "available"),
                   std::string(energy::sensor_kind_name(s->kind())), std::string(energy::method_name(method)), rate,
                   p.name, p.driver, join_details(p)});
    }
    for (const auto & u : found.unavailable) {
        t.add_row({u.what, std::string("unavailable"), Value(), Value(), Value(), Value(), Value(), u.reason});
    }
    if (estimated) {
        t.notes.push_back(
            "estimated domains are a model (TDP per CPU x the measured processes' CPU time), not a measurement; "
            "joulebench reports them apart from measured energy");
    }
    if (found.sensors.empty()) t.notes.push_back("nothing on this machine can be metered");
    return t;
}

}  // namespace jb::report
