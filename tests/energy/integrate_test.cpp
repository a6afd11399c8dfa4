#include "energy/integrate.hpp"

#include <vector>

#include <gtest/gtest.h>

using namespace jb::energy;

TEST(Integrate, trapezoid_over_whole_samples) {
    std::vector<Reading> s = {{100.0, 0.0}, {200.0, 1.0}, {200.0, 2.0}};
    // (100+200)/2 * 1 + (200+200)/2 * 1
    EXPECT_DOUBLE_EQ(integrate_power_j(s, 0.0, 2.0), 350.0);
}

TEST(Integrate, trapezoid_interpolates_at_window_edges) {
    std::vector<Reading> s = {{100.0, 0.0}, {200.0, 1.0}, {200.0, 2.0}};
    // P(0.5) = 150: (150+200)/2 * 0.5 + (200+200)/2 * 0.5 = 87.5 + 100
    EXPECT_DOUBLE_EQ(integrate_power_j(s, 0.5, 1.5), 187.5);
}

TEST(Integrate, trapezoid_holds_end_samples_beyond_the_data) {
    std::vector<Reading> s = {{100.0, 0.0}, {200.0, 1.0}, {200.0, 2.0}};
    // 100 W for the second before the first sample, 200 W for the second after the last.
    EXPECT_DOUBLE_EQ(integrate_power_j(s, -1.0, 3.0), 100.0 + 350.0 + 200.0);
}

TEST(Integrate, trapezoid_of_nothing_is_zero) {
    EXPECT_DOUBLE_EQ(integrate_power_j({}, 0.0, 5.0), 0.0);
    std::vector<Reading> s = {{100.0, 0.0}};
    EXPECT_DOUBLE_EQ(integrate_power_j(s, 2.0, 2.0), 0.0);
    EXPECT_DOUBLE_EQ(integrate_power_j(s, 0.0, 3.0), 300.0);  // one sample: held constant
}

TEST(Integrate, interpolate_between_and_beyond_points) {
    std::vector<Reading> p = {{10.0, 1.0}, {30.0, 3.0}};
    EXPECT_DOUBLE_EQ(interpolate(p, 2.0), 20.0);
    EXPECT_DOUBLE_EQ(interpolate(p, 0.0), 10.0);
    EXPECT_DOUBLE_EQ(interpolate(p, 9.0), 30.0);
}

TEST(Integrate, counter_delta_without_wrap) {
    EXPECT_DOUBLE_EQ(counter_delta_j(10.0, 25.5, 100.0), 15.5);
}

TEST(Integrate, counter_delta_across_wrap_around) {
    // RAPL: max_energy_range_uj = 262143328850 -> 262143.32885 J.
    double range_j = 262143.32885;
    EXPECT_NEAR(counter_delta_j(range_j - 1.0, 2.0, range_j), 3.0, 1e-9);
}

TEST(Integrate, counter_delta_that_never_wraps_can_go_negative) {
    // No range: a smaller value is a reset, reported as such (the Meter flags it).
    EXPECT_DOUBLE_EQ(counter_delta_j(5.0, 3.0, 0.0), -2.0);
}
