// joulebench sensors: what this machine can meter, how (counter or power samples, rate,
// domains), and what it cannot, with the reason.

#include <iostream>
#include <string>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "energy/discover.hpp"
#include "joulebench/error.hpp"
#include "report/sensors.hpp"

namespace jb::cli {

namespace {

struct SensorsOptions {
    std::string output = "table";
    double cpu_tdp_w = 0.0;
};

void run_sensors(const SensorsOptions & o) {
    if (o.cpu_tdp_w < 0.0) throw UsageError(fmt::format("--cpu-tdp-w must be > 0 watts (got {})", o.cpu_tdp_w));
    Format format = parse_format(o.output);
    energy::DiscoverOptions options = energy::discover_options_from_env();
    options.cpu_tdp_w = o.cpu_tdp_w;
    const energy::Discovery found = energy::discover_sensors(options);
    print_table(std::cout, report::sensors_table(found), format);
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
