#pragma once
// CPU energy where no counter exists: TDP x CPU utilisation (from /proc/stat). A model,
// not a measurement: its provenance says estimated, and every value it yields carries
// Method::estimate, which the Meter and the reports keep apart from measured energy.

#include <cstdint>
#include <memory>
#include <string>

#include "energy/clock.hpp"
#include "energy/sensor.hpp"

namespace jb::energy {

// Jiffies from the aggregate "cpu" line of /proc/stat.
struct CpuTimes {
    uint64_t busy = 0;   // user + nice + system + irq + softirq (guest time is inside user/nice)
    uint64_t total = 0;  // busy + idle + iowait + steal
    int n_cpus = 0;      // "cpuN" lines
};

// Parses the text of /proc/stat; throws jb::InputError naming path, line and field.
CpuTimes parse_proc_stat(const std::string & text, const std::string & path);
CpuTimes read_proc_stat(const std::string & path = "/proc/stat");

// Default TDP when none is given: watts per logical CPU x logical CPUs. 4 W per logical
// CPU sits between servers (about 2-3 W per hardware thread at full load) and desktops
// (5-8 W); see docs/energy.md. Override with a real figure when you know it.
inline constexpr double k_default_watts_per_cpu = 4.0;
double default_cpu_tdp_w(int n_cpus);

// An energy counter of estimated joules: each read adds tdp_w x utilisation x elapsed time,
// utilisation being the busy share of all CPUs' jiffies since the previous read.
class CpuEstimateSensor : public Sensor {
public:
    // tdp_w <= 0: default_cpu_tdp_w(CPUs in proc_stat_path). Throws jb::InputError if the
    // file cannot be read or parsed.
    explicit CpuEstimateSensor(double tdp_w = 0.0, std::string proc_stat_path = "/proc/stat",
                               std::shared_ptr<Clock> clock = steady_clock());

    Domain domain() const override { return {DomainKind::cpu_package, 0}; }
    SensorKind kind() const override { return SensorKind::energy_counter; }
    const Provenance & provenance() const override { return provenance_; }
    Reading read() override;
    // /proc/stat advances in jiffies (USER_HZ = 100 per second): finer polling only adds
    // quantisation noise and the cost of generating /proc/stat.
    double min_poll_interval_s() const override { return 0.1; }

    double tdp_w() const { return tdp_w_; }

private:
    double tdp_w_;
    std::string path_;
    std::shared_ptr<Clock> clock_;
    Provenance provenance_;
    CpuTimes last_;
    double last_t_s_;
    double energy_j_ = 0.0;
};

}  // namespace jb::energy
