// The search on made-up cost surfaces: it finds the known best setting without trying the whole
// grid, keeps to the constraints and the budget, and never keeps a setting that failed.

#include "tune/search.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

using namespace jb::tune;

namespace {

// Three axes of 5 x 3 x 4 = 60 points. J/token is a bowl with its floor at (3, 1, 2) plus an
// interaction between the first two axes; tokens/s falls as the first axis grows.
const std::vector<Axis> kAxes = {
    {"ub", {"64", "128", "256", "512", "1024"}}, {"fa", {"auto", "on", "off"}}, {"t", {"0", "1", "2", "4"}}};
const Point kStart = {2, 0, 0};

double cost(const Point & p) {
    const double a = p[0] - 3.0, b = p[1] - 1.0, c = p[2] - 2.0;
    return 1.0 + 0.10 * a * a + 0.30 * b * b + 0.05 * c * c + 0.02 * a * b;
}
double speed(const Point & p) {
    return 1000.0 - 150.0 * p[0] + 10.0 * p[2];
}

// Measurements with a deterministic +-0.5 % wobble (repeat k of a point), so repeats differ.
struct Surface {
    std::map<Point, int> calls;
    std::set<Point> broken;  // these fail
    int total = 0;
    std::optional<Trial> operator()(const Point & p) {
        const int k = calls[p]++;
        ++total;
        Trial t;
        if (broken.count(p)) {
            t.ok = false;
            return t;
        }
        t.j_per_token = cost(p) * (1.0 + 0.005 * ((k % 3) - 1));
        t.tok_s = speed(p);
        t.ttft_s = 2048.0 / speed(p);
        return t;
    }
};

int best_of(const Trials & trials, const jb::metrics::TuneConstraints & c, int min_n, Point & best) {
    std::vector<jb::metrics::SettingRuns> runs;
    for (const auto & p : trials.points()) runs.push_back(*trials.find(p));
    const int i = jb::metrics::pick_setting(runs, c, min_n);
    if (i >= 0) best = trials.points()[size_t(i)];
    return i;
}

}  // namespace

TEST(TuneSearch, finds_the_known_best_of_a_cost_surface_without_the_whole_grid) {
    Surface s;
    Hooks hooks;
    hooks.measure = [&](const Point & p) { return s(p); };
    SearchParams params;
    Trials trials;
    const SearchResult r = coordinate_descent(kAxes, kStart, hooks, params, trials);
    EXPECT_EQ(r.incumbent, (Point{3, 1, 2}));
    EXPECT_EQ(r.stop_reason, "converged");
    Point best;
    ASSERT_GE(best_of(trials, params.constraints, params.min_repeats, best), 0);
    EXPECT_EQ(best, (Point{3, 1, 2}));
    // The defaults and the best are repeated for the interval.
    EXPECT_GE(trials.n(kStart), 3);
    EXPECT_GE(trials.n(best), 3);
    // A fraction of the 60 points.
    EXPECT_LT(trials.points().size(), 20u);
    EXPECT_LT(s.total, 60);
}

TEST(TuneSearch, respects_a_throughput_constraint) {
    Surface s;
    Hooks hooks;
    hooks.measure = [&](const Point & p) { return s(p); };
    SearchParams params;
    params.constraints.min_tok_s = 600.0;  // ub index <= 2 (speed 1000 - 150 ub + 10 t)
    Trials trials;
    const SearchResult r = coordinate_descent(kAxes, kStart, hooks, params, trials);
    // The cheapest point with ub <= 2: (2, 1, 2) (cost 1.10 - 0.02 x -1 x 0 = 1.1).
    EXPECT_EQ(r.incumbent, (Point{2, 1, 2}));
    Point best;
    best_of(trials, params.constraints, params.min_repeats, best);
    EXPECT_EQ(best, (Point{2, 1, 2}));
    EXPECT_TRUE(jb::metrics::feasible(*trials.find(best), params.constraints));
}

TEST(TuneSearch, respects_a_time_to_first_token_constraint) {
    Surface s;
    Hooks hooks;
    hooks.measure = [&](const Point & p) { return s(p); };
    SearchParams params;
    params.constraints.max_ttft_s = 2048.0 / 800.0;  // speed >= 800: ub index <= 1
    Trials trials;
    coordinate_descent(kAxes, kStart, hooks, params, trials);
    Point best;
    best_of(trials, params.constraints, params.min_repeats, best);
    EXPECT_EQ(best, (Point{1, 1, 2}));
}

// A served load's SLO: the latency ratio (worst target's value / limit) grows as tokens/s falls;
// <= 1 holds for ub index <= 2 only, where the unconstrained best (ub index 3) misses it.
TEST(TuneSearch, respects_a_latency_slo) {
    Surface s;
    Hooks hooks;
    hooks.measure = [&](const Point & p) {
        auto t = s(p);
        if (t) t->latency_ratio = 700.0 / speed(p);  // speed 700 at ub index 2 (t 0) .. 720 (t 2)
        return t;
    };
    SearchParams params;
    params.constraints.max_latency_ratio = 1.0;
    Trials trials;
    coordinate_descent(kAxes, kStart, hooks, params, trials);
    Point best;
    best_of(trials, params.constraints, params.min_repeats, best);
    EXPECT_EQ(best, (Point{2, 1, 2}));
    const auto & runs = *trials.find(best);
    EXPECT_LE(jb::metrics::mean_ci95(runs.latency_ratio).mean, 1.0);
    // Without the SLO the floor of the bowl wins.
    Surface free;
    Hooks h2;
    h2.measure = [&](const Point & p) { return free(p); };
    Trials t2;
    coordinate_descent(kAxes, kStart, h2, SearchParams{}, t2);
    best_of(t2, {}, SearchParams{}.min_repeats, best);
    EXPECT_EQ(best, (Point{3, 1, 2}));
}

TEST(TuneSearch, stays_within_a_budget_of_trials) {
    for (int budget : {0, 1, 4, 9, 15}) {
        Surface s;
        int left = budget;
        Hooks hooks;
        hooks.measure = [&](const Point & p) {
            --left;
            return s(p);
        };
        hooks.budget_left = [&] { return left; };
        Trials trials;
        const SearchResult r = coordinate_descent(kAxes, kStart, hooks, SearchParams{}, trials);
        EXPECT_LE(s.total, std::max(budget, 1)) << budget;  // the defaults run once whatever the budget
        EXPECT_EQ(r.stop_reason, "budget") << budget;
        EXPECT_GE(trials.n(kStart), 1) << budget;
    }
}

TEST(TuneSearch, skips_points_that_cannot_run_and_never_keeps_a_failed_one) {
    Surface s;
    s.broken = {{3, 0, 0}};  // the best ub at the start's other settings fails
    Hooks hooks;
    hooks.measure = [&](const Point & p) { return s(p); };
    hooks.valid = [](const Point & p) { return p[0] != 4; };  // ub 1024 cannot run
    Trials trials;
    coordinate_descent(kAxes, kStart, hooks, SearchParams{}, trials);
    for (const auto & p : trials.points()) EXPECT_NE(p[0], 4);
    EXPECT_TRUE(trials.failed({3, 0, 0}));
    Point best;
    best_of(trials, {}, 3, best);
    EXPECT_NE(best, (Point{3, 0, 0}));
    EXPECT_FALSE(trials.find(best)->failed);
}

TEST(TuneSearch, stops_when_asked) {
    Surface s;
    Hooks hooks;
    hooks.measure = [&](const Point & p) -> std::optional<Trial> {
        if (s.total == 3) return std::nullopt;
        return s(p);
    };
    Trials trials;
    const SearchResult r = coordinate_descent(kAxes, kStart, hooks, SearchParams{}, trials);
    EXPECT_EQ(r.stop_reason, "stopped");
    EXPECT_EQ(s.total, 3);
}

TEST(TuneSearch, reuses_stored_trials) {
    Trials trials;
    for (int k = 0; k < 3; ++k) trials.add(kStart, {true, cost(kStart), speed(kStart), 1.0});
    Surface s;
    Hooks hooks;
    hooks.measure = [&](const Point & p) { return s(p); };
    coordinate_descent(kAxes, kStart, hooks, SearchParams{}, trials);
    EXPECT_EQ(s.calls[kStart], 0);  // the defaults had their repeats already
}
