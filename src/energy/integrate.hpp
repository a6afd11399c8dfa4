#pragma once
// The arithmetic of energy: counter differences across a wrap-around, and the trapezoid
// integral of power samples over a time window.

#include <span>

#include "energy/sensor.hpp"

namespace jb::energy {

// cur_j - prev_j for a counter that restarts from 0 after wrap_j joules (RAPL's
// max_energy_range_uj). One wrap between two readings is assumed; wrap_j = 0: never wraps.
double counter_delta_j(double prev_j, double cur_j, double wrap_j);

// Value of the piecewise-linear curve through points (sorted by t_s) at t_s; constant
// before the first point and after the last. 0 for no points.
double interpolate(std::span<const Reading> points, double t_s);

// Joules of power samples (watts, sorted by t_s) over [t0_s, t1_s]: trapezoid rule between
// samples, linear interpolation at the window's edges, and the nearest sample held constant
// where the window extends past the samples. 0 for no samples or an empty window.
double integrate_power_j(std::span<const Reading> samples, double t0_s, double t1_s);

}  // namespace jb::energy
