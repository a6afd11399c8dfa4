#include "serve/stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "serve/prometheus.hpp"
#include "serve/random.hpp"

using namespace jb::serve;

// numpy.percentile([15, 20, 35, 40, 50], p) by hand: rank = p/100 * 4.
TEST(Percentile, interpolates_linearly_between_closest_ranks_like_numpy) {
    std::vector<double> v = {40, 15, 50, 35, 20};  // unsorted on purpose
    EXPECT_DOUBLE_EQ(percentile(v, 0), 15.0);
    EXPECT_DOUBLE_EQ(percentile(v, 100), 50.0);
    EXPECT_DOUBLE_EQ(percentile(v, 50), 35.0);  // rank 2
    EXPECT_DOUBLE_EQ(percentile(v, 25), 20.0);  // rank 1
    EXPECT_DOUBLE_EQ(percentile(v, 40), 29.0);  // rank 1.6: 20 + 0.6 * 15
    EXPECT_DOUBLE_EQ(percentile(v, 90), 46.0);  // rank 3.6: 40 + 0.6 * 10
    EXPECT_DOUBLE_EQ(percentile(v, 99), 49.6);  // rank 3.96: 40 + 0.96 * 10
}

TEST(Percentile, of_one_value_is_that_value_and_of_none_is_nan) {
    std::vector<double> one = {7.5};
    EXPECT_DOUBLE_EQ(percentile(one, 99), 7.5);
    std::vector<double> none;
    EXPECT_TRUE(std::isnan(percentile(none, 50)));
}

TEST(Percentile, summary_is_in_milliseconds) {
    // 1..100 ms: p50 = 50.5, p90 = 90.1, p99 = 99.01 (rank p/100 * 99), mean 50.5, max 100.
    std::vector<double> s;
    for (int i = 100; i >= 1; --i) s.push_back(i * 1e-3);
    LatencySummary l = summarize_s(s);
    EXPECT_EQ(l.n, 100);
    EXPECT_NEAR(l.mean_ms, 50.5, 1e-9);
    EXPECT_NEAR(l.p50_ms, 50.5, 1e-9);
    EXPECT_NEAR(l.p90_ms, 90.1, 1e-9);
    EXPECT_NEAR(l.p99_ms, 99.01, 1e-9);
    EXPECT_NEAR(l.max_ms, 100.0, 1e-9);
    std::vector<double> empty;
    LatencySummary e = summarize_s(empty);
    EXPECT_EQ(e.n, 0);
    EXPECT_TRUE(std::isnan(e.p50_ms));
}

TEST(Reservoir, is_exact_up_to_its_capacity) {
    Reservoir r(10, 1);
    for (int i = 1; i <= 10; ++i) r.add(i * 1e-3);
    EXPECT_TRUE(r.exact());
    LatencySummary s = r.summary_ms();
    EXPECT_EQ(s.n, 10);
    EXPECT_NEAR(s.p50_ms, 5.5, 1e-9);
    EXPECT_NEAR(s.max_ms, 10.0, 1e-9);
}

TEST(Reservoir, keeps_its_memory_bounded_and_its_sample_uniform) {
    Reservoir r(1000, 7);
    for (int i = 0; i < 100000; ++i) r.add(static_cast<double>(i % 1000));  // uniform on 0..999
    EXPECT_FALSE(r.exact());
    EXPECT_EQ(r.sample().size(), 1000u);
    EXPECT_EQ(r.count(), 100000);
    EXPECT_NEAR(r.mean(), 499.5, 1e-9);  // over every value, not the sample
    EXPECT_DOUBLE_EQ(r.max(), 999.0);
    std::vector<double> sample = r.sample();
    // A uniform sample of 1000 from U{0..999}: its median is within a few percent of 500.
    EXPECT_NEAR(percentile(sample, 50), 500.0, 60.0);
}

TEST(Rng, is_reproducible_and_its_exponential_has_the_right_mean) {
    Rng a(42), b(42), c(43);
    EXPECT_EQ(a.next(), b.next());
    EXPECT_NE(Rng(42).next(), c.next());
    Rng r(3);
    double sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) sum += r.exponential(4.0);
    EXPECT_NEAR(sum / n, 0.25, 0.25 * 0.01);  // mean 1/rate, within 1 % (sd/sqrt(n) = 0.2 %)
}

TEST(Prometheus, reads_counters_and_how_precisely_they_were_printed) {
    auto m = parse_prometheus(
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
        "# TYPE llamacpp:prompt_tokens_total counter\n"
        "llamacpp:prompt_tokens_total 42\n"
        "llamacpp:tokens_predicted_total 1.23457e+06\n"
        "llamacpp:prompt_seconds_total 12.5\n"
        "x{a=\"b c\"} 3 1700000000\n"
        "garbage line\n");
    ASSERT_EQ(m.count("llamacpp:prompt_tokens_total"), 1u);
    EXPECT_DOUBLE_EQ(m["llamacpp:prompt_tokens_total"].value, 42.0);
    EXPECT_DOUBLE_EQ(m["llamacpp:prompt_tokens_total"].max_error, 0.0);
    EXPECT_DOUBLE_EQ(m["llamacpp:tokens_predicted_total"].value, 1234570.0);
    EXPECT_DOUBLE_EQ(m["llamacpp:tokens_predicted_total"].max_error, 5.0);  // 6 significant digits of 1.2e6
    EXPECT_DOUBLE_EQ(m["llamacpp:prompt_seconds_total"].max_error, 0.05);
    EXPECT_DOUBLE_EQ(m["x{a=\"b c\"}"].value, 3.0);
    EXPECT_EQ(m.count("garbage"), 0u);
}
