// The projection arithmetic (docs/projection.md) on crafted inputs, every expected number worked
// out by hand in the comments.

#include <gtest/gtest.h>

#include <cmath>

#include "hardware/projection.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::hardware;

namespace {

DeviceFigures device(double bw_gbs, double tflops, double tdp_w, double idle_w) {
    DeviceFigures d;
    d.bw_gbs = bw_gbs;
    d.tput_tflops = tflops;
    d.tdp_w = tdp_w;
    d.idle_w = idle_w;
    return d;
}

PhaseMeasurement phase(double t_s, double bytes, double flops, double power_w) {
    PhaseMeasurement m;
    m.t_s = t_s;
    m.bytes = bytes;
    m.flops = flops;
    m.power_w = power_w;
    return m;
}

}  // namespace

TEST(Projection, bandwidth_bound_decode_scales_with_bandwidth) {
    // source: 1000 GB/s, 100 TFLOP/s, 400 W board limit, 50 W idle
    // decode: 1e12 bytes in 2 s = 500 GB/s -> u_bw 0.5; 2e12 FLOPs in 2 s = 1 TFLOP/s -> u_c 0.01
    const DeviceFigures src = device(1000, 100, 400, 50);
    const DeviceFigures tgt = device(2000, 100, 300, 30);
    const PhaseProjection p = project_phase(phase(2.0, 1e12, 2e12, 225.0), src, tgt);
    EXPECT_DOUBLE_EQ(p.util_bw, 0.5);
    EXPECT_DOUBLE_EQ(p.util_compute, 0.01);
    EXPECT_EQ(p.bound, Bound::bandwidth);
    EXPECT_DOUBLE_EQ(p.eff_bw, 0.5);
    EXPECT_TRUE(std::isinf(p.eff_compute));  // no compute-bound phase known: compute not limiting
    // 1e12 / (0.5 x 2000e9) = 1.0 s
    EXPECT_DOUBLE_EQ(p.t_bw_s, 1.0);
    EXPECT_DOUBLE_EQ(p.t_compute_s, 0.0);
    EXPECT_DOUBLE_EQ(p.t_s, 1.0);
    // share (225 - 50) / (400 - 50) = 0.5; P = 30 + 0.5 x (300 - 30) = 165 W
    EXPECT_DOUBLE_EQ(p.power_share, 0.5);
    EXPECT_DOUBLE_EQ(p.power_w, 165.0);
    EXPECT_DOUBLE_EQ(p.energy_j, 165.0);      // 165 W x 1 s
    EXPECT_DOUBLE_EQ(p.energy_net_j, 135.0);  // (165 - 30) W x 1 s
}

TEST(Projection, compute_bound_prefill_scales_with_throughput) {
    // prefill: 2e14 FLOPs in 4 s = 50 TFLOP/s -> u_c 0.5; 4e11 bytes in 4 s = 100 GB/s -> u_bw 0.1
    const DeviceFigures src = device(1000, 100, 400, 50);
    const DeviceFigures tgt = device(500, 400, 450, 50);
    const PhaseMeasurement m = phase(4.0, 4e11, 2e14, 400.0);
    const PhaseProjection p = project_phase(m, src, tgt);
    EXPECT_DOUBLE_EQ(p.util_compute, 0.5);
    EXPECT_DOUBLE_EQ(p.util_bw, 0.1);
    EXPECT_EQ(p.bound, Bound::compute);
    // 2e14 / (0.5 x 400e12) = 1.0 s
    EXPECT_DOUBLE_EQ(p.t_compute_s, 1.0);
    EXPECT_DOUBLE_EQ(p.t_s, 1.0);
    // at the board limit: share 1, P = 450 W on the target
    EXPECT_DOUBLE_EQ(p.power_share, 1.0);
    EXPECT_DOUBLE_EQ(p.power_w, 450.0);
    EXPECT_DOUBLE_EQ(p.energy_j, 450.0);
    EXPECT_DOUBLE_EQ(p.energy_net_j, 400.0);
}

TEST(Projection, the_other_resource_limits_where_its_calibrated_efficiency_is_known) {
    // Same prefill, but the bandwidth-bound decode of this model reached 40 % of peak bandwidth:
    // on a card with little bandwidth the prefill's 4e11 bytes take 4e11 / (0.4 x 500e9) = 2.0 s,
    // longer than its compute (1.0 s), so the target is bandwidth-limited.
    const DeviceFigures src = device(1000, 100, 400, 50);
    const DeviceFigures tgt = device(500, 400, 450, 50);
    Efficiencies other;
    other.bw = 0.4;
    const PhaseProjection p = project_phase(phase(4.0, 4e11, 2e14, 400.0), src, tgt, other);
    EXPECT_EQ(p.bound, Bound::compute);  // on the source
    EXPECT_DOUBLE_EQ(p.eff_bw, 0.4);
    EXPECT_DOUBLE_EQ(p.t_bw_s, 2.0);
    EXPECT_DOUBLE_EQ(p.t_compute_s, 1.0);
    EXPECT_DOUBLE_EQ(p.t_s, 2.0);
    EXPECT_DOUBLE_EQ(p.energy_j, 900.0);  // 450 W x 2 s
    // a calibrated efficiency below this phase's own utilisation is raised to it (0.1 here)
    other.bw = 0.05;
    EXPECT_DOUBLE_EQ(project_phase(phase(4.0, 4e11, 2e14, 400.0), src, tgt, other).eff_bw, 0.1);
}

TEST(Projection, projecting_to_the_same_gpu_reproduces_the_measurement) {
    const DeviceFigures h100 = device(3350, 989.4, 700, 75);
    Efficiencies other;
    other.bw = 0.8;
    other.compute = 0.4;
    for (const PhaseMeasurement & m : {phase(2.23, 1.52e10 * 359, 2 * 7.6e9 * 359, 510), phase(2.1, 7.3e11, 3.7e14, 560)}) {
        const PhaseProjection p = project_phase(m, h100, h100, other);
        EXPECT_NEAR(p.t_s, m.t_s, 1e-12);
        EXPECT_NEAR(p.power_w, m.power_w, 1e-9);
        EXPECT_NEAR(p.energy_j, m.power_w * m.t_s, 1e-9);
    }
}

TEST(Projection, step_fit_separates_the_fixed_cost_per_step_from_the_cost_per_byte) {
    // 3 ms at 1 GB, 6 ms at 4 GB, 10 ms at 8 GB: 1 ms per GB (1e-12 s/byte) on top of 2 ms
    StepFit f = fit_steps({{1e9, 0.003}, {4e9, 0.006}, {8e9, 0.010}});
    ASSERT_TRUE(f.usable());
    EXPECT_EQ(f.points, 3);
    EXPECT_NEAR(f.fixed_s, 0.002, 1e-15);
    EXPECT_NEAR(f.s_per_byte, 1e-12, 1e-24);
    // 1 / (1e-12 s/byte x 1000e9 bytes/s) = 1.0: the marginal byte moves at the peak
    EXPECT_NEAR(marginal_util_bw(f, device(1000, 100, 400, 50)), 1.0, 1e-12);
    // a negative intercept is clamped: the line through the origin, sum(xy) / sum(x^2) =
    // (1e9 x 0.5e-3 + 4e9 x 5e-3) / (1e18 + 16e18) = 20.5e6 / 17e18
    f = fit_steps({{1e9, 0.0005}, {4e9, 0.005}});
    ASSERT_TRUE(f.usable());
    EXPECT_DOUBLE_EQ(f.fixed_s, 0.0);
    EXPECT_NEAR(f.s_per_byte, 20.5e6 / 17e18, 1e-24);
}

TEST(Projection, step_fit_needs_two_sizes_far_enough_apart_and_a_rising_line) {
    EXPECT_FALSE(fit_steps({}).usable());
    EXPECT_FALSE(fit_steps({{4e9, 0.006}}).usable());
    EXPECT_FALSE(fit_steps({{4e9, 0.006}, {4e9, 0.007}}).usable());  // one size twice
    EXPECT_FALSE(fit_steps({{4e9, 0.006}, {7e9, 0.009}}).usable());  // 1.75x apart: too close
    EXPECT_FALSE(fit_steps({{1e9, 0.005}, {4e9, 0.003}}).usable());  // larger model faster
    EXPECT_FALSE(fit_steps({{0, 0.005}, {4e9, 0.003}}).usable());    // a size of 0 is no point
    EXPECT_TRUE(std::isnan(marginal_util_bw(fit_steps({}), device(1000, 100, 400, 50))));
}

TEST(Projection, bandwidth_bound_decode_keeps_its_fixed_cost_per_step) {
    // source 1000 GB/s, target 2000 GB/s; the group's line: 2 ms + 1e-12 s/byte, u_m 1.0 = e*
    const DeviceFigures src = device(1000, 100, 400, 50);
    const DeviceFigures tgt = device(2000, 100, 300, 30);
    DecodeCalibration cal;
    cal.fit = fit_steps({{1e9, 0.003}, {8e9, 0.010}});
    cal.best_util_bw = 1.0;
    // 100 steps of a 4 GB model at 6 ms: c = (6 - 2) ms / 4e9 = 1e-12 s/byte
    const auto p = project_decode_steps(phase(0.6, 4e11, 1e12, 225.0), 100, src, tgt, cal);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->bound, Bound::bandwidth);
    EXPECT_NEAR(p->per_byte_s_source, 1e-12, 1e-24);
    EXPECT_NEAR(p->per_byte_s, 0.5e-12, 1e-24);  // x 1000 / 2000
    EXPECT_NEAR(p->fixed_s, 0.002, 1e-15);
    // 100 x (2 ms + 0.5e-12 x 4e9) = 0.4 s (bandwidth alone, roofline-v1, would say 0.3 s)
    EXPECT_NEAR(p->t_s, 0.4, 1e-12);
    // share (225 - 50) / 350 = 0.5 -> 30 + 0.5 x 270 = 165 W; 66 J, net (165 - 30) x 0.4 = 54 J
    EXPECT_NEAR(p->power_w, 165.0, 1e-9);
    EXPECT_NEAR(p->energy_j, 66.0, 1e-9);
    EXPECT_NEAR(p->energy_net_j, 54.0, 1e-9);
}

TEST(Projection, kernel_bound_decode_gains_nothing_from_bandwidth_until_memory_limits_it) {
    // the same cell, but another scheme of this host reached twice this group's marginal bandwidth
    // (e* = 2.0): u_m 1.0 < 0.9 x 2.0, so the kernel's own work per byte binds
    const DeviceFigures src = device(1000, 100, 400, 50);
    DecodeCalibration cal;
    cal.fit = fit_steps({{1e9, 0.003}, {8e9, 0.010}});
    cal.best_util_bw = 2.0;
    const PhaseMeasurement m = phase(0.6, 4e11, 1e12, 225.0);
    // more bandwidth: c' = max(1e-12, 1 / (2.0 x 2000e9)) = 1e-12 -> 100 x (2 + 4) ms = 0.6 s
    auto p = project_decode_steps(m, 100, src, device(2000, 100, 300, 30), cal);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->bound, Bound::kernel);
    EXPECT_STREQ(bound_name(p->bound), "kernel");
    EXPECT_NEAR(p->t_s, 0.6, 1e-12);
    // 200 GB/s: c' = max(1e-12, 1 / (2.0 x 200e9)) = 2.5e-12 -> 100 x (2 + 10) ms = 1.2 s
    p = project_decode_steps(m, 100, src, device(200, 100, 300, 30), cal);
    ASSERT_TRUE(p.has_value());
    EXPECT_NEAR(p->per_byte_s, 2.5e-12, 1e-24);
    EXPECT_NEAR(p->t_s, 1.2, 1e-12);
    // a target with half the SMs x clock does the per-byte work at half the rate: k = 2,
    // c' = max(2e-12, 1 / (2.0 x 2000e9)) = 2e-12 -> 100 x (2 + 8) ms = 1.0 s
    DeviceFigures big = src, half = device(2000, 100, 300, 30);
    big.sm_ghz = 100;
    half.sm_ghz = 50;
    p = project_decode_steps(m, 100, big, half, cal);
    ASSERT_TRUE(p.has_value());
    EXPECT_DOUBLE_EQ(p->kernel_scale, 2.0);
    EXPECT_NEAR(p->t_s, 1.0, 1e-12);
    // projected to its own GPU it reproduces the measurement, either way bound
    for (double best : {1.0, 2.0}) {
        cal.best_util_bw = best;
        p = project_decode_steps(m, 100, src, src, cal);
        ASSERT_TRUE(p.has_value());
        EXPECT_NEAR(p->t_s, 0.6, 1e-12);
        EXPECT_NEAR(p->energy_j, 225.0 * 0.6, 1e-9);
    }
}

TEST(Projection, decode_steps_fall_back_when_the_calibration_cannot_be_used) {
    const DeviceFigures src = device(1000, 100, 400, 50);
    DecodeCalibration cal;
    cal.fit = fit_steps({{1e9, 0.003}, {8e9, 0.010}});
    cal.best_util_bw = 1.0;
    // 1.5 ms per step is less than the 2 ms fixed cost: no time per byte left
    EXPECT_FALSE(project_decode_steps(phase(0.15, 4e11, 1e12, 225.0), 100, src, src, cal).has_value());
    EXPECT_FALSE(project_decode_steps(phase(0.6, 4e11, 1e12, 225.0), 0, src, src, cal).has_value());
    cal.best_util_bw = kNotKnown;
    EXPECT_FALSE(project_decode_steps(phase(0.6, 4e11, 1e12, 225.0), 100, src, src, cal).has_value());
    cal = {};
    EXPECT_FALSE(project_decode_steps(phase(0.6, 4e11, 1e12, 225.0), 100, src, src, cal).has_value());
}

TEST(Projection, power_share_below_idle_is_zero) {
    const DeviceFigures src = device(1000, 100, 400, 50);
    EXPECT_DOUBLE_EQ(power_share(40.0, src), 0.0);
    EXPECT_DOUBLE_EQ(power_share(120.0, src), 0.2);  // (120 - 50) / 350
    EXPECT_DOUBLE_EQ(power_at_share(0.2, device(1, 1, 250, 25)), 70.0);  // 25 + 0.2 x 225
}

TEST(Projection, bytes_and_flops_of_a_phase) {
    // decode: the weights once per step; 512 tokens on 1 sequence = 512 steps
    EXPECT_DOUBLE_EQ(decode_bytes(8e9, 512, 1), 8e9 * 512);
    // 4096 tokens on 8 sequences decoded together = 512 steps
    EXPECT_DOUBLE_EQ(decode_bytes(8e9, 4096, 8), 8e9 * 512);
    // prefill: the weights once per micro-batch: 24576 tokens / 512 = 48 passes, 2049 -> 5
    EXPECT_DOUBLE_EQ(prefill_bytes(1e9, 24576, 512), 48e9);
    EXPECT_DOUBLE_EQ(prefill_bytes(1e9, 2049, 512), 5e9);
    EXPECT_DOUBLE_EQ(phase_flops(7'000'000'000, 100), 1.4e12);
}

TEST(Projection, a_model_that_does_not_fit_is_refused) {
    const double gib = 1024.0 * 1024.0 * 1024.0;
    const FitCheck no = check_fit(17.3 * gib, 16.0);
    EXPECT_FALSE(no.fits);
    EXPECT_EQ(no.message, "does not fit: needs 17.3 GiB of 16.0 GiB");
    const FitCheck yes = check_fit(16.0 * gib, 16.0);
    EXPECT_TRUE(yes.fits);
    EXPECT_EQ(yes.message, "");
}

TEST(Projection, unusable_inputs_are_errors) {
    const DeviceFigures src = device(1000, 100, 400, 50);
    EXPECT_THROW(project_phase(phase(0.0, 1e9, 1e9, 100), src, src), Error);
    EXPECT_THROW(project_phase(phase(1.0, 1e9, 1e9, 100), src, device(1000, 100, 400, 400)), Error);  // idle = TDP
    EXPECT_THROW(project_phase(phase(1.0, 1e9, 1e9, 100), src, device(1000, 100, 400, kNotKnown)), Error);
    EXPECT_THROW(project_phase(phase(1.0, 1e9, 1e9, 100), device(0, 100, 400, 50), src), Error);
    EXPECT_THROW(project_phase(phase(1.0, 0, 0, 100), src, src), Error);
}
