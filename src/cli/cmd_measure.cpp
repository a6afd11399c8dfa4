// joulebench measure -- <command>: meters any command the way `perf stat` times it
// (spawn, wait), prints energy per domain, and exits with the command's status.


#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "energy/cpu_time.hpp"
#include "joulebench/meter.hpp"
#include "joulebench/table.hpp"
#include "report/measurement.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

namespace {

struct MeasureOptions {
    MeterOptions meter;
    std::string output = "table";
    std::string timeline_path;
    std::string report_path;  // the report goes here instead of stdout (the command keeps stdout)
    std::vector<std::string> command;
};

nlohmann::json context_json(const MeteredRun & r, const MeasureOptions & o) {
    const energy::Measurement & m = r.measurement;
    const nlohmann::json sensors = nlohmann::json::parse(r.sensors_json);
    nlohmann::json domains = nlohmann::json::array();
    for (const auto & e : m.domains) {
        domains.push_back({{"domain", e.domain.str()}, {"counter_update_hz", e.counter_update_hz}, {"error", e.error}});
    }
    double duration_s = m.duration_s();
    nlohmann::json load = r.load ? energy::cpu_load_json(*r.load) : nlohmann::json(nullptr);
    nlohmann::json idle_load = r.idle_load ? energy::cpu_load_json(*r.idle_load) : nlohmann::json(nullptr);
    return {{"command", o.command},
            {"exit_status", r.exit_status},
            {"duration_s", duration_s},
            {"t_start_monotonic_s", m.t_start_s},
            {"t_end_monotonic_s", m.t_end_s},
            {"idle_s", m.idle_s},
            {"interval_ms", o.meter.interval_ms},
            {"n_ticks", m.n_ticks},
            {"sampler_cpu_s", m.sampler_cpu_s},
            {"sampler_cpu_pct", duration_s > 0 ? 100.0 * m.sampler_cpu_s / duration_s : 0.0},
            {"domains", domains},
            {"cpu_load", load},
            {"idle_cpu_load", idle_load},
            {"sensors", sensors["sensors"]},
            {"unavailable", sensors["unavailable"]}};
}

void write_timeline(const std::string & path, const energy::Measurement & m) {
    std::ofstream out(path);
    if (!out) throw InputError(path, "cannot write the timeline file");
    out << "t_s,domain,power_w\n";
    for (const auto & p : m.timeline) {
        out << fmt::format("{:.6f},{},{:.3f}\n", p.t_s, m.domains[static_cast<size_t>(p.domain)].domain.str(),
                           p.power_w);
    }
}

void run_measure(const MeasureOptions & o) {
    if (o.command.empty()) throw UsageError("no command to measure: joulebench measure [options] -- <command> [args]");
    Format format = parse_format(o.output);
    // Opened before the command runs, so a bad path costs no run.
    std::ofstream report_file;
    if (!o.report_path.empty()) {
        report_file.open(o.report_path);
        if (!report_file) throw InputError(o.report_path, "cannot write the report file (--report)");
    }
    std::string command_text;
    for (const auto & a : o.command) {
        command_text += (command_text.empty() ? "" : " ") + (a.find(' ') == std::string::npos ? a : "'" + a + "'");
    }
    const MeteredRun r = measure_command(o.command, o.meter, [](const std::string & text) {
        fmt::print(stderr, "joulebench: {}\n", text);
    });
    exit_status = r.exit_status;
    if (!r.started) {  // nothing ran, nothing to report
        fmt::print(stderr, "joulebench: error: {}\n", r.command_error);
        return;
    }
    if (!r.command_error.empty()) fmt::print(stderr, "joulebench: {}\n", r.command_error);

    if (!o.timeline_path.empty()) write_timeline(o.timeline_path, r.measurement);
    Table t = report::measurement_table(r, command_text);
    std::ostream & out = o.report_path.empty() ? std::cout : report_file;
    if (format == Format::json) {
        nlohmann::json doc = nlohmann::json::parse(render_table(t, Format::json));
        doc["context"] = context_json(r, o);
        out << doc.dump(2) << "\n";
    } else {
        print_table(out, t, format);
    }
    out.flush();
}

}  // namespace

void add_measure_command(CLI::App & app) {
    auto opts = std::make_shared<MeasureOptions>();
    CLI::App * sub = app.add_subcommand(
        "measure",
        "Meter the energy of any command, like `perf stat`: joulebench measure [options] -- <command> [args]");
    sub->add_option("--idle-s", opts->meter.idle_s,
                    "Seconds of idle power measured before the command; net energy = gross - idle power x time")
        ->capture_default_str();
    sub->add_option("--interval-ms", opts->meter.interval_ms, "Sampling period in milliseconds (10 = 100 Hz)")
        ->capture_default_str();
    sub->add_option("-o,--output", opts->output, "Output format: table, md, csv or json")->capture_default_str();
    sub->add_option("--cpu-tdp-w", opts->meter.cpu_tdp_w,
                    "CPU TDP in watts for the estimate where no CPU counter exists (default: 4 W x logical CPUs)");
    sub->add_option("--timeline", opts->timeline_path,
                    "Also write the power timeline (t_s,domain,power_w) to this CSV file");
    sub->add_option("--report", opts->report_path,
                    "Write the report to this file instead of stdout, which the command's output then has alone");
    sub->add_option("command", opts->command, "The command to meter and its arguments (after --)");
    sub->footer(
        "Put -- before the command, so that its own options are not taken for joulebench's.\n"
        "Exit status: the command's; 128+N if a signal N killed it; 127 if it could not be executed.\n"
        "Results go to stdout, progress and notes to stderr.");
    sub->callback([opts] { run_measure(*opts); });
}

}  // namespace jb::cli
