#include "tune/search.hpp"

#include <algorithm>
#include <cmath>

namespace jb::tune {

metrics::SettingRuns & Trials::at(const Point & p) {
    auto [it, added] = runs_.try_emplace(p);
    if (added) order_.push_back(p);
    return it->second;
}

const metrics::SettingRuns * Trials::find(const Point & p) const {
    const auto it = runs_.find(p);
    return it == runs_.end() ? nullptr : &it->second;
}

int Trials::n(const Point & p) const {
    const auto * r = find(p);
    return r ? r->n() : 0;
}

bool Trials::failed(const Point & p) const {
    const auto * r = find(p);
    return r && r->failed;
}

void Trials::add(const Point & p, const Trial & t) {
    add_trial(at(p), t);
}

namespace {

enum class Go { ok, budget, stopped };

class Descent {
public:
    Descent(const std::vector<Axis> & axes, const Point & start, const Hooks & hooks, const SearchParams & params,
            Trials & trials)
        : axes_(axes), start_(start), hooks_(hooks), params_(params), trials_(trials), incumbent_(start) {}

    SearchResult run() {
        SearchResult r;
        Go go = Go::ok;
        // The defaults run once whatever the budget: a tune that measured nothing says nothing.
        if (trials_.n(start_) == 0 && !trials_.failed(start_))
            go = measure(start_, /*confirming=*/true, /*force=*/true);
        // At most half of the budget left after the defaults' first run (when a time budget can
        // say how many trials it holds) is kept for the final repeats: a small budget explores.
        reserve_cap_ = std::max(0, hooks_.budget_left() / 2);
        bool converged = false;
        while (go == Go::ok && r.passes < params_.max_passes) {
            bool moved = false;
            for (size_t a = 0; a < axes_.size() && go == Go::ok; ++a) {
                if (axes_[a].values.size() < 2) continue;
                std::vector<Point> candidates;
                for (size_t v = 0; v < axes_[a].values.size(); ++v) {
                    Point p = incumbent_;
                    p[a] = int(v);
                    if (p == incumbent_ || hooks_.valid(p)) candidates.push_back(p);
                }
                if (candidates.size() < 2) continue;
                Point winner = incumbent_;
                go = halve(candidates, winner);
                if (winner != incumbent_ && before(winner, incumbent_)) {
                    incumbent_ = winner;
                    moved = true;
                }
            }
            if (go != Go::ok) break;
            ++r.passes;
            if (!moved) {
                converged = true;
                break;
            }
        }
        if (go != Go::stopped) {
            const Go confirmed = confirm();
            if (go == Go::ok) go = confirmed;
        }
        r.incumbent = incumbent_;
        r.stop_reason = go == Go::stopped  ? "stopped"
                        : go == Go::budget ? "budget"
                        : converged        ? "converged"
                                           : "passes";
        return r;
    }

private:
    metrics::SettingRuns runs_of(const Point & p) const {
        const auto * r = trials_.find(p);
        return r ? *r : metrics::SettingRuns{};
    }
    bool before(const Point & a, const Point & b) const {
        return metrics::ranks_before(runs_of(a), runs_of(b), params_.constraints);
    }
    int need(const Point & p) const { return trials_.failed(p) ? 0 : std::max(0, params_.min_repeats - trials_.n(p)); }
    int reserve() const {
        const int r = need(start_) + (incumbent_ != start_ ? need(incumbent_) : 0);
        return std::min(r, reserve_cap_);
    }

    Go measure(const Point & p, bool confirming, bool force = false) {
        if (!force && hooks_.budget_left() <= (confirming ? 0 : reserve())) return Go::budget;
        const auto t = hooks_.measure(p);
        if (!t) return Go::stopped;
        trials_.add(p, *t);
        return Go::ok;
    }

    // Two survivors whose mean J/token differ by less than tie_gap, on the same side of the
    // constraints: one more round of repeats before one of them is dropped.
    bool close(const Point & a, const Point & b) const {
        const auto ra = runs_of(a), rb = runs_of(b);
        if (metrics::feasible(ra, params_.constraints) != metrics::feasible(rb, params_.constraints)) return false;
        const double ja = metrics::mean_ci95(ra.j_per_token).mean, jb = metrics::mean_ci95(rb.j_per_token).mean;
        if (!std::isfinite(ja) || !std::isfinite(jb) || std::min(ja, jb) <= 0) return false;
        return std::fabs(ja - jb) / std::min(ja, jb) < params_.tie_gap;
    }

    // Successive halving: every survivor measured up to `target` repeats, the better half kept, the
    // target doubled (up to min_repeats), until one is left.
    Go halve(std::vector<Point> survivors, Point & winner) {
        const int top = std::max(1, params_.min_repeats);
        int target = 1;
        auto rank = [&] {
            std::stable_sort(survivors.begin(), survivors.end(),
                             [&](const Point & a, const Point & b) { return before(a, b); });
        };
        while (true) {
            for (const Point & s : survivors) {
                while (trials_.n(s) < target && !trials_.failed(s)) {
                    const Go go = measure(s, /*confirming=*/false);
                    if (go != Go::ok) {
                        rank();
                        winner = survivors.front();
                        return go;
                    }
                }
            }
            survivors.erase(std::remove_if(survivors.begin(), survivors.end(),
                                           [&](const Point & p) { return trials_.failed(p) || trials_.n(p) == 0; }),
                            survivors.end());
            if (survivors.empty()) {
                winner = incumbent_;
                return Go::ok;
            }
            rank();
            if (survivors.size() == 1) break;
            const size_t keep = (survivors.size() + 1) / 2;
            if (keep == 1 && target < top && close(survivors[0], survivors[1])) {
                target = std::min(target * 2, top);
                continue;
            }
            survivors.resize(keep);
            if (keep == 1) break;
            target = std::min(target * 2, top);
        }
        winner = survivors.front();
        return Go::ok;
    }

    // The defaults and the incumbent repeated up to min_repeats, the one with fewer first (the
    // incumbent on a tie: when the budget ends early it should not have fewer than the defaults,
    // or the choice, which needs as many repeats, falls back to them).
    Go confirm() {
        while (true) {
            std::vector<Point> due;
            for (const Point & p : {incumbent_, start_}) {
                if (need(p) > 0 && std::find(due.begin(), due.end(), p) == due.end()) due.push_back(p);
            }
            if (due.empty()) return Go::ok;
            std::stable_sort(due.begin(), due.end(),
                             [&](const Point & a, const Point & b) { return trials_.n(a) < trials_.n(b); });
            const Go go = measure(due.front(), /*confirming=*/true);
            if (go != Go::ok) return go;
        }
    }

    const std::vector<Axis> & axes_;
    const Point start_;
    const Hooks & hooks_;
    const SearchParams & params_;
    Trials & trials_;
    Point incumbent_;
    int reserve_cap_ = 0;
};

}  // namespace

SearchResult coordinate_descent(const std::vector<Axis> & axes, const Point & start, const Hooks & hooks,
                                const SearchParams & params, Trials & trials) {
    return Descent(axes, start, hooks, params, trials).run();
}

}  // namespace jb::tune
