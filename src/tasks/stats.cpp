#include "tasks/stats.hpp"

#include <cmath>
#include <limits>

namespace jb::tasks {

MeanStderr mean_stderr(const std::vector<double> & values) {
    MeanStderr r;
    r.n = values.size();
    if (r.n == 0) {
        r.stderr_ = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    double sum = 0.0;
    for (const double v : values) sum += v;
    r.mean = sum / static_cast<double>(r.n);
    if (r.n < 2) {
        r.stderr_ = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    double ss = 0.0;
    for (const double v : values) ss += (v - r.mean) * (v - r.mean);
    const double sd = std::sqrt(ss / static_cast<double>(r.n - 1));
    r.stderr_ = sd / std::sqrt(static_cast<double>(r.n));
    return r;
}

MeanStderr pooled_mean(const std::vector<MeanStderr> & groups) {
    MeanStderr r;
    double weighted = 0.0;
    double pooled_num = 0.0;
    size_t k = 0;
    for (const auto & g : groups) {
        if (g.n == 0) continue;
        ++k;
        r.n += g.n;
        weighted += g.mean * static_cast<double>(g.n);
        // A one-item group has no variance estimate; it adds nothing to the pooled sum (its
        // (n - 1) factor is 0), exactly as in lm-eval.
        if (g.n > 1) pooled_num += static_cast<double>(g.n - 1) * g.stderr_ * g.stderr_ * static_cast<double>(g.n);
    }
    if (r.n == 0) {
        r.stderr_ = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    r.mean = weighted / static_cast<double>(r.n);
    if (r.n <= k) {
        r.stderr_ = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    r.stderr_ = std::sqrt(pooled_num / static_cast<double>(r.n - k) / static_cast<double>(r.n));
    return r;
}

double sample_sd(const std::vector<double> & values) {
    const MeanStderr m = mean_stderr(values);
    return m.stderr_ * std::sqrt(static_cast<double>(m.n));
}

MeanStderr macro_mean(const std::vector<MeanStderr> & groups, double item_sd) {
    MeanStderr r;
    double sum = 0.0;
    double var = 0.0;
    size_t k = 0;
    for (const auto & g : groups) {
        if (g.n == 0) continue;
        ++k;
        r.n += g.n;
        sum += g.mean;
        const double se = g.n > 1 ? g.stderr_ : item_sd / std::sqrt(static_cast<double>(g.n));
        var += se * se;
    }
    if (k == 0) {
        r.stderr_ = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    r.mean = sum / static_cast<double>(k);
    r.stderr_ = std::sqrt(var) / static_cast<double>(k);
    return r;
}

}  // namespace jb::tasks
