#pragma once
// The Meter: samples every sensor from a background thread (100 Hz by default; counters
// are read at start, end, each mark and each poll), measures an idle baseline before the
// workload, splits the run into named phases, and turns the readings into joules per
// domain (gross, net of idle, and how they were obtained), average and peak watts, and a
// timeline for reports. Zeus-style windows (begin_window/end_window) work on the same data.
//
//   Meter meter(discover_sensors().sensors);
//   meter.measure_idle(5.0);
//   meter.start("load");  ...  meter.mark("prefill");  ...  meter.mark("decode");  ...
//   Measurement m = meter.stop();

#include <cmath>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "energy/clock.hpp"
#include "energy/sensor.hpp"
#include "joulebench/energy.hpp"

namespace jb::energy {

struct MeterParams {
    double interval_s = 0.010;  // sampling period of the thread (100 Hz)
    bool thread = true;         // false: no thread; the caller drives sampling with tick() (tests)
};

class Meter {
public:
    // At most one counter and one power sensor per domain (std::invalid_argument otherwise).
    explicit Meter(SensorList sensors, MeterParams params = {}, std::shared_ptr<Clock> clock = steady_clock());
    ~Meter();
    Meter(const Meter &) = delete;
    Meter & operator=(const Meter &) = delete;

    // Samples for idle_s seconds before the workload starts and sets each domain's idle
    // power (its own baseline: GPUs and CPUs are subtracted separately). Before start().
    void measure_idle(double idle_s);
    // Each domain's idle power (from measure_idle or set_idle_power); domains without one are absent.
    std::vector<std::pair<Domain, double>> idle_power() const;
    // Uses a baseline measured earlier instead of measuring one: a sweep measures idle once
    // and gives every cell's Meter the same baseline. Before start().
    void set_idle_power(const std::vector<std::pair<Domain, double>> & idle_w);
    // The most recent power of each measured domain, summed (watts), for a live display;
    // 0 before the first samples. Estimated domains are left out.
    double latest_power_w() const;

    // Reads every sensor and starts the sampling thread; the first phase is first_phase.
    void start(const std::string & first_phase = "run");
    // Ends the current phase and begins the next one (reads every sensor at the boundary).
    void mark(const std::string & phase);
    // One poll of every sensor; the thread calls it, or a test when params.thread is false.
    void tick();
    // Stops the thread, reads every sensor, and computes the run.
    Measurement stop();

    // Zeus-style windows while running; windows may nest or overlap. end_window throws
    // std::logic_error for a window that was not begun.
    void begin_window(const std::string & name);
    Measurement end_window(const std::string & name);

    bool running() const { return running_; }
    const SensorList & sensors() const { return sensors_; }

private:
    struct Track;
    enum class Read {
        due,       // a regular poll: each sensor at most every min_poll_interval_s()
        boundary,  // a mark or window edge: every sensor without a minimum interval, others if due
        all,       // start, stop, idle edges: every sensor
    };
    void tick_locked(Read read);
    void thread_main();
    DomainEnergy energy_locked(const Track & track, double t0_s, double t1_s) const;
    Measurement measure_locked(const std::string & name, double t0_s, double t1_s) const;

    SensorList sensors_;
    MeterParams params_;
    std::shared_ptr<Clock> clock_;
    std::vector<std::unique_ptr<Track>> tracks_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
    bool running_ = false;
    bool stop_requested_ = false;
    long n_ticks_ = 0;
    double sampler_cpu_s_ = 0.0;
    double t_start_s_ = 0.0;
    std::optional<std::pair<double, double>> idle_window_;
    std::vector<std::pair<std::string, double>> phase_starts_;
    std::map<std::string, double> windows_;
    std::vector<Reading> poll_buffer_;
};

// After heavy work a device draws more than its idle power for a while (clocks, fans, heat).
// settle_to_idle measures window by window (measure() returns the watts of one window of step_s
// seconds) until the power is within `tolerance` of baseline_w or max_wait_s has been spent
// (at least one window is measured).
struct Settle {
    double watts = NAN;     // the last window's power
    double waited_s = 0.0;  // windows measured x step_s
    bool settled = false;   // watts <= (1 + tolerance) x baseline_w
};
Settle settle_to_idle(const std::function<double()> & measure, double step_s, double baseline_w, double max_wait_s,
                      double tolerance = 0.15);

}  // namespace jb::energy
