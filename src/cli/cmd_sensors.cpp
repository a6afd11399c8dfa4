// joulebench sensors: what this machine can meter, how (counter or power samples, rate,
// domains), and what it cannot, with the reason.

#include <iostream>
#include <string>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "energy/discover.hpp"
#include "joulebench/table.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

namespace {

struct SensorsOptions {
    std::string output = "table";
    double cpu_tdp_w = 0.0;
};

std::string join_details(const energy::Provenance & p) {
    std::string out;
    for (const auto & [key, value] : p.details) {
        if (value.empty()) continue;
        out += fmt::format("{}{}={}", out.empty() ? "" : "; ", key, value);
    }
    return out;
}

void run_sensors(const SensorsOptions & o) {
    if (o.cpu_tdp_w < 0.0) throw UsageError(fmt::format("--cpu-tdp-w must be > 0 watts (got {})", o.cpu_tdp_w));
    Format format = parse_format(o.output);
    energy::DiscoverOptions options = energy::discover_options_from_env();
    options.cpu_tdp_w = o.cpu_tdp_w;
    energy::Discovery found = energy::discover_sensors(options);

    Table t;
    t.title = "joulebench sensors";
    t.add_column("domain", "Domain");
    t.add_column("status", "Status");
    t.add_column("kind", "Kind");
    t.add_column("method", "Method");
    t.add_column("rate_hz", "Rate (Hz)", 0);
    t.add_column("sensor", "Sensor");
    t.add_column("driver", "Driver");
    t.add_column("detail", "Detail / reason");
    for (size_t c :
         {t.column_index("sensor"), t.column_index("driver"), t.column_index("detail"), t.column_index("domain"),
          t.column_index("status"), t.column_index("kind"), t.column_index("method")}) {
        t.columns[c].right_align = false;
    }

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
    print_table(std::cout, t, format);
}

}  // namespace

void add_sensors_command(CLI::App & app) {
    auto opts = std::make_shared<SensorsOptions>();
    CLI::App * sub =
        app.add_subcommand("sensors", "List what can be metered on this machine (and what cannot, with why)");
    sub->add_option("-o,--output", opts->output, "Output format: table, md, csv or json")->capture_default_str();
    sub->add_option("--cpu-tdp-w", opts->cpu_tdp_w,
                    "CPU TDP in watts for the estimate where no CPU counter exists (default: 4 W x logical CPUs)");
    sub->callback([opts] { run_sensors(*opts); });
}

}  // namespace jb::cli
