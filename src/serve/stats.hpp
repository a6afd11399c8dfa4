#pragma once
// Latency statistics of a serving level: percentiles as numpy.percentile computes them (the
// default 'linear' method, which vLLM's benchmark_serving and ML.ENERGY report), a latency
// summary in milliseconds, and a bounded reservoir for per-token gaps, whose count grows with
// the run while the memory must not.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "serve/random.hpp"

namespace jb::serve {

// The p-th percentile (0 <= p <= 100) of `values` by linear interpolation between the closest
// ranks: rank = p/100 * (n - 1) over the sorted values (numpy.percentile's default). NaN for
// no values. `values` is sorted in place.
double percentile(std::vector<double> & values, double p);
// Same, for values already sorted ascending.
double percentile_sorted(const std::vector<double> & sorted, double p);

// Mean, p50/p90/p99 and max of a set of latencies, in milliseconds; n = 0 leaves NaNs.
struct LatencySummary {
    long n = 0;
    double mean_ms = 0.0;
    double p50_ms = 0.0;
    double p90_ms = 0.0;
    double p99_ms = 0.0;
    double max_ms = 0.0;
};
// Summarises latencies given in seconds (sorted in place).
LatencySummary summarize_s(std::vector<double> & values_s);

// A uniform sample of at most `capacity` values from a stream of any length (Vitter's
// Algorithm R with a seeded generator, so a run is reproducible): exact while the stream is
// no longer than the capacity. The count, mean and maximum are kept over every value.
class Reservoir {
public:
    explicit Reservoir(size_t capacity = 100000, uint64_t seed = 0x5eed);

    void add(double value);
    long count() const { return count_; }  // values seen
    double mean() const { return count_ > 0 ? sum_ / static_cast<double>(count_) : 0.0; }
    double max() const { return max_; }
    bool exact() const { return count_ <= static_cast<long>(capacity_); }
    const std::vector<double> & sample() const { return sample_; }
    // Percentiles from the sample; count, mean and maximum from every value (seconds in, ms out).
    LatencySummary summary_ms() const;

private:
    size_t capacity_;
    Rng rng_;
    long count_ = 0;
    double sum_ = 0.0;
    double max_ = 0.0;
    std::vector<double> sample_;
};

}  // namespace jb::serve
