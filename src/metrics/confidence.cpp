#include "metrics/confidence.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace jb::metrics {

double student_t975(double df) {
    // t(0.975, df) for df = 1..30 (any statistics table).
    static constexpr std::array<double, 30> kTable = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060,
                                                      2.2622,  2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199,
                                                      2.1098,  2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639,
                                                      2.0595,  2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
    if (!(df >= 1.0)) return NAN;
    if (df <= 30.0) {
        const int lo = int(std::floor(df));
        if (lo == 30 || double(lo) == df) return kTable[size_t(lo - 1)];
        // Between two entries t is close to linear in 1/df.
        const double a = 1.0 / double(lo), b = 1.0 / double(lo + 1), x = 1.0 / df;
        const double w = (a - x) / (a - b);
        return kTable[size_t(lo - 1)] * (1.0 - w) + kTable[size_t(lo)] * w;
    }
    // Abramowitz & Stegun 26.7.5: the Cornish-Fisher expansion around the normal quantile.
    const double x = 1.959963984540054, x3 = x * x * x, x5 = x3 * x * x, x7 = x5 * x * x, x9 = x7 * x * x;
    const double g1 = (x3 + x) / 4.0;
    const double g2 = (5 * x5 + 16 * x3 + 3 * x) / 96.0;
    const double g3 = (3 * x7 + 19 * x5 + 17 * x3 - 15 * x) / 384.0;
    const double g4 = (79 * x9 + 776 * x7 + 1482 * x5 - 1920 * x3 - 945 * x) / 92160.0;
    return x + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df);
}

double Interval::relative() const {
    if (!std::isfinite(half_width) || !std::isfinite(mean) || mean == 0.0) return NAN;
    return half_width / std::fabs(mean);
}

Interval mean_ci95(const std::vector<double> & values) {
    Interval out;
    double sum = 0.0;
    for (double v : values) {
        if (std::isnan(v)) continue;
        sum += v;
        ++out.n;
    }
    if (out.n == 0) {
        out.mean = out.sd = out.half_width = NAN;
        return out;
    }
    out.mean = sum / out.n;
    if (out.n < 2) {
        out.sd = out.half_width = NAN;
        return out;
    }
    double ss = 0.0;
    for (double v : values) {
        if (!std::isnan(v)) ss += (v - out.mean) * (v - out.mean);
    }
    out.sd = std::sqrt(ss / (out.n - 1));
    out.half_width = student_t975(out.n - 1) * out.sd / std::sqrt(double(out.n));
    return out;
}

SavingInterval saving_ci95(const std::vector<double> & candidate, const std::vector<double> & reference) {
    const Interval c = mean_ci95(candidate), r = mean_ci95(reference);
    SavingInterval out;
    out.saving = r.n > 0 && c.n > 0 && r.mean != 0.0 ? 1.0 - c.mean / r.mean : NAN;
    out.lo = out.hi = NAN;
    if (c.n < 2 || r.n < 2 || !std::isfinite(out.saving) || c.mean == 0.0) return out;
    // On the log of the ratio q = c/r (the delta method: var(log q) ~ var_c / c^2 + var_r / r^2,
    // var_x = sd_x^2 / n_x), so the interval of q stays positive and a saving never passes 100 %.
    const double q = c.mean / r.mean;
    if (!(q > 0)) return out;
    const double a = c.sd * c.sd / c.n / (c.mean * c.mean), b = r.sd * r.sd / r.n / (r.mean * r.mean);
    const double rel = a + b;
    // Welch-Satterthwaite degrees of freedom of the two relative variances.
    const double denom = a * a / (c.n - 1) + b * b / (r.n - 1);
    const double df = denom > 0 ? rel * rel / denom : double(c.n + r.n - 2);
    const double spread = student_t975(std::max(1.0, df)) * std::sqrt(rel);
    out.lo = 1.0 - q * std::exp(spread);
    out.hi = 1.0 - q * std::exp(-spread);
    return out;
}

SavingInterval paired_saving_ci95(const std::vector<double> & candidate, const std::vector<double> & reference) {
    SavingInterval out = saving_ci95(candidate, reference);
    out.lo = out.hi = NAN;
    if (candidate.size() != reference.size() || candidate.size() < 2 || !std::isfinite(out.saving)) return out;
    std::vector<double> log_ratio;
    for (size_t i = 0; i < candidate.size(); ++i) {
        if (!(candidate[i] > 0) || !(reference[i] > 0)) return out;
        log_ratio.push_back(std::log(candidate[i] / reference[i]));
    }
    const Interval d = mean_ci95(log_ratio);
    const double q = 1.0 - out.saving;
    out.lo = 1.0 - q * std::exp(d.half_width);
    out.hi = 1.0 - q * std::exp(-d.half_width);
    return out;
}

const char * repeat_stop_name(RepeatStop s) {
    switch (s) {
        case RepeatStop::ci:
            return "ci";
        case RepeatStop::time:
            return "time";
        case RepeatStop::count:
            return "count";
        case RepeatStop::more:
            break;
    }
    return "";
}

RepeatStop repeat_decision(const std::vector<double> & values, double elapsed_s, const RepeatRule & rule) {
    const Interval ci = mean_ci95(values);
    if (ci.n >= std::max(rule.min_n, 2)) {
        const double rel = ci.relative();
        if (std::isfinite(rel) && rel * 100.0 <= rule.target_pct) return RepeatStop::ci;
    }
    if (int(values.size()) >= rule.max_n) return RepeatStop::count;
    if (elapsed_s >= rule.max_s) return RepeatStop::time;
    return RepeatStop::more;
}

namespace {

double mean_of(const std::vector<double> & v) {
    return mean_ci95(v).mean;
}

}  // namespace

void add_trial(SettingRuns & r, const Trial & t) {
    if (!t.ok) {
        r.failed = true;
        return;
    }
    r.j_per_token.push_back(t.j_per_token);
    r.tok_s.push_back(t.tok_s);
    r.ttft_s.push_back(t.ttft_s);
    r.latency_ratio.push_back(t.latency_ratio);
}

bool feasible(const SettingRuns & s, const TuneConstraints & c) {
    return violation(s, c) == 0.0;
}

double violation(const SettingRuns & s, const TuneConstraints & c) {
    double out = 0.0;
    if (c.min_tok_s) {
        const double tps = mean_of(s.tok_s);
        out += std::isfinite(tps) ? std::max(0.0, (*c.min_tok_s - tps) / *c.min_tok_s) : 1.0;
    }
    if (c.max_ttft_s) {
        const double ttft = mean_of(s.ttft_s);
        out += std::isfinite(ttft) ? std::max(0.0, (ttft - *c.max_ttft_s) / *c.max_ttft_s) : 1.0;
    }
    if (c.max_latency_ratio) {
        const double ratio = mean_of(s.latency_ratio);
        out += std::isfinite(ratio) ? std::max(0.0, (ratio - *c.max_latency_ratio) / *c.max_latency_ratio) : 1.0;
    }
    return out;
}

bool ranks_before(const SettingRuns & a, const SettingRuns & b, const TuneConstraints & c) {
    const bool a_ok = !a.failed && a.n() > 0, b_ok = !b.failed && b.n() > 0;
    if (a_ok != b_ok) return a_ok;
    if (!a_ok) return false;
    const double va = violation(a, c), vb = violation(b, c);
    if ((va == 0.0) != (vb == 0.0)) return va == 0.0;
    if (va != vb) return va < vb;
    const double ja = mean_of(a.j_per_token), jb = mean_of(b.j_per_token);
    if (std::isfinite(ja) != std::isfinite(jb)) return std::isfinite(ja);
    return ja < jb;
}

int pick_setting(const std::vector<SettingRuns> & settings, const TuneConstraints & c, int min_n) {
    int most = 0;
    for (const auto & s : settings) {
        if (!s.failed) most = std::max(most, s.n());
    }
    if (most == 0) return -1;
    const int need = std::min(std::max(min_n, 1), most);
    int best = -1;
    for (size_t i = 0; i < settings.size(); ++i) {
        const auto & s = settings[i];
        if (s.failed || s.n() < need) continue;
        if (best < 0 || ranks_before(s, settings[size_t(best)], c)) best = int(i);
    }
    return best;
}

}  // namespace jb::metrics
