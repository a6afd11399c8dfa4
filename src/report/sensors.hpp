#pragma once
// `joulebench sensors`' printer: every energy domain found on this machine (kind, method, rate,
// sensor, driver, details) and every one that could not be metered, with why.

#include "energy/discover.hpp"
#include "joulebench/table.hpp"

namespace jb::report {

Table sensors_table(const energy::Discovery & found);

}  // namespace jb::report
