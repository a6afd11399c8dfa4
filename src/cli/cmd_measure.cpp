// joulebench measure -- <command>: meters any command the way `perf stat` times it
// (spawn, wait), prints energy per domain, and exits with the command's status.


#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "joulebench/error.hpp"
#include "joulebench/meter.hpp"
#include "report/measurement.hpp"

namespace jb::cli {

namespace {

struct MeasureOptions {
    MeterOptions meter;
    std::string output = "table";
    std::string timeline_path;
    std::string report_path;  // the report goes here instead of stdout (the command keeps stdout)
    std::vector<std::string> command;
};

void run_measure(const MeasureOptions & o) {
    if (o.command.empty()) throw UsageError("no command to measure: joulebench measure [options] -- <command> [args]");
    Format format = parse_format(o.output);
    // Opened before the command runs, so a bad path costs no run.
    std::ofstream report_file;
    if (!o.report_path.empty()) {
        report_file.open(o.report_path);
        if (!report_file) throw InputError(o.report_path, "cannot write the report file (--report)");
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

    if (!o.timeline_path.empty()) report::write_timeline_csv(o.timeline_path, r.measurement);
    std::ostream & out = o.report_path.empty() ? std::cout : report_file;
    if (format == Format::json) {
        out << report::measurement_json(r, o.command, o.meter.interval_ms).dump(2) << "\n";
    } else {
        print_table(out, report::measurement_table(r, report::command_text(o.command)), format);
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
