#include "energy/meter.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "energy/synthetic.hpp"

using namespace jb::energy;

namespace {

const Domain gpu0{DomainKind::gpu, 0};
const Domain gpu1{DomainKind::gpu, 1};
const Domain cpu0{DomainKind::cpu_package, 0};

struct Rig {
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();

    std::shared_ptr<SyntheticSensor> counter(Domain d, PowerTrace trace, double wrap_j = 0.0, double offset_j = 0.0,
                                             bool estimated = false) {
        SyntheticParams p;
        p.kind = SensorKind::energy_counter;
        p.wrap_j = wrap_j;
        p.counter_offset_j = offset_j;
        p.estimated = estimated;
        return std::make_shared<SyntheticSensor>(d, std::move(trace), p, clock);
    }
    std::shared_ptr<SyntheticSensor> power(Domain d, PowerTrace trace) {
        return std::make_shared<SyntheticSensor>(d, std::move(trace), SyntheticParams{}, clock);
    }
    std::unique_ptr<Meter> meter(SensorList sensors, double interval_s = 0.5) {
        MeterParams p;
        p.interval_s = interval_s;
        p.thread = false;
        return std::make_unique<Meter>(std::move(sensors), p, clock);
    }
    // Ticks at every multiple of dt strictly between now and t_end_s, then moves to t_end_s.
    void run_until(Meter & m, double t_end_s, double dt_s = 0.5) {
        double t0 = clock->now_s();
        for (int k = 1; t0 + k * dt_s < t_end_s - 1e-9; ++k) {
            clock->set(t0 + k * dt_s);
            m.tick();
        }
        clock->set(t_end_s);
    }
};

}  // namespace

TEST(Meter, integrates_power_samples_with_the_trapezoid_rule) {
    Rig rig;
    auto m = rig.meter({rig.power(gpu0, PowerTrace({{0.0, 100.0}, {4.0, 300.0}}, TraceShape::linear))});
    m->start();
    rig.run_until(*m, 4.0);
    Measurement r = m->stop();
    ASSERT_EQ(r.domains.size(), 1u);
    const DomainEnergy & e = r.domains[0];
    EXPECT_EQ(e.method, Method::samples);
    EXPECT_DOUBLE_EQ(e.gross_j, 800.0);  // linear power: the trapezoid rule is exact
    EXPECT_DOUBLE_EQ(*e.samples_j, 800.0);
    EXPECT_FALSE(e.counter_j.has_value());
    EXPECT_DOUBLE_EQ(e.avg_w, 200.0);
    EXPECT_DOUBLE_EQ(e.peak_w, 300.0);
    EXPECT_EQ(e.n_samples, 9);  // t = 0, 0.5, ..., 4
    EXPECT_DOUBLE_EQ(r.duration_s(), 4.0);
    EXPECT_DOUBLE_EQ(r.total_j, 800.0);
}

TEST(Meter, subtracts_idle_power) {
    Rig rig;
    // 50 W at idle, 150 W once the workload starts at t = 2.
    auto m = rig.meter({rig.counter(gpu0, PowerTrace({{0.0, 50.0}, {2.0, 150.0}}))});
    m->measure_idle(2.0);
    EXPECT_DOUBLE_EQ(rig.clock->now_s(), 2.0);  // the idle baseline slept through the manual clock
    m->start();
    rig.run_until(*m, 6.0);
    Measurement r = m->stop();
    const DomainEnergy & e = r.domains[0];
    EXPECT_EQ(e.method, Method::counter);
    EXPECT_DOUBLE_EQ(*e.idle_w, 50.0);
    EXPECT_DOUBLE_EQ(e.gross_j, 600.0);          // 150 W x 4 s
    EXPECT_DOUBLE_EQ(*e.net_j, 600.0 - 50 * 4);  // minus idle 50 W x 4 s
    EXPECT_DOUBLE_EQ(*r.total_net_j, 400.0);
    EXPECT_DOUBLE_EQ(r.idle_s, 2.0);
}

TEST(Meter, no_idle_baseline_means_no_net) {
    Rig rig;
    auto m = rig.meter({rig.counter(gpu0, PowerTrace({{0.0, 50.0}}))});
    m->start();
    rig.run_until(*m, 1.0);
    Measurement r = m->stop();
    EXPECT_FALSE(r.domains[0].net_j.has_value());
    EXPECT_FALSE(r.total_net_j.has_value());
}

TEST(Meter, unwraps_a_counter_that_wraps_around) {
    Rig rig;
    // 100 W for 10 s from a counter at 900 J of a 1000 J range: it wraps at t = 1.
    auto m = rig.meter({rig.counter(cpu0, PowerTrace({{0.0, 100.0}}), 1000.0, 900.0)});
    m->start();
    rig.run_until(*m, 10.0);
    Measurement r = m->stop();
    EXPECT_NEAR(r.domains[0].gross_j, 1000.0, 1e-9);
    EXPECT_TRUE(r.domains[0].error.empty());
}

TEST(Meter, phases_split_samples_scaled_to_the_counter_total) {
    Rig rig;
    // Samples see P(t) = 100 + 50 t; the counter reads 10 % more (a different sensor's scale).
    PowerTrace samples({{0.0, 100.0}, {4.0, 300.0}}, TraceShape::linear);
    PowerTrace counted({{0.0, 110.0}, {4.0, 330.0}}, TraceShape::linear);
    auto m = rig.meter({rig.counter(gpu0, counted), rig.power(gpu0, samples)});
    m->start("load");
    rig.run_until(*m, 1.0);
    m->mark("prefill");
    rig.run_until(*m, 3.0);
    m->mark("decode");
    rig.run_until(*m, 4.0);
    Measurement r = m->stop();

    const DomainEnergy & e = r.domains[0];
    EXPECT_EQ(e.method, Method::counter);
    EXPECT_NEAR(*e.counter_j, 880.0, 1e-9);
    EXPECT_NEAR(*e.samples_j, 800.0, 1e-9);
    EXPECT_NEAR(e.gross_j, 880.0, 1e-9);

    ASSERT_EQ(r.phases.size(), 3u);
    EXPECT_EQ(r.phases[0].name, "load");
    EXPECT_EQ(r.phases[1].name, "prefill");
    EXPECT_EQ(r.phases[2].name, "decode");
    EXPECT_DOUBLE_EQ(r.phases[1].t_begin_s, 1.0);
    EXPECT_DOUBLE_EQ(r.phases[1].t_end_s, 3.0);
    // Sample integrals 125, 400 and 275 J, scaled by 880 / 800.
    EXPECT_NEAR(r.phases[0].domains[0].gross_j, 137.5, 1e-9);
    EXPECT_NEAR(r.phases[1].domains[0].gross_j, 440.0, 1e-9);
    EXPECT_NEAR(r.phases[2].domains[0].gross_j, 302.5, 1e-9);
    double sum = 0;
    for (const auto & p : r.phases) sum += p.domains[0].gross_j;
    EXPECT_NEAR(sum, e.gross_j, 1e-9);
}

TEST(Meter, phases_of_a_counter_only_domain_are_counter_differences) {
    Rig rig;
    auto m = rig.meter({rig.counter(cpu0, PowerTrace({{0.0, 100.0}, {1.0, 200.0}}))});
    m->measure_idle(1.0);  // 100 W idle
    m->start("load");
    rig.run_until(*m, 2.0);
    m->mark("decode");
    rig.run_until(*m, 4.0);
    Measurement r = m->stop();
    ASSERT_EQ(r.phases.size(), 2u);
    EXPECT_DOUBLE_EQ(r.phases[0].domains[0].gross_j, 200.0);
    EXPECT_DOUBLE_EQ(r.phases[1].domains[0].gross_j, 400.0);
    EXPECT_DOUBLE_EQ(*r.phases[0].domains[0].net_j, 100.0);
    EXPECT_DOUBLE_EQ(*r.phases[1].domains[0].net_j, 200.0);
    EXPECT_DOUBLE_EQ(r.domains[0].gross_j, 600.0);
}

TEST(Meter, subtracts_each_gpus_idle_separately_and_sums_them) {
    Rig rig;
    auto m = rig.meter({rig.counter(gpu1, PowerTrace({{0.0, 60.0}, {2.0, 160.0}})),
                        rig.counter(gpu0, PowerTrace({{0.0, 50.0}, {2.0, 250.0}}))});
    m->measure_idle(2.0);
    m->start();
    rig.run_until(*m, 4.0);
    Measurement r = m->stop();
    ASSERT_EQ(r.domains.size(), 2u);
    EXPECT_EQ(r.domains[0].domain, gpu0);  // sorted by domain
    EXPECT_DOUBLE_EQ(r.domains[0].gross_j, 500.0);
    EXPECT_DOUBLE_EQ(*r.domains[0].net_j, 400.0);  // 500 - 50 W x 2 s
    EXPECT_DOUBLE_EQ(r.domains[1].gross_j, 320.0);
    EXPECT_DOUBLE_EQ(*r.domains[1].net_j, 200.0);  // 320 - 60 W x 2 s
    EXPECT_DOUBLE_EQ(r.total_j_of(DomainKind::gpu), 820.0);
    EXPECT_DOUBLE_EQ(r.total_j, 820.0);
    EXPECT_DOUBLE_EQ(*r.total_net_j, 600.0);
}

TEST(Meter, never_sums_an_estimate_with_measurements) {
    Rig rig;
    auto m = rig.meter({rig.counter(gpu0, PowerTrace({{0.0, 100.0}})),
                        rig.counter(cpu0, PowerTrace({{0.0, 30.0}}), 0.0, 0.0, /*estimated=*/true)});
    m->start();
    rig.run_until(*m, 2.0);
    Measurement r = m->stop();
    const DomainEnergy * cpu = r.find(cpu0);
    ASSERT_NE(cpu, nullptr);
    EXPECT_EQ(cpu->method, Method::estimate);
    EXPECT_TRUE(cpu->estimated());
    EXPECT_DOUBLE_EQ(cpu->gross_j, 60.0);
    EXPECT_DOUBLE_EQ(r.total_j, 200.0);  // the GPU only
    EXPECT_DOUBLE_EQ(r.estimated_total_j, 60.0);
    EXPECT_TRUE(r.has_measured());
    EXPECT_TRUE(r.has_estimated());
}

TEST(Meter, windows_measure_between_begin_and_end) {
    Rig rig;
    auto m = rig.meter({rig.counter(gpu0, PowerTrace({{0.0, 100.0}, {2.0, 300.0}}))});
    m->start();
    rig.run_until(*m, 1.0);
    m->begin_window("step");
    rig.run_until(*m, 3.0);
    Measurement w = m->end_window("step");
    EXPECT_EQ(w.name, "step");
    EXPECT_DOUBLE_EQ(w.duration_s(), 2.0);
    EXPECT_DOUBLE_EQ(w.domains[0].gross_j, 400.0);  // 100 J + 300 J
    EXPECT_THROW(m->end_window("step"), std::logic_error);
    rig.run_until(*m, 4.0);
    EXPECT_DOUBLE_EQ(m->stop().domains[0].gross_j, 800.0);  // 100 W x 2 s + 300 W x 2 s
}

TEST(Meter, derives_a_timeline_from_a_counter) {
    Rig rig;
    auto m = rig.meter({rig.counter(cpu0, PowerTrace({{0.0, 100.0}, {1.0, 200.0}}))});
    m->start();
    rig.run_until(*m, 2.0);
    Measurement r = m->stop();
    ASSERT_EQ(r.timeline.size(), 4u);  // 0.5, 1.0, 1.5, 2.0
    EXPECT_DOUBLE_EQ(r.timeline[0].t_s, 0.5);
    EXPECT_DOUBLE_EQ(r.timeline[0].power_w, 100.0);
    EXPECT_DOUBLE_EQ(r.timeline[2].power_w, 200.0);
    EXPECT_DOUBLE_EQ(r.domains[0].peak_w, 200.0);
}

TEST(Meter, records_a_sensor_failure_and_keeps_the_others) {
    Rig rig;
    auto bad = rig.power(gpu1, PowerTrace({{0.0, 10.0}}));
    auto m = rig.meter({rig.counter(gpu0, PowerTrace({{0.0, 100.0}})), bad});
    m->start();
    rig.run_until(*m, 1.0);
    bad->fail_with("gpu:1: nvmlDeviceGetSamples: NVML_ERROR_GPU_IS_LOST (15)");
    rig.run_until(*m, 2.0);
    Measurement r = m->stop();
    EXPECT_DOUBLE_EQ(r.domains[0].gross_j, 200.0);
    EXPECT_EQ(r.domains[1].error, "gpu:1: nvmlDeviceGetSamples: NVML_ERROR_GPU_IS_LOST (15)");
    EXPECT_DOUBLE_EQ(r.domains[1].gross_j, 20.0);  // the samples read before the failure, held
}

TEST(Meter, refuses_two_counters_for_one_domain) {
    Rig rig;
    EXPECT_THROW(rig.meter({rig.counter(gpu0, PowerTrace({{0.0, 1.0}})), rig.counter(gpu0, PowerTrace({{0.0, 1.0}}))}),
                 std::invalid_argument);
}

TEST(Meter, mark_and_stop_need_a_running_meter) {
    Rig rig;
    auto m = rig.meter({rig.counter(gpu0, PowerTrace({{0.0, 1.0}}))});
    EXPECT_THROW(m->mark("x"), std::logic_error);
    EXPECT_THROW(m->stop(), std::logic_error);
}

TEST(Meter, sampling_thread_polls_on_the_steady_clock) {
    auto clock = steady_clock();
    auto sensor = std::make_shared<SyntheticSensor>(gpu0, PowerTrace({{0.0, 100.0}}), SyntheticParams{}, clock);
    MeterParams p;
    p.interval_s = 0.010;
    Meter m({sensor}, p, clock);
    m.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Measurement r = m.stop();
    // Constant power integrates exactly whatever the sample times.
    EXPECT_NEAR(r.domains[0].gross_j, 100.0 * r.duration_s(), 1e-6);
    // About one poll per 10 ms, plus the reads at start and stop; a loaded machine may
    // miss polls (they are skipped, not made up in a burst), never add any.
    EXPECT_GE(r.domains[0].n_samples, 5);
    EXPECT_LE(r.domains[0].n_samples, static_cast<long>(r.duration_s() / 0.010) + 2);
    EXPECT_LT(r.sampler_cpu_s, r.duration_s());
}

TEST(Meter, slow_sensors_are_interpolated_at_marks) {
    Rig rig;
    SyntheticParams p;
    p.kind = SensorKind::energy_counter;
    p.min_poll_interval_s = 1.0;  // like the /proc/stat estimate
    auto slow = std::make_shared<SyntheticSensor>(cpu0, PowerTrace({{0.0, 100.0}}), p, rig.clock);
    auto m = rig.meter({slow}, 0.25);
    m->start("a");                 // read
    rig.run_until(*m, 0.5, 0.25);  // tick at 0.25: not due
    m->mark("b");                  // not due: interpolated
    rig.run_until(*m, 1.5, 0.25);  // ticks at 0.75 (no), 1.0 (read), 1.25 (no)
    Measurement r = m->stop();     // read
    EXPECT_EQ(slow->reads(), 3);
    ASSERT_EQ(r.phases.size(), 2u);
    EXPECT_DOUBLE_EQ(r.phases[0].domains[0].gross_j, 50.0);
    EXPECT_DOUBLE_EQ(r.phases[1].domains[0].gross_j, 100.0);
}

TEST(Meter, thousands_of_phases_still_sum_to_the_total) {
    Rig rig;
    PowerTrace samples({{0.0, 100.0}, {100.0, 300.0}}, TraceShape::linear);
    PowerTrace counted({{0.0, 105.0}, {100.0, 315.0}}, TraceShape::linear);
    auto m = rig.meter({rig.counter(gpu0, counted), rig.power(gpu0, samples)}, 0.01);
    m->start("item/0");
    for (int k = 1; k < 10000; ++k) {
        rig.clock->set(0.01 * k);
        m->tick();
        m->mark("item/" + std::to_string(k));
    }
    rig.clock->set(100.0);
    Measurement r = m->stop();
    ASSERT_EQ(r.phases.size(), 10000u);
    double sum = 0.0;
    for (const auto & p : r.phases) sum += p.domains[0].gross_j;
    EXPECT_NEAR(r.domains[0].gross_j, 105.0 * 100 + 105.0 * 100, 1e-6);  // mean 210 W x 100 s
    EXPECT_NEAR(sum, r.domains[0].gross_j, 1e-6);
}

TEST(Meter, reuses_an_idle_baseline_measured_by_another_meter) {
    using namespace jb::energy;
    auto clock = std::make_shared<ManualClock>();
    // 50 W idle, then 150 W while running.
    PowerTrace trace({{0.0, 50.0}, {10.0, 150.0}}, TraceShape::steps);
    auto sensor = std::make_shared<SyntheticSensor>(Domain{DomainKind::gpu, 0}, trace, SyntheticParams{}, clock);
    MeterParams mp;
    mp.thread = false;
    Meter first({sensor}, mp, clock);
    clock->set(1.0);
    // measure_idle sleeps through the manual clock.
    first.measure_idle(2.0);
    auto idle = first.idle_power();
    ASSERT_EQ(idle.size(), 1u);
    EXPECT_NEAR(idle[0].second, 50.0, 1e-9);

    Meter second({sensor}, mp, clock);
    EXPECT_TRUE(second.idle_power().empty());
    second.set_idle_power(idle);
    clock->set(10.0);
    second.start("run");
    clock->set(12.0);
    second.tick();
    clock->set(14.0);
    auto m = second.stop();
    ASSERT_EQ(m.domains.size(), 1u);
    // 4 s at 150 W = 600 J gross; net = 600 - 50 x 4 = 400 J.
    EXPECT_NEAR(m.domains[0].gross_j, 600.0, 1e-6);
    ASSERT_TRUE(m.domains[0].net_j.has_value());
    EXPECT_NEAR(*m.domains[0].net_j, 400.0, 1e-6);
}

// A model split over two GPUs: the first works hard, the second mostly waits. Each device's
// energy is kept apart and its own idle baseline subtracted; the total is their sum.
TEST(Meter, two_gpus_each_with_its_own_idle_baseline) {
    Rig rig;
    // gpu:0 idles at 70 W and runs at 400 W; gpu:1 idles at 60 W and runs at 100 W.
    auto g0 = rig.counter(gpu0, PowerTrace({{0.0, 70.0}, {10.0, 400.0}}));
    auto g1 = rig.counter(gpu1, PowerTrace({{0.0, 60.0}, {10.0, 100.0}}));
    auto m = rig.meter({g0, g1});
    rig.clock->set(2.0);
    m->measure_idle(4.0);  // 2..6 s, both idle
    rig.clock->set(10.0);
    m->start("prefill");
    rig.clock->set(13.0);
    m->mark("decode");
    rig.clock->set(20.0);
    auto r = m->stop();

    ASSERT_EQ(r.domains.size(), 2u);
    const auto * d0 = r.find(gpu0);
    const auto * d1 = r.find(gpu1);
    ASSERT_TRUE(d0 && d1);
    // 10 s: gpu:0 4000 J gross, idle 70 W -> 3300 J net; gpu:1 1000 J gross, idle 60 W -> 400 J net.
    EXPECT_NEAR(d0->gross_j, 4000.0, 1e-6);
    EXPECT_NEAR(*d0->idle_w, 70.0, 1e-9);
    EXPECT_NEAR(*d0->net_j, 3300.0, 1e-6);
    EXPECT_NEAR(d1->gross_j, 1000.0, 1e-6);
    EXPECT_NEAR(*d1->idle_w, 60.0, 1e-9);
    EXPECT_NEAR(*d1->net_j, 400.0, 1e-6);
    EXPECT_NEAR(r.total_j, 5000.0, 1e-6);
    ASSERT_TRUE(r.total_net_j.has_value());
    EXPECT_NEAR(*r.total_net_j, 3700.0, 1e-6);
    EXPECT_NEAR(r.total_j_of(DomainKind::gpu), 5000.0, 1e-6);
    // Of the second card's 1000 J, 600 J is what it would have drawn idle: the cost of keeping it on.
    EXPECT_NEAR(d1->gross_j - *d1->net_j, 600.0, 1e-6);
    // Phases split per device too: decode is 7 of the 10 s.
    ASSERT_EQ(r.phases.size(), 2u);
    EXPECT_NEAR(r.phases[1].domains[0].gross_j, 2800.0, 1e-6);
    EXPECT_NEAR(r.phases[1].domains[1].gross_j, 700.0, 1e-6);
}

// After a heavy cell the device draws more than idle for a while: the sweep waits, window by
// window, until the power is back within 15 % of the baseline, and no longer than its limit.
TEST(SettleToIdle, waits_until_the_power_is_back_near_idle_or_the_limit) {
    std::vector<double> watts = {300.0, 200.0, 110.0, 100.0};
    size_t i = 0;
    auto decaying = [&] { return watts[std::min(i++, watts.size() - 1)]; };
    auto s = jb::energy::settle_to_idle(decaying, 0.5, 100.0, 5.0);
    EXPECT_TRUE(s.settled);
    EXPECT_DOUBLE_EQ(s.watts, 110.0);  // 110 <= 1.15 x 100: the third window is enough
    EXPECT_DOUBLE_EQ(s.waited_s, 1.5);
    EXPECT_EQ(i, 3u);

    int calls = 0;
    auto hot = [&] { ++calls; return 300.0; };
    s = jb::energy::settle_to_idle(hot, 0.5, 100.0, 2.0);
    EXPECT_FALSE(s.settled);
    EXPECT_EQ(calls, 4);  // 4 windows of 0.5 s fill the 2 s limit
    EXPECT_DOUBLE_EQ(s.waited_s, 2.0);

    calls = 0;
    s = jb::energy::settle_to_idle(hot, 0.5, 100.0, 0.0);  // no wait: one window, as before
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(s.settled);

    s = jb::energy::settle_to_idle([] { return NAN; }, 0.5, 100.0, 1.0);
    EXPECT_FALSE(s.settled);
}
