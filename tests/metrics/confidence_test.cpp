// Confidence intervals against hand-computed values, the --ci stopping rule on scripted sequences
// of measurements, and the rule that keeps a tuned setting.

#include "metrics/confidence.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace jb::metrics;

TEST(Confidence, student_t975_matches_the_table_and_the_normal_limit) {
    EXPECT_NEAR(student_t975(1), 12.7062, 1e-4);
    EXPECT_NEAR(student_t975(4), 2.7764, 1e-4);
    EXPECT_NEAR(student_t975(30), 2.0423, 1e-4);
    EXPECT_NEAR(student_t975(60), 2.0003, 2e-4);   // tables: 2.0003
    EXPECT_NEAR(student_t975(120), 1.9799, 2e-4);  // tables: 1.9799
    EXPECT_NEAR(student_t975(1e9), 1.96, 1e-3);
    // Between entries (Welch's fractional df): between its neighbours.
    EXPECT_LT(student_t975(4.5), student_t975(4));
    EXPECT_GT(student_t975(4.5), student_t975(5));
    EXPECT_TRUE(std::isnan(student_t975(0.5)));
}

TEST(Confidence, mean_ci95_of_three_values) {
    // 10, 12, 11: mean 11, sd 1, half-width t(2) x 1 / sqrt(3) = 4.3027 / 1.7321 = 2.4841.
    const Interval ci = mean_ci95({10, 12, 11});
    EXPECT_EQ(ci.n, 3);
    EXPECT_DOUBLE_EQ(ci.mean, 11.0);
    EXPECT_NEAR(ci.sd, 1.0, 1e-12);
    EXPECT_NEAR(ci.half_width, 2.48416, 1e-4);
    EXPECT_NEAR(ci.relative(), 2.48416 / 11.0, 1e-5);
    EXPECT_TRUE(std::isnan(mean_ci95({5}).half_width));
    EXPECT_EQ(mean_ci95({5, NAN, 7}).n, 2);
}

// A scripted sequence of J/token: 10, 12, then 11 every time. The relative half-width after n
// repeats is t(n-1) x sd / sqrt(n) / 11 with sd = sqrt(2 / (n - 1)): n=4 11.8 %, n=5 7.98 %,
// n=6 6.03 %, n=7 4.85 %, n=8 4.06 %.
std::vector<double> scripted(int n) {
    std::vector<double> v = {10, 12};
    while (int(v.size()) < n) v.push_back(11);
    v.resize(size_t(n));
    return v;
}

// The n at which the rule stops, feeding the sequence one repeat at a time, each taking `each_s`.
int stops_at(const RepeatRule & rule, double each_s, RepeatStop * why) {
    for (int n = 1; n <= 1000; ++n) {
        const RepeatStop s = repeat_decision(scripted(n), each_s * n, rule);
        if (s != RepeatStop::more) {
            *why = s;
            return n;
        }
    }
    return -1;
}

TEST(Confidence, adaptive_repeats_stop_when_the_interval_is_narrow_enough) {
    RepeatRule rule;
    rule.max_s = 1e9;
    RepeatStop why = RepeatStop::more;
    rule.target_pct = 5.0;
    EXPECT_EQ(stops_at(rule, 1.0, &why), 7);
    EXPECT_EQ(why, RepeatStop::ci);
    rule.target_pct = 10.0;
    EXPECT_EQ(stops_at(rule, 1.0, &why), 5);
    rule.target_pct = 4.5;
    EXPECT_EQ(stops_at(rule, 1.0, &why), 8);
}

TEST(Confidence, adaptive_repeats_respect_the_minimum_and_the_caps) {
    RepeatRule rule;
    rule.max_s = 1e9;
    rule.target_pct = 50.0;  // met at n = 3 (22.6 %)...
    rule.min_n = 5;          // ...but not before five repeats
    RepeatStop why = RepeatStop::more;
    EXPECT_EQ(stops_at(rule, 1.0, &why), 5);
    EXPECT_EQ(why, RepeatStop::ci);

    rule = RepeatRule{};
    rule.target_pct = 1.0;
    rule.max_n = 6;
    rule.max_s = 1e9;
    EXPECT_EQ(stops_at(rule, 1.0, &why), 6);
    EXPECT_EQ(why, RepeatStop::count);

    rule.max_n = 100;
    rule.max_s = 10.0;  // 2.5 s a repeat: the fourth reaches 10 s
    EXPECT_EQ(stops_at(rule, 2.5, &why), 4);
    EXPECT_EQ(why, RepeatStop::time);

    // Identical values: a zero-width interval, met at the minimum.
    rule = RepeatRule{};
    EXPECT_EQ(repeat_decision({3, 3}, 1, rule), RepeatStop::more);
    EXPECT_EQ(repeat_decision({3, 3, 3}, 1, rule), RepeatStop::ci);
}

TEST(Confidence, saving_interval_by_the_delta_method_on_the_log_ratio) {
    // candidate 8, 9, 10 (mean 9, var of mean 1/3); reference 10, 10, 10 (var 0): saving 0.1;
    // se(log q) = sqrt((1/3) / 81) = 0.064150, df = 2, t 4.3027: q = 0.9 x exp(+-0.276020),
    // 0.68292 to 1.18608, so the saving runs from -0.18608 to 0.31708.
    const SavingInterval s = saving_ci95({8, 9, 10}, {10, 10, 10});
    EXPECT_NEAR(s.saving, 0.1, 1e-12);
    EXPECT_NEAR(s.lo, -0.18608, 1e-4);
    EXPECT_NEAR(s.hi, 0.31708, 1e-4);
    // However noisy the reference, a saving's interval stays under 100 %.
    const SavingInterval wide = saving_ci95({1, 1.1, 0.9}, {2, 30, 60});
    EXPECT_LT(wide.hi, 1.0);
    const SavingInterval one = saving_ci95({8}, {10, 10});
    EXPECT_NEAR(one.saving, 0.2, 1e-12);
    EXPECT_TRUE(std::isnan(one.lo));
}

SettingRuns runs(std::vector<double> j, double tok_s, double ttft = NAN) {
    SettingRuns r;
    r.j_per_token = j;
    r.tok_s.assign(j.size(), tok_s);
    r.ttft_s.assign(j.size(), ttft);
    return r;
}

TEST(Confidence, pick_setting_prefers_feasible_then_least_energy_among_well_measured) {
    TuneConstraints none;
    // A single lucky repeat (0.5) does not beat settings measured three times.
    std::vector<SettingRuns> s = {runs({1.0, 1.0, 1.0}, 100), runs({0.9, 0.92, 0.88}, 50), runs({0.5}, 10)};
    EXPECT_EQ(pick_setting(s, none, 3), 1);
    // When nothing has min_n repeats, the most measured count.
    EXPECT_EQ(pick_setting({runs({1.0}, 1), runs({0.8}, 1)}, none, 3), 1);
    // tokens/s >= 60 rules out setting 1.
    TuneConstraints fast;
    fast.min_tok_s = 60;
    EXPECT_EQ(pick_setting(s, fast, 3), 0);
    // Nobody feasible: the smallest shortfall (tokens/s 100 vs 200 beats 50).
    fast.min_tok_s = 200;
    EXPECT_EQ(pick_setting(s, fast, 3), 0);
    EXPECT_FALSE(feasible(s[0], fast));
    EXPECT_NEAR(violation(s[0], fast), 0.5, 1e-12);
    // A TTFT constraint fails a setting without a TTFT.
    TuneConstraints ttft;
    ttft.max_ttft_s = 0.2;
    EXPECT_FALSE(feasible(runs({1.0}, 1), ttft));
    EXPECT_TRUE(feasible(runs({1.0}, 1, 0.1), ttft));
    // A failed setting is never chosen.
    s[1].failed = true;
    EXPECT_EQ(pick_setting(s, none, 3), 0);
    EXPECT_EQ(pick_setting({}, none, 3), -1);
}
