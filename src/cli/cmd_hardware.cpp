// joulebench hardware list: the GPU catalogue (data/hardware/gpus.json), with this host's GPUs
// marked (NVML names matched to catalogue entries).

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "sweep/host_info.hpp"
#include "energy/discover.hpp"
#include "hardware/catalogue.hpp"
#include "joulebench/table.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

namespace {

struct HardwareListOptions {
    std::string catalogue;  // "" = the shipped one
    std::string output = "table";
    std::vector<std::string> device_names;  // instead of asking NVML
};

Value or_empty(double v) {
    return std::isfinite(v) ? Value(v) : Value();
}

// NVML names of this host's GPUs, through the same discovery the sweep uses (GPU only).
std::vector<std::string> host_gpu_names() {
    energy::DiscoverOptions options = energy::discover_options_from_env();
    options.rapl = false;
    options.cpu_estimate = false;
    const HostRecord host = sweep::describe_host(energy::discover_sensors(options));
    std::vector<std::string> names;
    const auto gpus = nlohmann::json::parse(host.gpus_json, nullptr, false);
    if (gpus.is_array()) {
        for (const auto & g : gpus) {
            if (g.is_object() && g.contains("name") && g["name"].is_string() && !g["name"].get<std::string>().empty())
                names.push_back(g["name"].get<std::string>());
        }
    }
    return names;
}

void run_hardware_list(const HardwareListOptions & o) {
    const Format format = parse_format(o.output);
    const hardware::Catalogue cat =
        o.catalogue.empty() ? hardware::default_catalogue() : hardware::load_catalogue(o.catalogue);
    const std::vector<std::string> names = o.device_names.empty() ? host_gpu_names() : o.device_names;

    std::map<std::string, std::vector<std::string>> host_of;  // catalogue id -> this host's names
    std::vector<std::string> unmatched;
    for (const std::string & n : names) {
        if (const hardware::GpuSpec * g = cat.match_device(n)) {
            host_of[g->id].push_back(n);
        } else {
            unmatched.push_back(n);
        }
    }

    Table t;
    t.title = fmt::format("GPU catalogue ({})", cat.path);
    t.add_column("host", "Host", 0);
    t.add_column("id", "Id");
    t.add_column("name", "Name");
    t.add_column("architecture", "Architecture");
    t.add_column("form_factor", "Form");
    t.add_column("memory_gib", "Memory (GiB)", 0);
    t.add_column("memory_bw_gbs", "Bandwidth (GB/s)", 0);
    t.add_column("tdp_w", "TDP (W)", 0);
    t.add_column("idle_w", "Idle (W)", 0);
    t.add_column("fp16_tflops", "FP16 dense (TFLOP/s)", 1);
    t.add_column("int8_tops", "INT8 dense (TOP/s)", 1);
    t.add_column("sm_count", "SMs", 0);
    t.add_column("boost_clock_mhz", "Boost (MHz)", 0);
    t.add_column("price_tier", "Tier");
    t.add_column("list_price_usd", "List price (USD)", 0);
    t.add_column("price_date", "Price date");
    for (const char * c : {"host", "id", "name", "architecture", "form_factor", "price_tier", "price_date"}) {
        t.columns[t.column_index(c)].right_align = false;
    }
    if (format == Format::csv || format == Format::json) {
        t.add_column("idle_source", "Idle source");
        t.add_column("sources", "Sources");
        t.add_column("notes", "Notes");
    }
    for (const hardware::GpuSpec & g : cat.gpus) {
        const auto host = host_of.find(g.id);
        std::vector<Value> row = {host == host_of.end() ? Value(std::string()) : Value(std::string("*")),
                                  g.id,
                                  g.name,
                                  g.architecture,
                                  g.form_factor,
                                  g.memory_gib,
                                  g.memory_bw_gbs,
                                  g.tdp_w,
                                  or_empty(g.idle_w),
                                  or_empty(g.fp16_tflops),
                                  or_empty(g.int8_tops),
                                  or_empty(g.sm_count),
                                  or_empty(g.boost_clock_mhz),
                                  g.price_tier,
                                  g.list_price_usd ? Value(*g.list_price_usd) : Value(),
                                  g.price_date.empty() ? Value() : Value(g.price_date)};
        if (format == Format::csv || format == Format::json) {
            std::string sources;
            for (const auto & s : g.sources) sources += (sources.empty() ? "" : " ") + s;
            row.push_back(g.idle_source.empty() ? Value() : Value(g.idle_source));
            row.push_back(sources);
            row.push_back(g.notes);
        }
        t.add_row(std::move(row));
    }
    for (const auto & [id, host_names] : host_of) {
        for (const auto & n : host_names) t.notes.push_back(fmt::format("* this host: {} is '{}'", n, id));
    }
    for (const auto & n : unmatched) {
        t.notes.push_back(fmt::format("this host's GPU '{}' is not in the catalogue", n));
    }
    if (names.empty()) t.notes.push_back("no GPU found on this host (NVML); none marked");
    t.notes.push_back(
        "throughput is dense (no sparsity); GeForce FP16 is the FP16-accumulate rate; an empty idle means no published "
        "figure; sources per entry: -o json");
    print_table(std::cout, t, format);
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
