#include "serve/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace jb::serve {

double percentile_sorted(const std::vector<double> & sorted, double p) {
    if (sorted.empty()) return NAN;
    p = std::clamp(p, 0.0, 100.0);
    const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(rank));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double frac = rank - static_cast<double>(lo);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

double percentile(std::vector<double> & values, double p) {
    std::sort(values.begin(), values.end());
    return percentile_sorted(values, p);
}

static LatencySummary summary_of_sorted_s(const std::vector<double> & sorted_s) {
    LatencySummary s;
    s.n = static_cast<long>(sorted_s.size());
    if (sorted_s.empty()) {
        s.mean_ms = s.p50_ms = s.p90_ms = s.p99_ms = s.max_ms = NAN;
        return s;
    }
    s.mean_ms = 1e3 * std::accumulate(sorted_s.begin(), sorted_s.end(), 0.0) / static_cast<double>(sorted_s.size());
    s.p50_ms = 1e3 * percentile_sorted(sorted_s, 50);
    s.p90_ms = 1e3 * percentile_sorted(sorted_s, 90);
    s.p99_ms = 1e3 * percentile_sorted(sorted_s, 99);
    s.max_ms = 1e3 * sorted_s.back();
    return s;
}

LatencySummary summarize_s(std::vector<double> & values_s) {
    std::sort(values_s.begin(), values_s.end());
    return summary_of_sorted_s(values_s);
}

Reservoir::Reservoir(size_t capacity, uint64_t seed) : capacity_(std::max<size_t>(capacity, 1)), rng_(seed) {}

void Reservoir::add(double value) {
    ++count_;
    sum_ += value;
    if (count_ == 1 || value > max_) max_ = value;
    if (sample_.size() < capacity_) {
        sample_.push_back(value);
        return;
    }
    // Keep the new value with probability capacity / count, in a uniformly chosen place.
    const uint64_t j = rng_.next() % static_cast<uint64_t>(count_);
    if (j < capacity_) sample_[j] = value;
}

LatencySummary Reservoir::summary_ms() const {
    std::vector<double> sorted = sample_;
    std::sort(sorted.begin(), sorted.end());
    LatencySummary s = summary_of_sorted_s(sorted);
    s.n = count_;
    if (count_ > 0) {
        s.mean_ms = 1e3 * mean();
        s.max_ms = 1e3 * max_;
    }
    return s;
}

}  // namespace jb::serve
