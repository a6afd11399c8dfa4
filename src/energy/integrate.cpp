#include "energy/integrate.hpp"

#include <algorithm>

namespace jb::energy {

double counter_delta_j(double prev_j, double cur_j, double wrap_j) {
    if (cur_j >= prev_j || wrap_j <= 0.0) return cur_j - prev_j;
    // The counter passed its maximum and restarted from zero.
    return cur_j + wrap_j - prev_j;
}

static bool before(const Reading & r, double t_s) {
    return r.t_s < t_s;
}

double interpolate(std::span<const Reading> points, double t_s) {
    if (points.empty()) return 0.0;
    if (t_s <= points.front().t_s) return points.front().value;
    if (t_s >= points.back().t_s) return points.back().value;
    auto it = std::lower_bound(points.begin(), points.end(), t_s, before);  // first point with t >= t_s
    const Reading & b = *it;
    const Reading & a = *(it - 1);
    if (b.t_s == a.t_s) return b.value;
    return a.value + (b.value - a.value) * (t_s - a.t_s) / (b.t_s - a.t_s);
}

double integrate_power_j(std::span<const Reading> samples, double t0_s, double t1_s) {
    if (samples.empty() || t1_s <= t0_s) return 0.0;
    // Walk the polyline t0 -> samples strictly inside (t0, t1) -> t1.
    double t_prev = t0_s;
    double w_prev = interpolate(samples, t0_s);
    double energy_j = 0.0;
    auto it =
        std::upper_bound(samples.begin(), samples.end(), t0_s, [](double t, const Reading & r) { return t < r.t_s; });
    for (; it != samples.end() && it->t_s < t1_s; ++it) {
        energy_j += 0.5 * (w_prev + it->value) * (it->t_s - t_prev);
        t_prev = it->t_s;
        w_prev = it->value;
    }
    energy_j += 0.5 * (w_prev + interpolate(samples, t1_s)) * (t1_s - t_prev);
    return energy_j;
}

}  // namespace jb::energy
