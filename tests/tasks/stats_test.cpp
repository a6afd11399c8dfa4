#include "tasks/stats.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace jb::tasks;

TEST(Stats, mean_stderr_uses_sample_sd_over_sqrt_n) {
    // {1,0,1,1}: mean 0.75, sample variance 0.25 (= 0.75/3), stderr sqrt(0.25/4) = 0.25.
    const MeanStderr m = mean_stderr({1, 0, 1, 1});
    EXPECT_DOUBLE_EQ(m.mean, 0.75);
    EXPECT_DOUBLE_EQ(m.stderr_, 0.25);
    EXPECT_EQ(m.n, 4u);
    EXPECT_TRUE(std::isnan(mean_stderr({1}).stderr_));
}

TEST(Stats, pooled_mean_is_the_item_mean_with_lm_eval_pooled_stderr) {
    const MeanStderr a = mean_stderr({1, 0, 1, 1});  // mean .75, se .25, n 4
    const MeanStderr b = mean_stderr({0, 0});        // mean 0,  se 0,   n 2
    const MeanStderr p = pooled_mean({a, b});
    EXPECT_DOUBLE_EQ(p.mean, 3.0 / 6.0);
    // sqrt( ((4-1)*.25^2*4 + (2-1)*0*2) / (6-2) / 6 ) = sqrt(0.75/4/6) = 0.1767767
    EXPECT_NEAR(p.stderr_, std::sqrt(0.75 / 4.0 / 6.0), 1e-12);
    EXPECT_EQ(p.n, 6u);
}

TEST(Stats, macro_mean_averages_group_means) {
    const MeanStderr a = mean_stderr({1, 0, 1, 1});
    const MeanStderr b = mean_stderr({0, 0});
    const MeanStderr m = macro_mean({a, b}, 0.5);
    EXPECT_DOUBLE_EQ(m.mean, 0.375);
    EXPECT_NEAR(m.stderr_, std::sqrt(0.25 * 0.25 + 0.0) / 2.0, 1e-12);
    // A one-item group borrows the all-items standard deviation: se = 0.5 / sqrt(1).
    const MeanStderr single = macro_mean({a, mean_stderr({1})}, 0.5);
    EXPECT_DOUBLE_EQ(single.mean, 0.875);
    EXPECT_NEAR(single.stderr_, std::sqrt(0.0625 + 0.25) / 2.0, 1e-12);
}
