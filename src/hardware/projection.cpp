#include "hardware/projection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "joulebench/error.hpp"

namespace jb::hardware {

static constexpr double kInf = std::numeric_limits<double>::infinity();
static constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

const char * bound_name(Bound b) {
    switch (b) {
        case Bound::compute: return "compute";
        case Bound::kernel: return "kernel";
        case Bound::bandwidth: break;
    }
    return "bandwidth";
}

// Power by the share rule, and the energies of the projected time p.t_s.
static void project_power(PhaseProjection & p, double power_w, const DeviceFigures & source,
                          const DeviceFigures & target) {
    p.power_share = power_share(power_w, source);
    p.power_w = power_at_share(p.power_share, target);
    p.energy_j = p.power_w * p.t_s;
    p.energy_net_j = (p.power_w - target.idle_w) * p.t_s;
}

static void check_device(const DeviceFigures & d, const char * which) {
    auto positive = [](double v) { return std::isfinite(v) && v > 0; };
    if (!positive(d.bw_gbs)) throw Error(fmt::format("projection: {} memory bandwidth must be positive", which));
    if (!positive(d.tput_tflops)) throw Error(fmt::format("projection: {} throughput must be positive", which));
    if (!positive(d.tdp_w)) throw Error(fmt::format("projection: {} board power limit must be positive", which));
    if (!std::isfinite(d.idle_w) || d.idle_w < 0 || d.idle_w >= d.tdp_w) {
        throw Error(fmt::format("projection: {} idle power {} W must be known and below its board limit {} W", which,
                                d.idle_w, d.tdp_w));
    }
}

Efficiencies phase_utilisation(const PhaseMeasurement & m, const DeviceFigures & source, Bound * bound) {
    if (!(m.t_s > 0) || !std::isfinite(m.t_s)) throw Error("projection: phase time must be positive");
    check_device(source, "source");
    Efficiencies u;
    u.bw = m.bytes / m.t_s / (source.bw_gbs * 1e9);
    u.compute = m.flops / m.t_s / (source.tput_tflops * 1e12);
    if (bound) *bound = u.compute > u.bw ? Bound::compute : Bound::bandwidth;
    return u;
}

double power_share(double power_w, const DeviceFigures & source) {
    // Below idle (a short phase read between counter updates) means no load: share 0.
    return std::max(0.0, (power_w - source.idle_w) / (source.tdp_w - source.idle_w));
}

double power_at_share(double share, const DeviceFigures & target) {
    return target.idle_w + share * (target.tdp_w - target.idle_w);
}

PhaseProjection project_phase(const PhaseMeasurement & m, const DeviceFigures & source, const DeviceFigures & target,
                              const Efficiencies & other) {
    check_device(target, "target");
    PhaseProjection p;
    const Efficiencies u = phase_utilisation(m, source, &p.bound);
    p.util_bw = u.bw;
    p.util_compute = u.compute;
    // The binding resource keeps its efficiency; the other is limited only by the best it reaches
    // where it binds (and it already reached u here, so never less).
    auto other_eff = [](double util_here, double known) { return std::isnan(known) ? kInf : std::max(util_here, known); };
    if (p.bound == Bound::bandwidth) {
        p.eff_bw = u.bw;
        p.eff_compute = other_eff(u.compute, other.compute);
    } else {
        p.eff_compute = u.compute;
        p.eff_bw = other_eff(u.bw, other.bw);
    }
    p.t_bw_s = m.bytes > 0 && p.eff_bw > 0 ? m.bytes / (p.eff_bw * target.bw_gbs * 1e9) : 0.0;
    p.t_compute_s = m.flops > 0 && p.eff_compute > 0 ? m.flops / (p.eff_compute * target.tput_tflops * 1e12) : 0.0;
    p.t_s = std::max(p.t_bw_s, p.t_compute_s);
    if (!(p.t_s > 0)) throw Error("projection: a phase with neither bytes nor operations cannot be projected");
    project_power(p, m.power_w, source, target);
    return p;
}

StepFit fit_steps(const std::vector<StepPoint> & points) {
    StepFit f;
    double lo = kInf, hi = 0.0, sx = 0.0, sy = 0.0;
    for (const StepPoint & p : points) {
        if (!(p.bytes > 0) || !(p.step_s > 0)) continue;
        lo = std::min(lo, p.bytes);
        hi = std::max(hi, p.bytes);
        sx += p.bytes;
        sy += p.step_s;
        ++f.points;
    }
    if (f.points < 2 || hi < kMinFitSizeRatio * lo) return f;
    const double mx = sx / f.points, my = sy / f.points;
    double sxy = 0.0, sxx = 0.0, sxy0 = 0.0, sxx0 = 0.0;
    for (const StepPoint & p : points) {
        if (!(p.bytes > 0) || !(p.step_s > 0)) continue;
        sxy += (p.bytes - mx) * (p.step_s - my);
        sxx += (p.bytes - mx) * (p.bytes - mx);
        sxy0 += p.bytes * p.step_s;
        sxx0 += p.bytes * p.bytes;
    }
    double slope = sxy / sxx, fixed = my - slope * mx;
    if (fixed < 0) {
        fixed = 0.0;
        slope = sxy0 / sxx0;
    }
    if (slope > 0) {
        f.fixed_s = fixed;
        f.s_per_byte = slope;
    }
    return f;
}

double marginal_util_bw(const StepFit & fit, const DeviceFigures & source) {
    return fit.usable() && source.bw_gbs > 0 ? 1.0 / (fit.s_per_byte * source.bw_gbs * 1e9) : kNotKnown;
}

std::optional<PhaseProjection> project_decode_steps(const PhaseMeasurement & m, double steps,
                                                    const DeviceFigures & source, const DeviceFigures & target,
                                                    const DecodeCalibration & cal) {
    check_device(target, "target");
    PhaseProjection p;
    const Efficiencies u = phase_utilisation(m, source, &p.bound);
    const double u_m = marginal_util_bw(cal.fit, source);
    const double best = cal.best_util_bw;
    if (!(steps > 0) || !(m.bytes > 0) || !std::isfinite(u_m) || !(best > 0)) return std::nullopt;
    const double w = m.bytes / steps;  // weight bytes per step
    const double c = (m.t_s / steps - cal.fit.fixed_s) / w;
    if (!(c > 0)) return std::nullopt;
    p.util_bw = u.bw;
    p.util_compute = u.compute;
    p.steps = steps;
    p.fixed_s = cal.fit.fixed_s;
    p.per_byte_s_source = c;
    p.eff_compute = kInf;
    if (u_m >= kBandwidthBoundFraction * best) {
        p.bound = Bound::bandwidth;
        p.eff_bw = 1.0 / (c * source.bw_gbs * 1e9);  // this cell's marginal bandwidth use
        p.per_byte_s = c * source.bw_gbs / target.bw_gbs;
    } else {
        p.bound = Bound::kernel;
        p.eff_bw = best;
        p.kernel_scale = source.sm_ghz > 0 && target.sm_ghz > 0 ? source.sm_ghz / target.sm_ghz : 1.0;
        p.per_byte_s = std::max(c * p.kernel_scale, 1.0 / (best * target.bw_gbs * 1e9));
    }
    p.t_bw_s = steps * (p.fixed_s + w / (p.eff_bw * target.bw_gbs * 1e9));
    p.t_compute_s = 0.0;
    p.t_s = steps * (p.fixed_s + p.per_byte_s * w);
    project_power(p, m.power_w, source, target);
    return p;
}

FitCheck check_fit(double need_bytes, double memory_gib) {
    FitCheck f;
    f.need_gib = need_bytes / kGiB;
    f.have_gib = memory_gib;
    f.fits = f.need_gib <= f.have_gib;
    if (!f.fits) f.message = fmt::format("does not fit: needs {:.1f} GiB of {:.1f} GiB", f.need_gib, f.have_gib);
    return f;
}

double decode_bytes(double weight_bytes, int64_t tokens, int64_t sequences) {
    return weight_bytes * double(tokens) / double(std::max<int64_t>(sequences, 1));
}

double prefill_bytes(double weight_bytes, int64_t tokens, int64_t ubatch) {
    const int64_t ub = std::max<int64_t>(ubatch, 1);
    return weight_bytes * double((tokens + ub - 1) / ub);
}

double phase_flops(int64_t n_params, int64_t tokens) {
    return 2.0 * double(n_params) * double(tokens);
}

}  // namespace jb::hardware
