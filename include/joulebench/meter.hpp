#pragma once
// Meter any piece of work with the hardware's own counters, as `joulebench measure` does:
//
//   jb::MeterOptions opt;
//   opt.idle_s = 2.0;  // an idle baseline first, so that net energy can be computed
//   jb::MeteredRun r = jb::measure([](const jb::PhaseMark & mark) {
//       load();     mark("compute");
//       compute();
//   }, opt);
//   double joules = r.measurement.total_j;   // measured domains (GPUs, CPU packages, DRAM)
//
// The sensors are found on this machine (NVML for NVIDIA GPUs, RAPL for CPUs; where nothing can
// measure, a CPU estimate that is always labelled as such, attributed to the measured processes'
// CPU time). Phases split the energy by name. How busy other processes kept the machine during the
// idle baseline and the run comes back beside the energy (MeteredRun::load, idle_load).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/energy.hpp"

namespace jb {

struct MeterOptions {
    double idle_s = 0.0;       // idle baseline measured before the work (0: none, no net energy)
    double interval_ms = 10.0;  // power sampling period
    double cpu_tdp_w = 0.0;    // the CPU estimate's TDP where no counter exists (0: 4 W x logical CPUs)
};

// Ends the current phase and begins the named one.
using PhaseMark = std::function<void(const std::string & phase)>;

struct MeteredRun {
    energy::Measurement measurement;
    std::vector<std::string> sensors;              // "gpu:0: NVML nvmlDeviceGetTotalEnergyConsumption (counter)"
    std::vector<energy::Unavailable> unavailable;  // what could not be metered, and why
    std::string sensors_json;                      // every sensor's provenance, for a result's record
    // The machine's CPU time beside the measured processes' over the run and over the idle
    // baseline (absent without one); busy() flags other load (joulebench/energy.hpp). measure:
    // this process and its descendants; measure_command: the command's processes.
    std::optional<energy::CpuLoad> load;
    std::optional<energy::CpuLoad> idle_load;
    int exit_status = 0;                           // measure_command: the command's (see there)
    bool started = true;                           // measure_command: false if it could not be executed
    std::string command_error;                     // measure_command: why it could not run, or the signal that killed it
};

// Meters fn (first phase "run"). Throws jb::UsageError for bad options; an exception from fn
// propagates after the meter has stopped.
MeteredRun measure(const std::function<void(const PhaseMark & mark)> & fn, const MeterOptions & options = {});

// Meters a command the way `perf stat` times it: spawns argv (found on PATH), waits, and returns its
// exit status (128 + N if a signal N killed it; 127 if it could not be executed, then `started` is
// false). Ctrl-C and Ctrl-\ go to the command while it runs. `on_message` gets notes (which sensor
// meters what) before the command starts.
MeteredRun measure_command(const std::vector<std::string> & argv, const MeterOptions & options = {},
                           const std::function<void(const std::string &)> & on_message = {});

}  // namespace jb
