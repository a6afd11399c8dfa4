#pragma once
// The table of one metered run (joulebench measure, and a program using jb::measure_command):
// energy per domain with its method and basis, the sums over GPUs, measured and estimated domains.

#include <string>

#include "joulebench/meter.hpp"
#include "joulebench/table.hpp"

namespace jb::report {

Table measurement_table(const MeteredRun & run, const std::string & command_text);

}  // namespace jb::report
