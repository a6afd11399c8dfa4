// How far apart two candidates are, with the noise of their accuracy (a paired bootstrap over
// the items both ran) and of their energy and time (repeats' spread, else one window's
// resolution). Definitions: docs/metrics.md, "Noise".

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "joulebench/metrics.hpp"

namespace jb::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kReplicates = 2000;
constexpr double kZ95 = 1.959963984540054;
constexpr uint64_t kSeed = 0x6a6f756c6562656eULL;  // "joulebench": the same draws on every run

// splitmix64: small, fast and the same on every platform and standard library (std::
// distributions are not), so an interval printed today is the one printed tomorrow.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    size_t below(size_t n) { return size_t((unsigned __int128)next() * n >> 64); }
    double normal() {  // Box-Muller
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = 1.0 - uniform(), u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * 3.14159265358979323846 * u2;
        spare_ = r * std::sin(t);
        has_spare_ = true;
        return r * std::cos(t);
    }

private:
    uint64_t state_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

// One task of one side of a comparison.
struct TaskSide {
    double score = 0.0, score_se = 0.0;
    const std::vector<ItemScore> * items = nullptr;
    double energy_j = 0.0, energy_rel_se = 0.0;
    double wall_s = 0.0, wall_se_s = 0.0;
};

// Two sides' tasks, index by index, with the items both have (by id) when both have items.
struct TaskPair {
    TaskSide a, b;
    std::vector<double> item_a, item_b;  // paired outcomes; empty: use the standard errors
    double mean_a = 0.0, mean_b = 0.0;
};

void pair_items(TaskPair & p) {
    if (!p.a.items || !p.b.items) return;
    const auto & x = *p.a.items;
    const auto & y = *p.b.items;
    size_t i = 0, j = 0;
    while (i < x.size() && j < y.size()) {
        if (x[i].id < y[j].id) {
            ++i;
        } else if (y[j].id < x[i].id) {
            ++j;
        } else {
            p.item_a.push_back(x[i++].value);
            p.item_b.push_back(y[j++].value);
        }
    }
    if (p.item_a.size() < 2) {
        p.item_a.clear();
        p.item_b.clear();
        return;
    }
    for (size_t k = 0; k < p.item_a.size(); ++k) {
        p.mean_a += p.item_a[k];
        p.mean_b += p.item_b[k];
    }
    p.mean_a /= double(p.item_a.size());
    p.mean_b /= double(p.item_b.size());
}

// The replicates of both sides' totals: mean score over tasks, summed energy and wall time. Each
// noise source is drawn on its own so its share of the spread can be told apart.
struct Replicates {
    std::vector<double> score_a, score_b, energy_a, energy_b, wall_a, wall_b;
};

Replicates simulate(const std::vector<TaskPair> & pairs) {
    Replicates r;
    Rng rng(kSeed);
    const double n = double(pairs.size());
    for (int k = 0; k < kReplicates; ++k) {
        double sa = 0, sb = 0, ea = 0, eb = 0, wa = 0, wb = 0;
        for (const TaskPair & p : pairs) {
            if (!p.item_a.empty()) {
                const size_t m = p.item_a.size();
                double da = 0, db = 0;
                for (size_t i = 0; i < m; ++i) {
                    const size_t pick = rng.below(m);
                    da += p.item_a[pick];
                    db += p.item_b[pick];
                }
                sa += p.a.score + da / double(m) - p.mean_a;
                sb += p.b.score + db / double(m) - p.mean_b;
            } else {
                sa += p.a.score + p.a.score_se * rng.normal();
                sb += p.b.score + p.b.score_se * rng.normal();
            }
            // Log-normal: an energy stays positive however short its window.
            auto energy = [&](const TaskSide & t) {
                const double s = t.energy_rel_se;
                return s > 0 ? t.energy_j * std::exp(s * rng.normal() - 0.5 * s * s) : t.energy_j;
            };
            ea += energy(p.a);
            eb += energy(p.b);
            wa += p.a.wall_s + (p.a.wall_se_s > 0 ? p.a.wall_se_s * rng.normal() : 0.0);
            wb += p.b.wall_s + (p.b.wall_se_s > 0 ? p.b.wall_se_s * rng.normal() : 0.0);
        }
        r.score_a.push_back(sa / n);
        r.score_b.push_back(sb / n);
        r.energy_a.push_back(ea);
        r.energy_b.push_back(eb);
        r.wall_a.push_back(wa);
        r.wall_b.push_back(wb);
    }
    return r;
}

// The 2.5 % and 97.5 % points.
std::pair<double, double> interval(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[size_t(0.025 * double(v.size()))], v[size_t(0.975 * double(v.size())) - 1]};
}

// Standard deviation of log(x / y) over the replicates where both are positive.
double log_ratio_sd(const std::vector<double> & x, const std::vector<double> & y) {
    std::vector<double> v;
    for (size_t i = 0; i < x.size(); ++i) {
        if (x[i] > 0 && y[i] > 0) v.push_back(std::log(x[i] / y[i]));
    }
    if (v.size() < 2) return 0.0;
    double mean = 0;
    for (double d : v) mean += d;
    mean /= double(v.size());
    double ss = 0;
    for (double d : v) ss += (d - mean) * (d - mean);
    return std::sqrt(ss / double(v.size() - 1));
}

// a / b - 1 with the edge cases of zero scores: equal zeros are no difference.
double advantage(double a, double b) {
    if (a == b) return 0.0;
    if (!(b > 0)) return kInf;
    return a / b - 1.0;
}

TaskSide side_of(const CandidateTask & t) {
    return {t.score, t.score_stderr, t.items.get(), t.energy_j, t.energy_rel_se, t.wall_s, t.wall_se_s};
}

TaskSide reference_side_of(const CandidateTask & t) {
    return {t.ref_score, t.ref_score_stderr, t.ref_items.get(), t.ref_energy_j, t.ref_energy_rel_se, 0.0, 0.0};
}

// How many times more of one noise source's data would bring the 95 % interval of a log-ratio
// `delta` clear of 0, the other source unchanged: var_this / k + var_other <= (delta / z)^2.
double factor(double delta, double sd_this, double sd_other) {
    const double target = (delta / kZ95) * (delta / kZ95);
    if (!(std::abs(delta) > 0) || !std::isfinite(delta)) return kNaN;
    const double room = target - sd_other * sd_other;
    if (!(room > 0) || !(sd_this > 0)) return kNaN;
    return sd_this * sd_this / room;
}

}  // namespace

Margin compare(const Candidate & a, const Candidate & b, Objective objective) {
    Margin m;
    std::vector<TaskPair> pairs;
    int with_items = 0;
    for (size_t i = 0; i < a.parts.size(); ++i) {
        TaskPair p;
        p.a = side_of(a.parts[i]);
        // The same (task, workload) on the other side: paired; else the same index, unpaired.
        const CandidateTask * other = nullptr;
        for (const auto & t : b.parts) {
            if (t.task == a.parts[i].task && t.workload == a.parts[i].workload) other = &t;
        }
        if (!other && i < b.parts.size()) other = &b.parts[i];
        if (!other) continue;
        p.b = side_of(*other);
        if (other->task == a.parts[i].task && other->workload == a.parts[i].workload) pair_items(p);
        if (!p.item_a.empty()) {
            ++with_items;
            m.items_paired += int(p.item_a.size());
            for (size_t k = 0; k < p.item_a.size(); ++k) m.items_differ += p.item_a[k] != p.item_b[k] ? 1 : 0;
        }
        pairs.push_back(std::move(p));
    }
    if (pairs.empty()) {
        // Nothing to draw from (candidates built by hand, without their tasks): the point estimates.
        m.value = objective == Objective::max_eor      ? advantage(a.eor, b.eor)
                  : objective == Objective::min_energy ? advantage(b.energy_wh, a.energy_wh)
                                                       : advantage(b.latency_s, a.latency_s);
        m.lo = m.hi = m.value;
        m.score_diff = m.score_lo = m.score_hi = a.score - b.score;
        m.distinguishable = m.value != 0.0;
        m.noise_known = false;
        m.accuracy_method = "no noise known (the candidates carry no per-task results)";
        return m;
    }
    if (with_items == int(pairs.size())) {
        m.accuracy_method = fmt::format("paired bootstrap over {} items", m.items_paired);
    } else if (with_items > 0) {
        m.accuracy_method = fmt::format("paired bootstrap over {} items, standard errors for {} of {} tasks without "
                                        "stored items",
                                        m.items_paired, pairs.size() - size_t(with_items), pairs.size());
    } else {
        m.accuracy_method = "standard errors (no per-item results stored)";
    }

    const Replicates r = simulate(pairs);
    m.score_diff = a.score - b.score;
    {
        std::vector<double> d(r.score_a.size());
        for (size_t k = 0; k < d.size(); ++k) d[k] = r.score_a[k] - r.score_b[k];
        std::tie(m.score_lo, m.score_hi) = interval(d);
    }

    std::vector<double> v(r.score_a.size());
    double sd_acc = 0, sd_cost = 0;  // log-ratio spread from accuracy, and from energy or time
    switch (objective) {
        case Objective::max_eor:
            m.value = a.eor == b.eor ? 0.0 : advantage(a.eor, b.eor);
            for (size_t k = 0; k < v.size(); ++k) {
                v[k] = advantage(r.score_a[k] / r.energy_a[k], r.score_b[k] / r.energy_b[k]);
            }
            sd_acc = log_ratio_sd(r.score_a, r.score_b);
            sd_cost = log_ratio_sd(r.energy_b, r.energy_a);
            break;
        case Objective::min_energy:
            m.value = advantage(b.energy_wh, a.energy_wh);
            for (size_t k = 0; k < v.size(); ++k) v[k] = advantage(r.energy_b[k], r.energy_a[k]);
            sd_cost = log_ratio_sd(r.energy_b, r.energy_a);
            break;
        case Objective::min_latency:
            m.value = advantage(b.latency_s, a.latency_s);
            for (size_t k = 0; k < v.size(); ++k) v[k] = advantage(r.wall_b[k], r.wall_a[k]);
            sd_cost = log_ratio_sd(r.wall_b, r.wall_a);
            break;
    }
    std::tie(m.lo, m.hi) = interval(v);
    m.distinguishable = m.lo > 0 || m.hi < 0;
    if (m.distinguishable) {
        m.items_factor = m.repeats_factor = 0.0;
    } else {
        const double delta = std::log1p(m.value);
        m.items_factor = factor(delta, sd_acc, sd_cost);
        m.repeats_factor = factor(delta, sd_cost, sd_acc);
    }
    return m;
}

std::pair<double, double> retention_interval(const Candidate & c) {
    if (!std::isfinite(c.retention) || c.parts.empty()) return {kNaN, kNaN};
    std::vector<TaskPair> pairs;
    for (const auto & t : c.parts) {
        TaskPair p;
        p.a = side_of(t);
        p.b = reference_side_of(t);
        pair_items(p);
        pairs.push_back(std::move(p));
    }
    const Replicates r = simulate(pairs);
    std::vector<double> v(r.score_a.size());
    for (size_t k = 0; k < v.size(); ++k) v[k] = r.score_b[k] > 0 ? r.score_a[k] / r.score_b[k] : kInf;
    return interval(v);
}

}  // namespace jb::metrics
