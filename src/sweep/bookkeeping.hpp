#pragma once
// The bookkeeping every metered runner shares (sweep, serve): a Measurement as the store keeps
// it (energy_json's domains, a PowerTimeline), a resolved scheme as a SchemeRecord, the GPUs a
// placement meters, and how a record is marked when its devices were shared with other
// processes or other joulebench runs.

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <optional>

#include "energy/cpu_time.hpp"
#include "energy/device_claim.hpp"
#include "energy/gpu_sharing.hpp"
#include "energy/meter.hpp"
#include "energy/sensor.hpp"
#include "joulebench/energy.hpp"
#include "joulebench/store.hpp"
#include "joulebench/timeline.hpp"
#include "sweep/schemes.hpp"

namespace jb::sweep {

using WarnFn = std::function<void(const std::string &)>;

// One object per domain: domain, method, sensor, gross_j, duration_s, avg_w, peak_w, n_samples,
// and net_j, idle_w, counter_j, samples_j, error when present.
nlohmann::json energy_json(const energy::Measurement & m);

// The Meter's samples on one time axis (each domain's last value held), with the phases.
PowerTimeline timeline_of(const energy::Measurement & m);

// The store's row for a resolved scheme ("unresolved:<name>" when it could not be resolved).
SchemeRecord scheme_record(const ResolvedScheme & rs);

// Only the GPUs of a placement (--gpus) are metered (the k-th GPU NVML lists among the visible
// ones is llama.cpp's GPU k; nvml.hpp says when they differ). Empty: all.
void keep_placement_gpus(energy::Discovery & found, const std::vector<int> & gpus);

// A record whose metered GPU other processes used (energy/gpu_sharing.hpp): "shared_gpu":
// [{"domain": "gpu:0", "pids": [4242]}] in its energy_json, and a warning naming `what`.
void mark_shared_gpu(nlohmann::json & energy_json, const std::vector<energy::SharedDevice> & shared,
                     const std::string & what, const WarnFn & warn);

// A record during which another joulebench run metered the same devices: "shared_meter":
// [{"pid", "what", "devices"}] in its energy_json, and a warning.
void mark_shared_meter(nlohmann::json & energy_json, const std::vector<energy::OtherMeter> & others,
                       const std::string & what, const WarnFn & warn);

// A record (or the idle baseline) beside other load: "cpu_load" (and "idle_cpu_load") in energy_json
// always, with "busy": true when other processes kept the CPUs busy (energy/cpu_time.hpp); a
// warning for a busy record. A CPU counter includes their energy; the CPU estimate counts only our
// process tree's CPU time, but contention still slows the work.
void mark_cpu_load(nlohmann::json & energy_json, const std::optional<energy::CpuLoad> & load,
                   const std::optional<energy::CpuLoad> & idle_load, const std::string & what, const WarnFn & warn);

// Each domain's idle power, measured for `seconds` before any work (one baseline for a whole run).
// With `load`, how busy the machine was beside us meanwhile (a warning is the caller's).
std::vector<std::pair<energy::Domain, double>> idle_baseline(const energy::SensorList & sensors,
                                                             const energy::MeterParams & mp, double seconds,
                                                             std::optional<energy::CpuLoad> * load = nullptr);
double total_w(const std::vector<std::pair<energy::Domain, double>> & idle);

// Between two metered records: measures idle windows of check_s until the device is back within
// 15 % of baseline_w (<= 0: no baseline, one window) or max_wait_s is spent; stop() ends the wait.
energy::Settle settle_device(const energy::SensorList & sensors, const energy::MeterParams & mp, double check_s,
                             double baseline_w, double max_wait_s, const std::function<bool()> & stop);

}  // namespace jb::sweep
