#pragma once
// Scripted power for tests and benchmarks: a trace of watts over time (piecewise-constant
// or piecewise-linear), read through the same Sensor interface as real hardware, either as
// power samples or as an energy counter of the same trace (optionally wrapping).

#include <memory>
#include <string>
#include <vector>

#include "energy/clock.hpp"
#include "energy/sensor.hpp"

namespace jb::energy {

struct TracePoint {
    double t_s = 0.0;
    double power_w = 0.0;
};

enum class TraceShape {
    steps,   // power_w holds from a point until the next point
    linear,  // power_w ramps linearly between points
};

class PowerTrace {
public:
    // Throws std::invalid_argument for no points or times that go backwards.
    explicit PowerTrace(std::vector<TracePoint> points, TraceShape shape = TraceShape::steps);

    // Watts at t_s; the first point's value before it, the last point's after it.
    double power_w(double t_s) const;
    // Exact integral of power_w over [t0_s, t1_s] in joules (negative if t1_s < t0_s).
    double energy_j(double t0_s, double t1_s) const;

private:
    std::vector<TracePoint> points_;
    TraceShape shape_;
};

struct SyntheticParams {
    SensorKind kind = SensorKind::power;  // power: watts now; energy_counter: joules since origin_s
    double origin_s = 0.0;                // counter origin
    double counter_offset_j = 0.0;        // counter value at origin_s (to start near a wrap)
    double wrap_j = 0.0;                  // counter restarts from 0 after this many joules; 0 = never
    bool estimated = false;               // label the values as an estimate
    double min_poll_interval_s = 0.0;
};

class SyntheticSensor : public Sensor {
public:
    SyntheticSensor(Domain domain, PowerTrace trace, SyntheticParams params = {},
                    std::shared_ptr<Clock> clock = steady_clock());

    Domain domain() const override { return domain_; }
    SensorKind kind() const override { return params_.kind; }
    const Provenance & provenance() const override { return provenance_; }
    Reading read() override;
    double wrap_j() const override { return params_.wrap_j; }
    double min_poll_interval_s() const override { return params_.min_poll_interval_s; }

    // After this, read() throws jb::RuntimeFailure(message) (to test failure handling).
    void fail_with(std::string message) { failure_ = std::move(message); }
    long reads() const { return reads_; }

private:
    Domain domain_;
    PowerTrace trace_;
    SyntheticParams params_;
    std::shared_ptr<Clock> clock_;
    Provenance provenance_;
    std::string failure_;
    long reads_ = 0;
};

}  // namespace jb::energy
