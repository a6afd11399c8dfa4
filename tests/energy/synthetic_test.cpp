#include "energy/synthetic.hpp"

#include <memory>
#include <stdexcept>

#include <gtest/gtest.h>

#include "joulebench/error.hpp"

using namespace jb::energy;

TEST(PowerTrace, steps_hold_until_the_next_point) {
    PowerTrace t({{0.0, 100.0}, {2.0, 300.0}}, TraceShape::steps);
    EXPECT_DOUBLE_EQ(t.power_w(-1.0), 100.0);
    EXPECT_DOUBLE_EQ(t.power_w(1.999), 100.0);
    EXPECT_DOUBLE_EQ(t.power_w(2.0), 300.0);
    EXPECT_DOUBLE_EQ(t.energy_j(0.0, 4.0), 100.0 * 2 + 300.0 * 2);
    EXPECT_DOUBLE_EQ(t.energy_j(1.0, 3.0), 100.0 + 300.0);
}

TEST(PowerTrace, linear_ramps_between_points) {
    PowerTrace t({{0.0, 100.0}, {4.0, 300.0}}, TraceShape::linear);
    EXPECT_DOUBLE_EQ(t.power_w(1.0), 150.0);
    EXPECT_DOUBLE_EQ(t.energy_j(0.0, 4.0), 800.0);
    EXPECT_DOUBLE_EQ(t.energy_j(1.0, 3.0), 400.0);  // (150 + 250) / 2 * 2
    EXPECT_DOUBLE_EQ(t.energy_j(4.0, 5.0), 300.0);  // held after the last point
}

TEST(PowerTrace, rejects_bad_traces) {
    EXPECT_THROW(PowerTrace({}), std::invalid_argument);
    EXPECT_THROW(PowerTrace({{1.0, 1.0}, {0.5, 1.0}}), std::invalid_argument);
}

TEST(SyntheticSensor, power_view_follows_the_clock) {
    auto clock = std::make_shared<ManualClock>();
    SyntheticSensor s({DomainKind::gpu, 0}, PowerTrace({{0.0, 100.0}, {2.0, 300.0}}), {}, clock);
    clock->set(2.5);
    Reading r = s.read();
    EXPECT_DOUBLE_EQ(r.value, 300.0);
    EXPECT_DOUBLE_EQ(r.t_s, 2.5);
    EXPECT_EQ(s.kind(), SensorKind::power);
    EXPECT_EQ(method_of(s), Method::samples);
}

TEST(SyntheticSensor, counter_view_wraps) {
    auto clock = std::make_shared<ManualClock>();
    SyntheticParams p;
    p.kind = SensorKind::energy_counter;
    p.wrap_j = 500.0;
    SyntheticSensor s({DomainKind::cpu_package, 0}, PowerTrace({{0.0, 100.0}, {2.0, 300.0}}), p, clock);
    clock->set(4.0);
    EXPECT_DOUBLE_EQ(s.read().value, 300.0);  // 800 J mod 500 J
    EXPECT_DOUBLE_EQ(s.wrap_j(), 500.0);
    EXPECT_EQ(method_of(s), Method::counter);
}

TEST(SyntheticSensor, fails_on_request) {
    SyntheticSensor s({DomainKind::gpu, 0}, PowerTrace({{0.0, 1.0}}), {}, std::make_shared<ManualClock>());
    s.fail_with("gpu:0 fell off the bus");
    EXPECT_THROW(s.read(), jb::RuntimeFailure);
}
