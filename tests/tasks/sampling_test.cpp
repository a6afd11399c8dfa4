// Expected values come from CPython 3.11: random.Random(seed).getrandbits / sample.

#include "tasks/sampling.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

using namespace jb::tasks;

TEST(PyRandom, matches_cpython_getrandbits) {
    PyRandom r(1234);
    EXPECT_EQ(r.getrandbits(32), 4150886329u);
    EXPECT_EQ(r.getrandbits(32), 3342196574u);
    EXPECT_EQ(r.getrandbits(32), 1892932127u);
    PyRandom big((1ULL << 40) + 5);  // a seed of two 32-bit words
    EXPECT_EQ(big.getrandbits(32), 2166296868u);
}

TEST(PyRandom, matches_cpython_randbelow) {
    PyRandom r(1234);
    EXPECT_EQ(r.randbelow(10), 7u);
    EXPECT_EQ(r.randbelow(1000), 119u);
}

TEST(PyRandom, matches_cpython_sample_set_branch) {
    // random.Random(1234).sample(range(7473), 5) twice: the GSM8K train few-shot draws of lm-eval.
    PyRandom r(1234);
    EXPECT_EQ(r.sample(7473, 5), (std::vector<size_t>{6374, 3610, 957, 61, 742}));
    EXPECT_EQ(r.sample(7473, 5), (std::vector<size_t>{7462, 6610, 4769, 286, 5501}));
    PyRandom r2(1234);
    EXPECT_EQ(r2.sample(1119, 25),
              (std::vector<size_t>{902, 239, 15,  185, 71,  171, 201, 726,  484, 35,  63,  32,  708,
                                   991, 949, 304, 186, 374, 234, 29,  1030, 996, 511, 132, 1108}));
}

TEST(PyRandom, matches_cpython_sample_pool_branch) {
    PyRandom r(1234);
    EXPECT_EQ(r.sample(30, 25), (std::vector<size_t>{24, 14, 3, 0,  2, 18, 1,  21, 25, 27, 11, 7, 26,
                                                     17, 16, 5, 10, 9, 29, 12, 19, 22, 23, 13, 28}));
    PyRandom r0(0);
    EXPECT_EQ(r0.sample(100, 10), (std::vector<size_t>{49, 97, 53, 5, 33, 65, 62, 51, 38, 61}));
}

TEST(PyRandom, picks_the_branch_at_cpythons_thresholds) {
    // k = 6 raises the pool threshold to 21 + 4**ceil(log(18, 4)) = 85, so n = 50 uses the pool.
    // (The seeds are ones where the other branch would pick differently.)
    PyRandom r(1);
    EXPECT_EQ(r.sample(50, 6), (std::vector<size_t>{8, 36, 4, 16, 7, 31}));
    // k <= 5: pool up to n = 21, set from n = 22.
    PyRandom r2(2);
    EXPECT_EQ(r2.sample(22, 5), (std::vector<size_t>{1, 2, 11, 5, 21}));
    PyRandom r2b(2);
    EXPECT_EQ(r2b.sample(21, 5), (std::vector<size_t>{1, 2, 19, 11, 5}));
}

TEST(FewShotSampler, never_returns_the_evaluated_item) {
    FewShotSampler s(6, 1234);
    for (int round = 0; round < 200; ++round) {
        const long self = round % 6;
        const auto picked = s.draw(5, self);
        EXPECT_EQ(picked.size(), 5u);
        EXPECT_EQ(std::count(picked.begin(), picked.end(), static_cast<size_t>(self)), 0);
    }
}

TEST(Limit, seeded_sample_is_deterministic_sorted_and_seed_dependent) {
    const auto a = sample_limit(1000, 50, 1234);
    const auto b = sample_limit(1000, 50, 1234);
    const auto c = sample_limit(1000, 50, 99);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_EQ(a.size(), 50u);
    EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
    EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 50u);
    EXPECT_EQ(sample_limit(10, -1, 1).size(), 10u);
    EXPECT_EQ(sample_limit(10, 25, 1).size(), 10u);
}

TEST(Limit, balanced_sample_spreads_over_groups) {
    const std::vector<size_t> sizes = {100, 3, 50, 400, 7};
    const auto a = sample_limit_balanced(sizes, 40, 1234);
    EXPECT_EQ(a, sample_limit_balanced(sizes, 40, 1234));
    size_t total = 0;
    for (size_t g = 0; g < sizes.size(); ++g) {
        total += a[g].size();
        EXPECT_LE(a[g].size(), sizes[g]);
        EXPECT_TRUE(std::is_sorted(a[g].begin(), a[g].end()));
    }
    EXPECT_EQ(total, 40u);
    // The 3-item group is exhausted; the others share the rest within one item of each other.
    EXPECT_EQ(a[1].size(), 3u);
    for (const size_t g : {0u, 2u, 3u, 4u}) {
        EXPECT_GE(a[g].size(), 7u);
        EXPECT_LE(a[g].size(), 10u);
    }
    EXPECT_EQ(a[4].size(), 7u);  // exhausted too
}

TEST(LlamaSelection, deterministic_distinct_and_a_prefix_of_a_longer_run) {
    const auto a = llama_hellaswag_selection(10042, 400);
    EXPECT_EQ(a, llama_hellaswag_selection(10042, 400));
    EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 400u);
    const auto b = llama_hellaswag_selection(10042, 500);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));  // llama-perplexity draws task by task
}
