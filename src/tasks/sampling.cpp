#include "tasks/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <unordered_set>

namespace jb::tasks {

namespace {

constexpr size_t kN = 624;
constexpr size_t kM = 397;

}  // namespace

PyRandom::PyRandom(uint64_t seed) {
    // CPython's random_seed(): the absolute value of an int seed, split into 32-bit words,
    // least significant first (at least one word), fed to init_by_array.
    std::vector<uint32_t> key;
    key.push_back(static_cast<uint32_t>(seed & 0xFFFFFFFFu));
    if (seed >> 32) key.push_back(static_cast<uint32_t>(seed >> 32));

    // init_genrand(19650218)
    mt_[0] = 19650218u;
    for (size_t i = 1; i < kN; ++i) {
        mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
    }
    // init_by_array(key)
    size_t i = 1, j = 0;
    for (size_t k = std::max(kN, key.size()); k; --k) {
        mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
        ++i;
        ++j;
        if (i >= kN) {
            mt_[0] = mt_[kN - 1];
            i = 1;
        }
        if (j >= key.size()) j = 0;
    }
    for (size_t k = kN - 1; k; --k) {
        mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
        ++i;
        if (i >= kN) {
            mt_[0] = mt_[kN - 1];
            i = 1;
        }
    }
    mt_[0] = 0x80000000u;
    mti_ = kN;
}

uint32_t PyRandom::next_u32() {
    static constexpr uint32_t mag01[2] = {0x0u, 0x9908b0dfu};
    constexpr uint32_t upper = 0x80000000u, lower = 0x7fffffffu;
    if (mti_ >= kN) {
        size_t kk = 0;
        for (; kk < kN - kM; ++kk) {
            const uint32_t y = (mt_[kk] & upper) | (mt_[kk + 1] & lower);
            mt_[kk] = mt_[kk + kM] ^ (y >> 1) ^ mag01[y & 1u];
        }
        for (; kk < kN - 1; ++kk) {
            const uint32_t y = (mt_[kk] & upper) | (mt_[kk + 1] & lower);
            mt_[kk] = mt_[kk + kM - kN] ^ (y >> 1) ^ mag01[y & 1u];
        }
        const uint32_t y = (mt_[kN - 1] & upper) | (mt_[0] & lower);
        mt_[kN - 1] = mt_[kM - 1] ^ (y >> 1) ^ mag01[y & 1u];
        mti_ = 0;
    }
    uint32_t y = mt_[mti_++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

uint32_t PyRandom::getrandbits(int k) {
    return next_u32() >> (32 - k);
}

uint32_t PyRandom::randbelow(uint32_t n) {
    // _randbelow_with_getrandbits: k = n.bit_length(), redraw until below n.
    int k = 0;
    for (uint32_t x = n; x; x >>= 1) ++k;
    uint32_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
}

std::vector<size_t> PyRandom::sample(size_t n, size_t k) {
    if (k > n) throw std::invalid_argument("sample larger than population");
    if (n > 0xFFFFFFFFu) throw std::invalid_argument("population too large");
    std::vector<size_t> result(k);
    // CPython picks a pool copy for small populations and a set of seen indices otherwise;
    // the two consume random numbers differently, so the same rule must be used.
    size_t setsize = 21;
    if (k > 5) setsize += static_cast<size_t>(std::pow(4.0, std::ceil(std::log(3.0 * k) / std::log(4.0))));
    if (n <= setsize) {
        std::vector<size_t> pool(n);
        for (size_t i = 0; i < n; ++i) pool[i] = i;
        for (size_t i = 0; i < k; ++i) {
            const size_t j = randbelow(static_cast<uint32_t>(n - i));
            result[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
    } else {
        std::unordered_set<size_t> selected;
        for (size_t i = 0; i < k; ++i) {
            size_t j = randbelow(static_cast<uint32_t>(n));
            while (selected.count(j)) j = randbelow(static_cast<uint32_t>(n));
            selected.insert(j);
            result[i] = j;
        }
    }
    return result;
}

std::vector<size_t> FewShotSampler::draw(size_t k, long self) {
    if (k == 0) return {};
    if (self < 0) return rng_.sample(pool_size_, k);
    std::vector<size_t> picked = rng_.sample(pool_size_, std::min(k + 1, pool_size_));
    picked.erase(std::remove(picked.begin(), picked.end(), static_cast<size_t>(self)), picked.end());
    if (picked.size() > k) picked.resize(k);
    return picked;
}

uint64_t limit_seed(uint64_t seed) {
    return seed ^ 0x9E3779B97F4A7C15ULL;
}

std::vector<size_t> sample_limit(size_t n, long limit, uint64_t seed) {
    std::vector<size_t> idx;
    if (limit < 0 || static_cast<size_t>(limit) >= n) {
        idx.resize(n);
        for (size_t i = 0; i < n; ++i) idx[i] = i;
        return idx;
    }
    PyRandom rng(limit_seed(seed));
    idx = rng.sample(n, static_cast<size_t>(limit));
    std::sort(idx.begin(), idx.end());
    return idx;
}

std::vector<std::vector<size_t>> sample_limit_balanced(const std::vector<size_t> & group_sizes, long limit,
                                                       uint64_t seed) {
    const size_t g = group_sizes.size();
    std::vector<std::vector<size_t>> out(g);
    size_t total = 0;
    for (const size_t s : group_sizes) total += s;
    if (limit < 0 || static_cast<size_t>(limit) >= total) {
        for (size_t i = 0; i < g; ++i) {
            out[i].resize(group_sizes[i]);
            for (size_t j = 0; j < group_sizes[i]; ++j) out[i][j] = j;
        }
        return out;
    }

    PyRandom rng(limit_seed(seed));
    // Round robin over the groups in a seeded order, one item at a time, skipping full groups:
    // quotas differ by at most one, and which groups get the remainder depends on the seed.
    const std::vector<size_t> order = rng.sample(g, g);
    std::vector<size_t> quota(g, 0);
    size_t left = static_cast<size_t>(limit);
    while (left > 0) {
        for (const size_t gi : order) {
            if (left == 0) break;
            if (quota[gi] < group_sizes[gi]) {
                ++quota[gi];
                --left;
            }
        }
    }
    for (size_t i = 0; i < g; ++i) {
        out[i] = rng.sample(group_sizes[i], quota[i]);
        std::sort(out[i].begin(), out[i].end());
    }
    return out;
}

std::vector<size_t> llama_hellaswag_selection(size_t total, size_t n) {
    n = std::min(n, total);
    std::vector<size_t> left(total);
    for (size_t i = 0; i < total; ++i) left[i] = i;
    std::mt19937 rng(1);
    std::vector<size_t> picked;
    picked.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        std::uniform_int_distribution<size_t> dist(0, left.size() - 1);
        const size_t idx = dist(rng);
        picked.push_back(left[idx]);
        left.erase(left.begin() + static_cast<long>(idx));
    }
    return picked;
}

}  // namespace jb::tasks
