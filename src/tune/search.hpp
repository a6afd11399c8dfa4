#pragma once
// The search of `joulebench tune`, apart from anything it measures: coordinate descent from the
// defaults over a few axes of settings, each axis decided by successive halving of repeats, then
// the defaults and the incumbent repeated for a confidence interval. A point is one value per axis;
// measuring one is a callback, so tests run the search on a made-up cost surface. docs/tune.md
// says why this search and not the grid.

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics/confidence.hpp"

namespace jb::tune {

struct Axis {
    std::string name;
    std::vector<std::string> values;
};
using Point = std::vector<int>;  // an index into each axis's values

// One measured repeat of a point (metrics/confidence.hpp).
using metrics::Trial;
using metrics::add_trial;

// Every point's repeats so far (stored ones enter before the search, which reuses them).
class Trials {
public:
    metrics::SettingRuns & at(const Point & p);
    const metrics::SettingRuns * find(const Point & p) const;
    int n(const Point & p) const;
    bool failed(const Point & p) const;
    void add(const Point & p, const Trial & t);
    const std::vector<Point> & points() const { return order_; }  // in first-seen order

private:
    std::vector<Point> order_;
    std::map<Point, metrics::SettingRuns> runs_;
};

struct SearchParams {
    metrics::TuneConstraints constraints;
    int min_repeats = 3;    // repeats of the defaults and the incumbent at the end
    int max_passes = 3;     // passes over all axes (a pass that moves nothing ends the descent)
    double tie_gap = 0.03;  // two last survivors closer than this (relative J/token) are repeated
};

struct Hooks {
    // Measures one repeat of p; nullopt when the run was asked to stop.
    std::function<std::optional<Trial>(const Point &)> measure;
    // Whether p may be run (batch >= micro-batch, a context that fits the workload, ...).
    std::function<bool(const Point &)> valid = [](const Point &) { return true; };
    // Trials the budget still allows (a large number when it has no limit).
    std::function<int()> budget_left = [] { return 1 << 30; };
};

struct SearchResult {
    Point incumbent;          // where the descent ended
    std::string stop_reason;  // "converged", "budget", "stopped"
    int passes = 0;
};

SearchResult coordinate_descent(const std::vector<Axis> & axes, const Point & start, const Hooks & hooks,
                                const SearchParams & params, Trials & trials);

}  // namespace jb::tune
