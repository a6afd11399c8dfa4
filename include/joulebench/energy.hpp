#pragma once
// What a measurement of energy is: per domain (gpu:N, cpu-package:N, dram:N) the joules of a
// window, gross and net of idle, how they were obtained (counter, power samples, or an estimate
// that is never a measurement), average and peak watts; named phases; and the power timeline.
// Produced by the Meter (joulebench/meter.hpp measures a function or a command) and stored with
// every result.

#include <optional>
#include <string>
#include <vector>

namespace jb::energy {

enum class DomainKind { gpu, cpu_package, dram };

struct Domain {
    DomainKind kind = DomainKind::gpu;
    int index = 0;

    std::string str() const;  // "gpu:0", "cpu-package:1", "dram:0"
    auto operator<=>(const Domain &) const = default;
};

const char * domain_kind_name(DomainKind kind);  // "gpu", "cpu-package", "dram"
// Parses "gpu:0" and the like; throws jb::UsageError naming the accepted forms.
Domain parse_domain(const std::string & text);

// How an energy figure was obtained; stored with every value.
enum class Method {
    counter,   // difference of an energy counter
    samples,   // trapezoid integral of power samples
    estimate,  // a model (TDP x utilisation), never a measurement
};
const char * method_name(Method method);  // "counter", "samples", "estimate"

// Something that cannot be measured here, and why (one line a user can act on).
struct Unavailable {
    std::string what;    // "gpu (NVML)", "cpu-package (RAPL)", "gpu:1 energy counter"
    std::string reason;  // "libnvidia-ml.so.1 not found (no NVIDIA driver): ..."
};

// Energy of one domain over one window.
struct DomainEnergy {
    Domain domain;
    Method method = Method::counter;  // how gross_j was obtained
    std::string sensor;               // provenance name(s) of the sensors read
    double duration_s = 0.0;
    double gross_j = 0.0;
    std::optional<double> idle_w;     // idle baseline power; absent without one
    std::optional<double> net_j;      // gross_j - idle_w x duration_s; absent without a baseline
    std::optional<double> counter_j;  // counter difference, when the domain has a counter
    std::optional<double> samples_j;  // trapezoid integral of power samples, when it has them
    double avg_w = 0.0;               // gross_j / duration_s
    double peak_w = 0.0;              // highest power sample (or counter-derived power)
    long n_samples = 0;               // power samples (or counter readings) inside the window
    double counter_update_hz = 0.0;   // observed rate at which the counter's value changed
    std::string error;                // a sensor failure; the values cover what was read

    bool estimated() const { return method == Method::estimate; }
};

// A named part of a run: [t_begin_s, t_end_s) relative to Measurement::t_start_s.
// Where a domain has both a counter and power samples, its phases get the samples'
// integral scaled so that the phases add up to the counter's total.
struct Phase {
    std::string name;
    double t_begin_s = 0.0;
    double t_end_s = 0.0;
    std::vector<DomainEnergy> domains;  // same order as Measurement::domains
};

struct TimelinePoint {
    double t_s = 0.0;  // relative to Measurement::t_start_s
    int domain = 0;    // index into Measurement::domains
    double power_w = 0.0;
};

// Whose CPU time a CpuLoad's own_cpu_s (and the CPU estimate) counts.
enum class CpuScope {
    machine,       // every CPU's busy time (/proc/stat): the whole machine, other jobs included
    process_tree,  // this process (all its threads) and its descendants: work run in-process
    children,      // this process's descendants only: a command it runs (joulebench measure --)
};

// A window's CPU time: the whole machine's (all CPUs' busy time, /proc/stat) and the measured
// processes'. Another job beside a measurement lands in a CPU package counter (RAPL) and slows
// ours; busy() says when it was large enough to matter (docs/energy.md, "Other load").
struct CpuLoad {
    double duration_s = 0.0;
    double machine_busy_cpu_s = 0.0;
    double own_cpu_s = 0.0;
    int n_cpus = 0;
    CpuScope scope = CpuScope::process_tree;

    // CPU seconds other processes used beside ours, and how many CPUs that kept busy on average.
    double other_cpu_s() const;
    double other_cpus() const;
    // Other processes kept at least kBusyOtherCpus CPUs busy on average, at least kBusyOtherShare
    // of the machine's busy time was theirs, and their CPU time is beyond what /proc/stat's
    // 10 ms ticks can blur in a short window (kBusyMinOtherCpuSPerCpu per CPU).
    bool busy() const;
};
inline constexpr double kBusyOtherCpus = 0.25;
inline constexpr double kBusyOtherShare = 0.10;
inline constexpr double kBusyMinOtherCpuSPerCpu = 0.02;

struct Measurement {
    std::string name;
    double t_start_s = 0.0;  // Clock::now_s() time base (CLOCK_MONOTONIC with the steady clock)
    double t_end_s = 0.0;
    double idle_s = 0.0;  // length of the idle baseline; 0 if none
    double interval_s = 0.0;
    long n_ticks = 0;            // polls of all sensors
    double sampler_cpu_s = 0.0;  // CPU time the sampling thread used (the Meter's overhead)

    std::vector<DomainEnergy> domains;  // sorted: gpu, cpu-package, dram; by index
    std::vector<Phase> phases;
    std::vector<TimelinePoint> timeline;

    // Measured (counter or samples) domains only; an estimate never enters these.
    double total_j = 0.0;
    std::optional<double> total_net_j;  // absent unless every measured domain has a baseline
    // Estimated domains, kept apart.
    double estimated_total_j = 0.0;
    std::optional<double> estimated_total_net_j;

    double duration_s() const { return t_end_s - t_start_s; }
    bool has_measured() const;
    bool has_estimated() const;
    // Sum of the measured domains of one kind (all GPUs: total_j(DomainKind::gpu)).
    double total_j_of(DomainKind kind) const;
    const DomainEnergy * find(Domain domain) const;
};

}  // namespace jb::energy
