#pragma once
// Deterministic sampling: few-shot examples drawn exactly as lm-evaluation-harness draws them
// (CPython's random.Random(seed).sample), --limit subsets, and llama-perplexity's HellaSwag
// task selection.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace jb::tasks {

// CPython's random.Random: MT19937 seeded by init_by_array with the seed's 32-bit words, and
// its sample()/_randbelow() algorithms, so Random(1234).sample(docs, k) picks the same docs.
class PyRandom {
public:
    explicit PyRandom(uint64_t seed);

    uint32_t next_u32();             // genrand_uint32
    uint32_t getrandbits(int k);     // 1 <= k <= 32
    uint32_t randbelow(uint32_t n);  // uniform in [0, n), n > 0
    // random.sample(range(n), k): k distinct indices in selection order. Throws std::invalid_argument if k > n.
    std::vector<size_t> sample(size_t n, size_t k);

private:
    std::array<uint32_t, 624> mt_{};
    size_t mti_ = 625;
};

// lm-eval's default few-shot sampler: one PyRandom(seed) stream for the whole task, drawn once
// per evaluated item in evaluation order. When the few-shot docs are the evaluated docs
// themselves, it draws k + 1 and drops the evaluated one, so an item never shows itself.
class FewShotSampler {
public:
    FewShotSampler(size_t pool_size, uint64_t seed) : pool_size_(pool_size), rng_(seed) {}
    // Indices into the few-shot pool; `self` is the evaluated item's index in the pool, or -1.
    std::vector<size_t> draw(size_t k, long self = -1);

private:
    size_t pool_size_;
    PyRandom rng_;
};

// Seeded subset of `limit` indices out of n, in ascending order (all of them if limit < 0 or >= n).
std::vector<size_t> sample_limit(size_t n, long limit, uint64_t seed);

// Seeded subset balanced over groups: group_sizes[g] items in group g; returns, per group, the
// chosen indices (ascending). Quotas differ by at most one between groups that have room.
std::vector<std::vector<size_t>> sample_limit_balanced(const std::vector<size_t> & group_sizes, long limit,
                                                       uint64_t seed);

// The tasks `llama-perplexity --hellaswag --hellaswag-tasks n` evaluates, in its order:
// std::mt19937(1) with std::uniform_int_distribution over the tasks left, without replacement
// (tools/perplexity/perplexity.cpp, hellaswag_score). Same libstdc++ => same selection.
std::vector<size_t> llama_hellaswag_selection(size_t total, size_t n);

// The seed --limit uses, kept apart from the few-shot stream so the two do not move together.
uint64_t limit_seed(uint64_t seed);

}  // namespace jb::tasks
