#pragma once
// What every energy source looks like to the Meter: a domain (gpu:N, cpu-package:N,
// dram:N), a kind (cumulative energy counter or instantaneous power), a read that returns
// joules or watts with a monotonic timestamp, and provenance (what, which driver, how fast).
// Sources: NVML (nvml.hpp), RAPL powercap (rapl.hpp), a TDP x CPU time estimate
// (estimate.hpp) and scripted traces for tests (synthetic.hpp).

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/energy.hpp"

namespace jb::energy {

enum class SensorKind {
    energy_counter,  // cumulative joules since an arbitrary origin; may wrap (wrap_j())
    power,           // instantaneous watts
};
const char * sensor_kind_name(SensorKind kind);  // "counter", "power"

struct Reading {
    double value = 0.0;  // joules (energy_counter) or watts (power)
    double t_s = 0.0;    // Clock::now_s() time base
};

struct Provenance {
    std::string name;        // what is read: "NVML nvmlDeviceGetTotalEnergyConsumption"
    std::string driver;      // driver / firmware: "NVIDIA driver 550.54.15", "Linux powercap intel-rapl"
    double update_hz = 0.0;  // native update rate of the source; 0 = unknown
    bool estimated = false;  // a model, not a measurement
    std::vector<std::pair<std::string, std::string>> details;  // device name, UUID, power limit, ...
};

class Sensor {
public:
    virtual ~Sensor() = default;

    virtual Domain domain() const = 0;
    virtual SensorKind kind() const = 0;
    virtual const Provenance & provenance() const = 0;

    // One reading now. Throws jb::RuntimeFailure when the source fails.
    virtual Reading read() = 0;
    // Appends the readings available now: one read() by default; a source that buffers its
    // own samples (NVML's power sample buffer) appends every sample recorded since the last call.
    virtual void poll(std::vector<Reading> & out) { out.push_back(read()); }
    // Counters: the span after which the counter restarts from 0, in joules; 0 = never wraps.
    virtual double wrap_j() const { return 0.0; }
    // The Meter reads this sensor at most this often (a source that is costly to read or
    // updates slowly), interpolating it at marks and window edges; start and stop always read it.
    virtual double min_poll_interval_s() const { return 0.0; }
    // The processes that use this sensor's device now (a GPU: those with a compute context,
    // from NVML), or nullopt when the source cannot tell (CPU domains, synthetic, estimate).
    // A measurement is only this process's if no other process shares the device
    // (energy/gpu_sharing.hpp).
    virtual std::optional<std::vector<unsigned>> device_pids() { return std::nullopt; }
};

using SensorList = std::vector<std::shared_ptr<Sensor>>;

// estimate if the source is a model, else counter or samples by kind.
Method method_of(const Sensor & sensor);

// What a discovery step found: usable sensors, and what it could not use.
struct Discovery {
    SensorList sensors;
    std::vector<Unavailable> unavailable;

    void append(Discovery other);
};

}  // namespace jb::energy
