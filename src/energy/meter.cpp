#include "energy/meter.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <span>
#include <stdexcept>

#include <fmt/format.h>

#include "energy/integrate.hpp"

namespace jb::energy {

// Everything read from one domain: its counter (unwrapped, joules since the first reading)
// and its power samples, both sorted by time.
struct Meter::Track {
    Domain domain;
    std::shared_ptr<Sensor> counter;
    std::shared_ptr<Sensor> power;
    bool estimated = false;

    std::vector<Reading> counter_pts;
    std::vector<Reading> power_pts;
    double last_raw_j = 0.0;
    double counter_read_t_s = -std::numeric_limits<double>::infinity();
    double power_read_t_s = -std::numeric_limits<double>::infinity();

    std::optional<double> idle_w;
    std::string error;

    bool has_counter() const { return counter_pts.size() >= 2; }
    bool has_samples() const { return !power_pts.empty(); }
};

static double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

static void push_sorted(std::vector<Reading> & pts, Reading r) {
    // Sources stamp their own readings; never let a later reading sort before an earlier one.
    if (!pts.empty() && r.t_s < pts.back().t_s) r.t_s = pts.back().t_s;
    pts.push_back(r);
}

// The readings with t0_s <= t_s <= t1_s (pts sorted by time).
static std::span<const Reading> readings_in(const std::vector<Reading> & pts, double t0_s, double t1_s) {
    auto first = std::lower_bound(pts.begin(), pts.end(), t0_s, [](const Reading & r, double t) { return r.t_s < t; });
    auto last = std::upper_bound(first, pts.end(), t1_s, [](double t, const Reading & r) { return t < r.t_s; });
    return {first, last};
}

Meter::Meter(SensorList sensors, MeterParams params, std::shared_ptr<Clock> clock)
    : sensors_(std::move(sensors)), params_(params), clock_(std::move(clock)) {
    if (!(params_.interval_s > 0.0)) throw std::invalid_argument("Meter: interval_s must be > 0");
    for (const auto & s : sensors_) {
        if (!s) continue;
        Domain d = s->domain();
        auto it = std::find_if(tracks_.begin(), tracks_.end(), [&](const auto & t) { return t->domain == d; });
        if (it == tracks_.end()) {
            tracks_.push_back(std::make_unique<Track>());
            tracks_.back()->domain = d;
            it = tracks_.end() - 1;
        }
        Track & t = **it;
        std::shared_ptr<Sensor> & slot = s->kind() == SensorKind::energy_counter ? t.counter : t.power;
        if (slot) {
            throw std::invalid_argument(fmt::format("Meter: two {} sensors for {}: '{}' and '{}'",
                                                    sensor_kind_name(s->kind()), d.str(), slot->provenance().name,
                                                    s->provenance().name));
        }
        slot = s;
        t.estimated = t.estimated || s->provenance().estimated;
    }
    std::sort(tracks_.begin(), tracks_.end(), [](const auto & a, const auto & b) { return a->domain < b->domain; });
    for (auto & t : tracks_) {
        // Ten seconds at 100 Hz up front; beyond that the vectors double, a copy every few
        // minutes of a long run.
        t->counter_pts.reserve(1024);
        t->power_pts.reserve(1024);
    }
}

Meter::~Meter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_requested_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

// Window boundaries: a window begins at the clock time *before* its forced reading and ends
// at the time *after* it, so that the boundary readings fall inside the window and the
// counter's last value is not diluted by interpolation towards a reading after the end.
void Meter::tick_locked(Read read) {
    double now = clock_->now_s();
    // Sensors with a minimum poll interval (costly or slow, like the /proc/stat estimate) are
    // read at a mark or window edge only when due: they are interpolated there instead.
    auto due = [&](const Sensor & s, double last_read_t_s) {
        double min_s = s.min_poll_interval_s();
        return read == Read::all || (read == Read::boundary && min_s <= 0.0) || now - last_read_t_s >= min_s;
    };
    for (auto & tp : tracks_) {
        Track & t = *tp;
        if (t.counter && due(*t.counter, t.counter_read_t_s)) {
            t.counter_read_t_s = now;
            try {
                Reading r = t.counter->read();
                if (t.counter_pts.empty()) {
                    push_sorted(t.counter_pts, {0.0, r.t_s});
                } else {
                    double delta = counter_delta_j(t.last_raw_j, r.value, t.counter->wrap_j());
                    if (delta < 0.0) {
                        if (t.error.empty())
                            t.error = fmt::format("{}: counter went backwards (reset?)", t.domain.str());
                        delta = 0.0;
                    }
                    push_sorted(t.counter_pts, {t.counter_pts.back().value + delta, r.t_s});
                }
                t.last_raw_j = r.value;
            } catch (const std::exception & e) {
                if (t.error.empty()) t.error = e.what();
            }
        }
        if (t.power && due(*t.power, t.power_read_t_s)) {
            t.power_read_t_s = now;
            poll_buffer_.clear();
            try {
                t.power->poll(poll_buffer_);
            } catch (const std::exception & e) {
                if (t.error.empty()) t.error = e.what();
            }
            for (const Reading & r : poll_buffer_) push_sorted(t.power_pts, r);
        }
    }
    ++n_ticks_;
}

void Meter::tick() {
    std::lock_guard<std::mutex> lock(mutex_);
    tick_locked(Read::due);
}

void Meter::thread_main() {
    double cpu0_s = thread_cpu_s();
    std::unique_lock<std::mutex> lock(mutex_);
    double next_s = t_start_s_ + params_.interval_s;
    while (!stop_requested_) {
        double wait_s = next_s - clock_->now_s();
        if (wait_s > 0.0) {
            // Sleep to an absolute steady deadline (the period does not drift by the poll's
            // cost), waking early only to stop.
            auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(wait_s));
            if (wake_.wait_for(lock, wait, [this] { return stop_requested_; })) break;
        }
        tick_locked(Read::due);
        next_s += params_.interval_s;
        double now_s = clock_->now_s();
        // Fell behind (machine suspended or overloaded): skip the missed polls, no burst.
        if (next_s < now_s) next_s = now_s + params_.interval_s;
    }
    sampler_cpu_s_ += thread_cpu_s() - cpu0_s;
}

void Meter::measure_idle(double idle_s) {
    if (running_) throw std::logic_error("Meter::measure_idle: call it before start()");
    if (!(idle_s > 0.0)) return;
    double t0_s;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        t0_s = clock_->now_s();
        tick_locked(Read::all);
    }
    double end_s = t0_s + idle_s;
    double next_s = t0_s + params_.interval_s;
    double t1_s;
    for (;;) {
        clock_->sleep_until(std::min(next_s, end_s));
        std::lock_guard<std::mutex> lock(mutex_);
        double now_s = clock_->now_s();
        if (now_s >= end_s) {
            tick_locked(Read::all);
            t1_s = clock_->now_s();
            break;
        }
        tick_locked(Read::due);
        next_s += params_.interval_s;
        if (next_s < now_s) next_s = now_s + params_.interval_s;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto & tp : tracks_) {
        DomainEnergy e = energy_locked(*tp, t0_s, t1_s);
        tp->idle_w = e.gross_j / (t1_s - t0_s);
    }
    idle_window_ = {t0_s, t1_s};
}

std::vector<std::pair<Domain, double>> Meter::idle_power() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::pair<Domain, double>> out;
    for (const auto & t : tracks_) {
        if (t->idle_w) out.emplace_back(t->domain, *t->idle_w);
    }
    return out;
}

void Meter::set_idle_power(const std::vector<std::pair<Domain, double>> & idle_w) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_) throw std::logic_error("Meter::set_idle_power: call it before start()");
    for (auto & t : tracks_) {
        t->idle_w.reset();
        for (const auto & [domain, watts] : idle_w) {
            if (domain == t->domain) t->idle_w = watts;
        }
    }
}

double Meter::latest_power_w() const {
    std::lock_guard<std::mutex> lock(mutex_);
    double sum = 0.0;
    for (const auto & t : tracks_) {
        if (t->estimated) continue;
        if (!t->power_pts.empty()) {
            sum += t->power_pts.back().value;
        } else if (t->counter_pts.size() >= 2) {
            // Power from the last counter step: the counter moves in ~100 ms steps.
            const Reading & a = t->counter_pts[t->counter_pts.size() - 2];
            const Reading & b = t->counter_pts.back();
            if (b.t_s > a.t_s) sum += (b.value - a.value) / (b.t_s - a.t_s);
        }
    }
    return sum;
}

void Meter::start(const std::string & first_phase) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (running_) throw std::logic_error("Meter::start: already running");
        t_start_s_ = clock_->now_s();
        tick_locked(Read::all);
        phase_starts_.assign(1, {first_phase, t_start_s_});
        windows_.clear();
        running_ = true;
        stop_requested_ = false;
    }
    if (params_.thread) thread_ = std::thread(&Meter::thread_main, this);
}

void Meter::mark(const std::string & phase) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) throw std::logic_error("Meter::mark: not running");
    tick_locked(Read::boundary);
    phase_starts_.emplace_back(phase, clock_->now_s());
}

void Meter::begin_window(const std::string & name) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) throw std::logic_error("Meter::begin_window: not running");
    double now_s = clock_->now_s();
    tick_locked(Read::boundary);
    windows_[name] = now_s;
}

Measurement Meter::end_window(const std::string & name) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = windows_.find(name);
    if (it == windows_.end()) throw std::logic_error("Meter::end_window: no window named '" + name + "'");
    double t0_s = it->second;
    windows_.erase(it);
    tick_locked(Read::boundary);
    double t1_s = clock_->now_s();
    Measurement m = measure_locked(name, t0_s, t1_s);
    Phase p;
    p.name = name;
    p.t_end_s = t1_s - t0_s;
    p.domains = m.domains;
    m.phases.push_back(std::move(p));
    return m;
}

Measurement Meter::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_) throw std::logic_error("Meter::stop: not running");
        stop_requested_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();

    std::lock_guard<std::mutex> lock(mutex_);
    tick_locked(Read::all);
    double t_end_s = clock_->now_s();
    running_ = false;
    Measurement m = measure_locked(phase_starts_.front().first, t_start_s_, t_end_s);

    for (size_t i = 0; i < phase_starts_.size(); ++i) {
        double a_s = phase_starts_[i].second;
        double b_s = i + 1 < phase_starts_.size() ? phase_starts_[i + 1].second : t_end_s;
        Phase p;
        p.name = phase_starts_[i].first;
        p.t_begin_s = a_s - t_start_s_;
        p.t_end_s = b_s - t_start_s_;
        for (size_t k = 0; k < tracks_.size(); ++k) {
            const Track & t = *tracks_[k];
            const DomainEnergy & run = m.domains[k];
            DomainEnergy e = energy_locked(t, a_s, b_s);
            if (t.has_counter() && t.has_samples()) {
                // The counter is the better total, the samples the better shape within the run
                // (a counter updating every ~100 ms cannot resolve a 50 ms prefill): split the
                // counter's total in proportion to the samples' integral over each phase.
                if (run.samples_j && *run.samples_j > 0.0) {
                    e.gross_j = e.samples_j.value_or(0.0) * run.gross_j / *run.samples_j;
                } else if (run.duration_s > 0.0) {
                    e.gross_j = run.gross_j * (b_s - a_s) / run.duration_s;
                }
                if (t.idle_w) e.net_j = e.gross_j - *t.idle_w * e.duration_s;
                e.avg_w = e.duration_s > 0.0 ? e.gross_j / e.duration_s : 0.0;
            }
            p.domains.push_back(std::move(e));
        }
        m.phases.push_back(std::move(p));
    }
    return m;
}

DomainEnergy Meter::energy_locked(const Track & t, double t0_s, double t1_s) const {
    DomainEnergy e;
    e.domain = t.domain;
    e.duration_s = t1_s - t0_s;
    e.error = t.error;
    if (t.counter) e.sensor = t.counter->provenance().name;
    if (t.power) e.sensor += (e.sensor.empty() ? "" : " + ") + t.power->provenance().name;

    if (t.has_counter()) e.counter_j = interpolate(t.counter_pts, t1_s) - interpolate(t.counter_pts, t0_s);
    if (t.has_samples()) e.samples_j = integrate_power_j(t.power_pts, t0_s, t1_s);
    if (t.estimated) {
        e.method = Method::estimate;
    } else {
        e.method = e.counter_j ? Method::counter : Method::samples;
    }
    e.gross_j = e.counter_j ? *e.counter_j : e.samples_j.value_or(0.0);
    if (t.idle_w) {
        e.idle_w = t.idle_w;
        e.net_j = e.gross_j - *t.idle_w * e.duration_s;
    }
    e.avg_w = e.duration_s > 0.0 ? e.gross_j / e.duration_s : 0.0;

    // Only the readings inside the window are visited (binary search), so that a run with
    // thousands of phases costs O(readings + phases x log readings), not their product.
    if (t.has_samples()) {
        e.peak_w = std::max(interpolate(t.power_pts, t0_s), interpolate(t.power_pts, t1_s));
        for (const Reading & r : readings_in(t.power_pts, t0_s, t1_s)) {
            ++e.n_samples;
            e.peak_w = std::max(e.peak_w, r.value);
        }
    } else if (t.has_counter()) {
        // Power from successive counter readings at least half a period apart (closer ones,
        // such as a forced read just after a poll, only add quantisation noise).
        double min_dt_s = std::max(0.5 * params_.interval_s, t.counter->min_poll_interval_s());
        const Reading * anchor = nullptr;
        for (const Reading & r : readings_in(t.counter_pts, t0_s, t1_s)) {
            ++e.n_samples;
            if (!anchor) {
                anchor = &r;
            } else if (r.t_s - anchor->t_s >= min_dt_s) {
                e.peak_w = std::max(e.peak_w, (r.value - anchor->value) / (r.t_s - anchor->t_s));
                anchor = &r;
            }
        }
    }
    if (t.has_counter() && e.duration_s > 0.0) {
        long changes = 0;
        const Reading * prev = nullptr;
        for (const Reading & r : readings_in(t.counter_pts, t0_s, t1_s)) {
            if (prev && r.value != prev->value) ++changes;
            prev = &r;
        }
        e.counter_update_hz = static_cast<double>(changes) / e.duration_s;
    }
    return e;
}

Measurement Meter::measure_locked(const std::string & name, double t0_s, double t1_s) const {
    Measurement m;
    m.name = name;
    m.t_start_s = t0_s;
    m.t_end_s = t1_s;
    m.idle_s = idle_window_ ? idle_window_->second - idle_window_->first : 0.0;
    m.interval_s = params_.interval_s;
    m.n_ticks = n_ticks_;
    m.sampler_cpu_s = sampler_cpu_s_;

    bool measured_net = true;
    bool estimated_net = true;
    for (size_t k = 0; k < tracks_.size(); ++k) {
        const Track & t = *tracks_[k];
        DomainEnergy e = energy_locked(t, t0_s, t1_s);
        if (e.estimated()) {
            m.estimated_total_j += e.gross_j;
            estimated_net = estimated_net && e.net_j.has_value();
        } else {
            m.total_j += e.gross_j;
            measured_net = measured_net && e.net_j.has_value();
        }
        m.domains.push_back(std::move(e));

        int idx = static_cast<int>(k);
        if (t.has_samples()) {
            for (const Reading & r : readings_in(t.power_pts, t0_s, t1_s)) {
                m.timeline.push_back({r.t_s - t0_s, idx, r.value});
            }
        } else if (t.has_counter()) {
            double min_dt_s = std::max(0.5 * params_.interval_s, t.counter->min_poll_interval_s());
            const Reading * anchor = nullptr;
            for (const Reading & r : readings_in(t.counter_pts, t0_s, t1_s)) {
                if (!anchor) {
                    anchor = &r;
                } else if (r.t_s - anchor->t_s >= min_dt_s) {
                    m.timeline.push_back({r.t_s - t0_s, idx, (r.value - anchor->value) / (r.t_s - anchor->t_s)});
                    anchor = &r;
                }
            }
        }
    }
    if (m.has_measured() && measured_net) {
        m.total_net_j = 0.0;
        for (const auto & e : m.domains) {
            if (!e.estimated()) *m.total_net_j += *e.net_j;
        }
    }
    if (m.has_estimated() && estimated_net) {
        m.estimated_total_net_j = 0.0;
        for (const auto & e : m.domains) {
            if (e.estimated()) *m.estimated_total_net_j += *e.net_j;
        }
    }
    std::stable_sort(m.timeline.begin(), m.timeline.end(),
                     [](const TimelinePoint & a, const TimelinePoint & b) { return a.t_s < b.t_s; });
    return m;
}

bool Measurement::has_measured() const {
    return std::any_of(domains.begin(), domains.end(), [](const DomainEnergy & e) { return !e.estimated(); });
}

bool Measurement::has_estimated() const {
    return std::any_of(domains.begin(), domains.end(), [](const DomainEnergy & e) { return e.estimated(); });
}

double Measurement::total_j_of(DomainKind kind) const {
    double sum = 0.0;
    for (const auto & e : domains) {
        if (e.domain.kind == kind && !e.estimated()) sum += e.gross_j;
    }
    return sum;
}

const DomainEnergy * Measurement::find(Domain domain) const {
    for (const auto & e : domains) {
        if (e.domain == domain) return &e;
    }
    return nullptr;
}

Settle settle_to_idle(const std::function<double()> & measure, double step_s, double baseline_w, double max_wait_s,
                      double tolerance) {
    Settle out;
    do {
        out.watts = measure();
        out.waited_s += step_s;
        out.settled = std::isfinite(out.watts) && out.watts <= (1.0 + tolerance) * baseline_w;
    } while (!out.settled && out.waited_s + step_s <= max_wait_s + 1e-9);
    return out;
}

}  // namespace jb::energy
