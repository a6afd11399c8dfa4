#pragma once
// A seeded generator whose draws are the same on every platform and standard library
// (std::exponential_distribution and friends are not), so that a seed names one arrival
// schedule and one set of request shapes everywhere.

#include <cmath>
#include <cstdint>

namespace jb::serve {

class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}

    // splitmix64 (Steele, Lea & Flood 2014).
    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    // Uniform integer in [lo, hi].
    long long between(long long lo, long long hi) {
        if (hi <= lo) return lo;
        return lo + static_cast<long long>(next() % static_cast<uint64_t>(hi - lo + 1));
    }
    // Exponential with the given rate (mean 1/rate), by inversion: the gaps of a Poisson process.
    double exponential(double rate) { return -std::log1p(-uniform()) / rate; }
    // Normal by Box-Muller (one of the pair; simple and reproducible).
    double normal(double mean, double sd) {
        const double u1 = 1.0 - uniform();  // (0, 1]
        const double u2 = uniform();
        return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    }

private:
    uint64_t state_;
};

}  // namespace jb::serve
