#pragma once
// Scores and their standard errors, computed as lm-evaluation-harness computes them
// (lm_eval/api/metrics.py), so "± x" means the same thing in both tools.

#include <cstddef>
#include <vector>

namespace jb::tasks {

struct MeanStderr {
    double mean = 0.0;
    double stderr_ = 0.0;  // NaN when n < 2 (a sample standard deviation needs two values)
    size_t n = 0;
};

// mean and mean_stderr: sample standard deviation (n - 1) divided by sqrt(n).
MeanStderr mean_stderr(const std::vector<double> & values);

// A size-weighted (micro) mean of groups, i.e. the mean over all their items, with lm-eval's
// pooled_sample_stderr (used for groups with weight_by_size, such as MMLU and its categories):
// sqrt( sum_i (n_i - 1) s_i^2 n_i / (N - k) / N ) with s_i each group's standard error.
// A one-item group adds no degrees of freedom; if every group has one item the formula is
// undefined and stderr_ is NaN (callers fall back to mean_stderr over all items).
MeanStderr pooled_mean(const std::vector<MeanStderr> & groups);

// An unweighted (macro) mean of group means; its standard error treats the groups as
// independent: sqrt(sum_i s_i^2) / k. A one-item group has no s_i of its own; it gets
// item_sd / sqrt(n_i) with item_sd the standard deviation over all items (pass it in).
MeanStderr macro_mean(const std::vector<MeanStderr> & groups, double item_sd);

// Sample standard deviation (n - 1) of the values; NaN if fewer than two.
double sample_sd(const std::vector<double> & values);

}  // namespace jb::tasks
