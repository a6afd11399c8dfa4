#pragma once
// What a result row says about the machine it was measured on: CPU, memory, OS, GPUs and
// their driver (from the NVML sensors' provenance), llama.cpp commit, joulebench version.

#include <string>

#include "energy/sensor.hpp"
#include "store/store.hpp"

namespace jb::cli {

HostRecord describe_host(const energy::Discovery & found);

// JSON list of every sensor's provenance and of what could not be measured, for a cell's
// sensors_json.
std::string sensors_json(const energy::Discovery & found);

// Current UTC time as ISO 8601 ("2026-11-25T13:02:11Z").
std::string utc_now_iso();

}  // namespace jb::cli
