// joulebench hardware list: the GPU catalogue (data/hardware/gpus.json), with this host's GPUs
// marked (NVML names matched to catalogue entries).

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "hardware/catalogue_table.hpp"
#include "sweep/host_info.hpp"

namespace jb::cli {

namespace {

struct HardwareListOptions {
    std::string catalogue;  // "" = the shipped one
    std::string output = "table";
    std::vector<std::string> device_names;  // instead of asking NVML
};

void run_hardware_list(const HardwareListOptions & o) {
    const Format format = parse_format(o.output);
    const hardware::Catalogue cat =
        o.catalogue.empty() ? hardware::default_catalogue() : hardware::load_catalogue(o.catalogue);
    const std::vector<std::string> names = o.device_names.empty() ? sweep::host_gpu_names() : o.device_names;
    const bool sources = format == Format::csv || format == Format::json;
    print_table(std::cout, hardware::catalogue_table(cat, names, sources), format);
}

}  // namespace

void add_hardware_command(CLI::App & app) {
    CLI::App * cmd = app.add_subcommand("hardware", "The GPU catalogue that projection and cost use");
    cmd->require_subcommand(1);
    auto o = std::make_shared<HardwareListOptions>();
    CLI::App * list = cmd->add_subcommand("list", "List the catalogue's GPUs, marking this host's own with *");
    list->add_option("--catalogue", o->catalogue,
                     "Catalogue file (default: $JOULEBENCH_HARDWARE, else data/hardware/gpus.json)");
    list->add_option("-o,--output", o->output, "Output format: table, md, csv or json (json and csv add sources)")
        ->capture_default_str();
    list->add_option("--device-name", o->device_names,
                     "Mark the entry matching this NVML device name instead of asking NVML (repeatable), e.g. "
                     "\"NVIDIA H100 80GB HBM3\"");
    list->footer(
        "Each entry's figures come from the vendor's datasheet (sources in -o json). The host's GPUs are found\n"
        "through NVML, as the sweep finds them, and matched by name: a catalogue entry's 'match' strings are\n"
        "looked for as whole words in the NVML name, the longest match winning ('H100 80GB HBM3' is the SXM).");
    list->callback([o] { run_hardware_list(*o); });
}

}  // namespace jb::cli
