#include "energy/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb::energy {

PowerTrace::PowerTrace(std::vector<TracePoint> points, TraceShape shape) : points_(std::move(points)), shape_(shape) {
    if (points_.empty()) throw std::invalid_argument("power trace: no points");
    for (size_t i = 1; i < points_.size(); ++i) {
        if (points_[i].t_s < points_[i - 1].t_s) {
            throw std::invalid_argument(
                fmt::format("power trace: point {} at t={} s goes back in time", i, points_[i].t_s));
        }
    }
}

double PowerTrace::power_w(double t_s) const {
    // Last point with t <= t_s.
    auto it =
        std::upper_bound(points_.begin(), points_.end(), t_s, [](double t, const TracePoint & p) { return t < p.t_s; });
    if (it == points_.begin()) return points_.front().power_w;
    const TracePoint & a = *(it - 1);
    if (it == points_.end() || shape_ == TraceShape::steps) return a.power_w;
    const TracePoint & b = *it;
    return a.power_w + (b.power_w - a.power_w) * (t_s - a.t_s) / (b.t_s - a.t_s);
}

double PowerTrace::energy_j(double t0_s, double t1_s) const {
    if (t1_s < t0_s) return -energy_j(t1_s, t0_s);
    // Integrate piece by piece between the breakpoints inside (t0, t1); each piece is
    // constant (steps) or linear (trapezoid is exact), so the sum is exact.
    double energy = 0.0;
    double t = t0_s;
    for (const TracePoint & p : points_) {
        if (p.t_s <= t) continue;
        if (p.t_s >= t1_s) break;
        double w0 = power_w(t);
        double w1 = shape_ == TraceShape::steps ? w0 : p.power_w;
        energy += 0.5 * (w0 + w1) * (p.t_s - t);
        t = p.t_s;
    }
    double w0 = power_w(t);
    double w1 = shape_ == TraceShape::steps ? w0 : power_w(t1_s);
    energy += 0.5 * (w0 + w1) * (t1_s - t);
    return energy;
}

SyntheticSensor::SyntheticSensor(Domain domain, PowerTrace trace, SyntheticParams params, std::shared_ptr<Clock> clock)
    : domain_(domain), trace_(std::move(trace)), params_(params), clock_(std::move(clock)) {
    provenance_.name =
        params_.kind == SensorKind::energy_counter ? "synthetic energy counter" : "synthetic power trace";
    provenance_.driver = "joulebench synthetic";
    provenance_.estimated = params_.estimated;
}

Reading SyntheticSensor::read() {
    ++reads_;
    if (!failure_.empty()) throw RuntimeFailure(failure_);
    double t = clock_->now_s();
    if (params_.kind == SensorKind::power) return {trace_.power_w(t), t};
    double energy = params_.counter_offset_j + trace_.energy_j(params_.origin_s, t);
    if (params_.wrap_j > 0.0) energy = std::fmod(energy, params_.wrap_j);
    return {energy, t};
}

}  // namespace jb::energy
