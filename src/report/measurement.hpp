#pragma once
// The table of one metered run (joulebench measure, and a program using jb::measure_command):
// energy per domain with its method and basis, the sums over GPUs, measured and estimated domains.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "joulebench/meter.hpp"
#include "joulebench/table.hpp"

namespace jb::report {

Table measurement_table(const MeteredRun & run, const std::string & command_text);

// The command as one line, arguments with spaces in single quotes (the table's title).
std::string command_text(const std::vector<std::string> & command);

// -o json: the table, and "context": the command, its exit status, times, sampling, every
// domain's counter rate and error, CPU load, the sensors found and what could not be metered.
nlohmann::json measurement_json(const MeteredRun & run, const std::vector<std::string> & command,
                                double interval_ms);

// --timeline: t_s,domain,power_w per sample; throws InputError when `path` cannot be written.
void write_timeline_csv(const std::string & path, const energy::Measurement & m);

}  // namespace jb::report
