#pragma once
// CPU energy where no counter exists: TDP x CPU utilisation. A model, not a measurement: its
// provenance says estimated, and every value it yields carries Method::estimate, which the Meter
// and the reports keep apart from measured energy.
//
// Utilisation is the measured processes' CPU time (cpu_time.hpp), so that another job on the
// machine does not land in our estimate: each second of their CPU time costs TDP / CPUs joules.
// Without such a clock it is the busy share of all CPUs from /proc/stat (the whole machine).

#include <cstdint>
#include <functional>
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

// The watts an attributed estimate charges per CPU kept busy: TDP / logical CPUs.
double watts_per_busy_cpu(double tdp_w, int n_cpus);

// An energy counter of estimated joules. Attributed (a cpu_s clock given): each read adds
// TDP / CPUs x the CPU seconds the measured processes used since the previous read (at most
// all CPUs for the elapsed time). Machine-wide (no clock): tdp_w x the busy share of all CPUs'
// jiffies since the previous read x the elapsed time.
class CpuEstimateSensor : public Sensor {
public:
    // tdp_w <= 0: default_cpu_tdp_w(CPUs in proc_stat_path). cpu_s: the measured processes'
    // cumulative CPU seconds (TreeCpuClock::cpu_s), named by `attribution` ("process tree") in the
    // provenance; empty: the whole machine. Throws jb::InputError if the file cannot be read or parsed.
    explicit CpuEstimateSensor(double tdp_w = 0.0, std::string proc_stat_path = "/proc/stat",
                               std::shared_ptr<Clock> clock = steady_clock(), std::function<double()> cpu_s = {},
                               std::string attribution = "");

    Domain domain() const override { return {DomainKind::cpu_package, 0}; }
    SensorKind kind() const override { return SensorKind::energy_counter; }
    const Provenance & provenance() const override { return provenance_; }
    Reading read() override;
    // /proc/stat advances in jiffies (USER_HZ = 100 per second): finer polling only adds
    // quantisation noise and the cost of generating /proc/stat.
    double min_poll_interval_s() const override { return 0.1; }

    double tdp_w() const { return tdp_w_; }
    bool attributed() const { return static_cast<bool>(cpu_s_); }

private:
    double tdp_w_;
    std::string path_;
    std::shared_ptr<Clock> clock_;
    std::function<double()> cpu_s_;
    Provenance provenance_;
    CpuTimes last_;
    double last_cpu_s_ = 0.0;
    double last_t_s_;
    double energy_j_ = 0.0;
};

}  // namespace jb::energy
