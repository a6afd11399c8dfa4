#pragma once
// The time base of every energy reading. Sensors stamp readings and the Meter paces its
// sampling thread with one Clock, so tests can swap in a ManualClock and get exact numbers.

#include <atomic>
#include <memory>

namespace jb::energy {

class Clock {
public:
    virtual ~Clock() = default;
    // Monotonic seconds (steady clock: never jumps with NTP or settimeofday).
    virtual double now_s() const = 0;
    // Wall-clock (UNIX) seconds; used only to convert device timestamps (NVML's sample
    // buffer stamps samples with CPU wall time in microseconds) to now_s()'s time base.
    virtual double wall_s() const = 0;
    // Returns at or after now_s() == t_s.
    virtual void sleep_until(double t_s) = 0;
};

// std::chrono::steady_clock (CLOCK_MONOTONIC on Linux, the same base as Python's
// time.monotonic(), so other processes can line their readings up with ours).
class SteadyClock : public Clock {
public:
    double now_s() const override;
    double wall_s() const override;
    void sleep_until(double t_s) override;
};

// A clock that moves only when told to. sleep_until() jumps forward, so a Meter's idle
// baseline runs instantly and deterministically under test.
class ManualClock : public Clock {
public:
    explicit ManualClock(double t0_s = 0.0, double wall_offset_s = 1.7e9) : t_s_(t0_s), wall_offset_s_(wall_offset_s) {}

    double now_s() const override { return t_s_.load(); }
    double wall_s() const override { return t_s_.load() + wall_offset_s_; }
    void sleep_until(double t_s) override {
        if (t_s > t_s_.load()) t_s_.store(t_s);
    }
    void advance(double dt_s) { t_s_.store(t_s_.load() + dt_s); }
    void set(double t_s) { t_s_.store(t_s); }

private:
    std::atomic<double> t_s_;
    double wall_offset_s_;
};

// One shared steady clock for the process.
std::shared_ptr<Clock> steady_clock();

}  // namespace jb::energy
