#pragma once
// What can be measured on this machine: NVML GPUs, RAPL packages and DRAM, and, only where
// no CPU counter exists, the CPU estimate. Everything that cannot be used is listed with
// the reason (no driver, no permission, no RAPL, ...), never silently skipped.

#include <optional>
#include <string>

#include "energy/clock.hpp"
#include "energy/cpu_time.hpp"
#include "energy/rapl.hpp"
#include "energy/sensor.hpp"

namespace jb::energy {

struct DiscoverOptions {
    std::string nvml_library = "libnvidia-ml.so.1";
    std::string powercap_root = "/sys/class/powercap";
    std::string proc_stat = "/proc/stat";
    // nullopt: read the CUDA_VISIBLE_DEVICES environment variable (unset: all GPUs).
    std::optional<std::string> cuda_visible_devices;
    double cpu_tdp_w = 0.0;  // for the estimate; <= 0: default_cpu_tdp_w() rule
    // Whose CPU time the estimate counts (cpu_time.hpp): this process and its descendants by
    // default; a command's processes only for `measure --`; machine for the whole machine.
    CpuScope cpu_scope = CpuScope::process_tree;
    bool gpu = true;
    bool rapl = true;
    bool cpu_estimate = true;  // estimate CPU energy when RAPL has no package counter
    std::shared_ptr<Clock> clock = steady_clock();
    OpenFn open_file = open_readonly;
};

// The defaults, with paths overridden by JOULEBENCH_NVML_LIBRARY, JOULEBENCH_POWERCAP_ROOT
// and JOULEBENCH_PROC_STAT when set (for testing a command against a fake tree).
DiscoverOptions discover_options_from_env();

Discovery discover_sensors(const DiscoverOptions & options = discover_options_from_env());

// {"sensors": [every sensor's domain, kind, method, name, driver, update rate, details],
//  "unavailable": [{"what", "reason"}]}: a result's record of what measured it.
std::string discovery_json(const Discovery & found);

}  // namespace jb::energy
