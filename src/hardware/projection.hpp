#pragma once
// Projection of a measured workload phase to another GPU: a roofline-style model whose
// efficiencies are calibrated on the measured host (docs/projection.md). Pure arithmetic: no I/O,
// no store, no catalogue file; the CLI (cmd_project.cpp) gathers the inputs.
//
// Per phase (prefill, decode):
//   achieved bandwidth  = bytes / t          utilisation u_bw = achieved / peak bandwidth (source)
//   achieved compute    = flops / t          utilisation u_c  = achieved / peak throughput (source)
//   the phase is bound by the resource with the higher utilisation; that resource keeps its
//   utilisation as its efficiency on the target. The other resource's efficiency is the best it
//   reaches where it binds (another phase of the same model and scheme on the source, `other`),
//   never below its utilisation here; without such a phase it is taken as not limiting.
//   t_target = max(bytes / (eff_bw x bw_target), flops / (eff_c x throughput_target))
//   power share = (P_phase - idle_src) / (TDP_src - idle_src), measured
//   P_target = idle_tgt + share x (TDP_tgt - idle_tgt); energy = P_target x t_target;
//   net energy = (P_target - idle_tgt) x t_target.

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace jb::hardware {

inline constexpr double kNotKnown = std::numeric_limits<double>::quiet_NaN();

// What the model reads of a GPU for one phase: peak bandwidth, the peak throughput of the
// precision the phase computes in (FP16 tensor for F16/BF16 weights, INT8 tensor for quantized
// weights), board power limit and idle power.
struct DeviceFigures {
    double bw_gbs = 0.0;       // GB/s (10^9 bytes)
    double tput_tflops = 0.0;  // TFLOP/s (or TOP/s for INT8)
    double tdp_w = 0.0;
    double idle_w = 0.0;
    double sm_ghz = kNotKnown;  // SMs x boost clock (GHz): the scale of a kernel-bound decode
};

// One measured phase.
struct PhaseMeasurement {
    double t_s = 0.0;      // phase time on the source
    double bytes = 0.0;    // DRAM bytes the phase moves (model: weights per pass; docs/projection.md)
    double flops = 0.0;    // floating-point (or integer) operations of the phase (2 x params x tokens)
    double power_w = 0.0;  // mean GPU board power during the phase (gross)
};

// Efficiencies (achieved / peak) a resource reaches where it binds; NaN = not known.
struct Efficiencies {
    double bw = kNotKnown;
    double compute = kNotKnown;
};

// kernel: a decode step's own work per weight byte (dequantizing, dot products), not the memory,
// limits it (roofline-v2, below).
enum class Bound { bandwidth, compute, kernel };
const char * bound_name(Bound b);  // "bandwidth", "compute", "kernel"

struct PhaseProjection {
    double util_bw = 0.0, util_compute = 0.0;  // on the source: achieved / peak
    Bound bound = Bound::bandwidth;
    double eff_bw = 0.0, eff_compute = 0.0;  // used on the target; +inf = not limiting
    double t_bw_s = 0.0, t_compute_s = 0.0;  // the target's time if only that resource limited it
    double t_s = 0.0;                        // projected phase time = max of the two
    double power_share = 0.0;                // of the board limit above idle, measured
    double power_w = 0.0;                    // projected mean power
    double energy_j = 0.0, energy_net_j = 0.0;
    // roofline-v2 decode only (project_decode_steps); NaN otherwise
    double steps = kNotKnown;              // decode steps: tokens / sequences decoded together
    double fixed_s = kNotKnown;            // fixed time per step, source and target alike
    double per_byte_s_source = kNotKnown;  // time per weight byte on the source, this cell
    double per_byte_s = kNotKnown;         // ... on the target
    double kernel_scale = kNotKnown;       // kernel-bound: source SMs x clock / the target's (1 if unknown)
};

// Throws jb::Error for inputs the model cannot use (non-positive time, peaks, TDP <= idle).
PhaseProjection project_phase(const PhaseMeasurement & m, const DeviceFigures & source,
                              const DeviceFigures & target, const Efficiencies & other = {});

// Utilisations of a measured phase (u_bw, u_c) and which resource binds it; for calibrating
// `other` across the phases of one model and scheme.
Efficiencies phase_utilisation(const PhaseMeasurement & m, const DeviceFigures & source, Bound * bound = nullptr);

// Power share only, for phases without a roofline (time unchanged on the target).
double power_share(double power_w, const DeviceFigures & source);
double power_at_share(double share, const DeviceFigures & target);

// roofline-v2 for decode (docs/projection.md, "Decode: a fixed cost per step"). A decode step
// costs a fixed time (kernel launches, synchronisation, sampling; assumed the same on any GPU) plus
// a time per weight byte. The fixed time is the intercept of a line through the step times of the
// source's models of different sizes under one scheme and sequence count; the rest of a cell's step
// time is its time per byte.
//   per byte on the source          c = (t / steps - fixed) / W
//   the group's marginal bandwidth  u_m = 1 / (slope x peak_bw_source)
//   e* = the best u_m among the host's groups at this sequence count
//   bandwidth-bound (u_m >= 0.9 e*): c' = c x bw_source / bw_target
//   kernel-bound (otherwise):        c' = max(c x k, 1 / (e* x bw_target)), k = the source's SMs x
//                                    clock / the target's (1 where either is unknown): the work per
//                                    byte runs on the SMs; the target's memory may still be slower
//   t' = steps x (fixed + c' x W); power as project_phase.
struct StepPoint {
    double bytes = 0.0;   // weights read per step (the quantized file)
    double step_s = 0.0;  // time per decode step
};
struct StepFit {
    double fixed_s = kNotKnown;     // intercept: time per step that does not scale with bytes
    double s_per_byte = kNotKnown;  // slope
    int points = 0;
    bool usable() const { return std::isfinite(fixed_s) && s_per_byte > 0; }
};
// Sizes closer than this cannot separate the fixed cost from the per-byte one.
inline constexpr double kMinFitSizeRatio = 2.0;
inline constexpr double kBandwidthBoundFraction = 0.9;
// Least squares through the points; not usable with fewer than two sizes kMinFitSizeRatio apart or
// a slope <= 0. A negative intercept is clamped to 0 (the line then goes through the origin).
StepFit fit_steps(const std::vector<StepPoint> & points);
// u_m of a fit: 1 / (slope x the source's peak bandwidth).
double marginal_util_bw(const StepFit & fit, const DeviceFigures & source);

struct DecodeCalibration {
    StepFit fit;                     // this cell's group (host, scheme, sequences)
    double best_util_bw = kNotKnown;  // e*
};
// nullopt when the calibration cannot be used for this cell (unusable fit, no e*, or a step time
// not above the fixed time): the caller falls back to project_phase. Throws like project_phase.
std::optional<PhaseProjection> project_decode_steps(const PhaseMeasurement & m, double steps,
                                                    const DeviceFigures & source, const DeviceFigures & target,
                                                    const DecodeCalibration & cal);

// Memory check: a model runs on the target only if its working set fits.
struct FitCheck {
    bool fits = true;
    double need_gib = 0.0, have_gib = 0.0;
    std::string message;  // "does not fit: needs 17.3 GiB of 16.0 GiB" when it does not
};
// need_bytes: the quantized file plus the KV cache and compute buffers (docs/projection.md).
FitCheck check_fit(double need_bytes, double memory_gib);

// Bytes a phase moves under the model: the quantized weights once per forward pass.
//   decode: one pass per step; steps = tokens / sequences decoded together
//   prefill: one pass per micro-batch; passes = ceil(tokens / ubatch) per sequence batch
double decode_bytes(double weight_bytes, int64_t tokens, int64_t sequences);
double prefill_bytes(double weight_bytes, int64_t tokens, int64_t ubatch);
// 2 x parameters x tokens (a multiply-add per weight per token; attention not modelled).
double phase_flops(int64_t n_params, int64_t tokens);

}  // namespace jb::hardware
