#include "hardware/projection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "util/error.hpp"

namespace jb::hardware {

static constexpr double kInf = std::numeric_limits<double>::infinity();
static constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

const char * bound_name(Bound b) {
    return b == Bound::compute ? "compute" : "bandwidth";
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
    p.power_share = power_share(m.power_w, source);
    p.power_w = power_at_share(p.power_share, target);
    p.energy_j = p.power_w * p.t_s;
    p.energy_net_j = (p.power_w - target.idle_w) * p.t_s;
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
