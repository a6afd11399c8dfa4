#include "joulebench/timeline.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>

#include "joulebench/error.hpp"

// Blob layout (little-endian):
//   "JBT2" | u32 n_samples | u32 n_columns (1 + domains) | n_columns mode bytes | zlib stream
// Columns: t_s first, then each domain's watts. Each column becomes 64-bit words:
//   mode 0: the double's bit pattern;
//   mode k (1..3): the integer q = v × 10^(3k), used only when q / 10^(3k) gives back exactly the
//           same bits for every sample of the column — sensors count in whole mW (NVML), µs or ns,
//           so the words are small integers whose differences are tiny.
// The words are delta-coded (w[i] - w[i-1], mod 2^64), zigzag-mapped so small steps down are
// small numbers too, and split into 8 byte planes (all low bytes, then all next bytes, ...); the
// zlib stream inflates to n_columns × 8 × n_samples bytes. Slowly changing clocks and power give
// high planes of zeros that deflate to almost nothing, and every double round-trips bit for bit
// (NaN, infinities and -0 included: such a column simply uses mode 0).

namespace jb {

static constexpr char kMagic[4] = {'J', 'B', 'T', '2'};
static constexpr size_t kHeaderBytes = 12;                 // before the mode bytes
static constexpr double kScales[] = {1.0, 1e3, 1e6, 1e9};  // by mode; mode 0 is not a scale
// Guards against absurd sizes from a damaged header before allocating (≈ 6 days at 1 kHz).
static constexpr uint64_t kMaxSamples = uint64_t(1) << 29;
static constexpr uint64_t kMaxColumns = 256;

static void put_u32(std::vector<uint8_t> & out, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        out.push_back(uint8_t(v >> (8 * i)));
    }
}

static uint32_t get_u32(const uint8_t * p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// The mode that represents every value of `col` exactly with the smallest numbers.
static uint8_t choose_mode(const std::vector<double> & col) {
    for (uint8_t mode = 1; mode < std::size(kScales); ++mode) {
        const double scale = kScales[mode];
        bool exact = true;
        for (size_t i = 0; i < col.size() && exact; ++i) {
            const double scaled = col[i] * scale;
            // |q| < 2^53: every such integer is a double, and llround cannot overflow
            if (!std::isfinite(scaled) || std::fabs(scaled) >= 9007199254740992.0) {
                exact = false;
                break;
            }
            const double back = double(std::llround(scaled)) / scale;
            exact = std::bit_cast<uint64_t>(back) == std::bit_cast<uint64_t>(col[i]);
        }
        if (exact) {
            return mode;
        }
    }
    return 0;
}

static void encode_column(const std::vector<double> & col, uint8_t mode, uint8_t * planes, size_t n) {
    uint64_t prev = 0;
    for (size_t i = 0; i < n; ++i) {
        const uint64_t word =
            mode == 0 ? std::bit_cast<uint64_t>(col[i]) : uint64_t(std::llround(col[i] * kScales[mode]));
        const int64_t delta = int64_t(word - prev);
        const uint64_t zz = (uint64_t(delta) << 1) ^ uint64_t(delta >> 63);
        prev = word;
        for (size_t k = 0; k < 8; ++k) {
            planes[k * n + i] = uint8_t(zz >> (8 * k));
        }
    }
}

static void decode_column(const uint8_t * planes, uint8_t mode, size_t n, std::vector<double> & col) {
    col.resize(n);
    uint64_t prev = 0;
    for (size_t i = 0; i < n; ++i) {
        uint64_t zz = 0;
        for (size_t k = 0; k < 8; ++k) {
            zz |= uint64_t(planes[k * n + i]) << (8 * k);
        }
        const uint64_t delta = (zz >> 1) ^ (~(zz & 1) + 1);
        prev += delta;
        col[i] = mode == 0 ? std::bit_cast<double>(prev) : double(int64_t(prev)) / kScales[mode];
    }
}

std::vector<uint8_t> encode_timeline_samples(const PowerTimeline & tl) {
    const size_t n = tl.t_s.size();
    const size_t n_cols = 1 + tl.domains.size();
    if (tl.power_w.size() != tl.domains.size()) {
        throw Error(
            fmt::format("power timeline: {} domain names but {} power columns", tl.domains.size(), tl.power_w.size()));
    }
    for (size_t d = 0; d < tl.power_w.size(); ++d) {
        if (tl.power_w[d].size() != n) {
            throw Error(fmt::format("power timeline: domain '{}' has {} samples, timestamps have {}", tl.domains[d],
                                    tl.power_w[d].size(), n));
        }
    }
    if (n > kMaxSamples || n_cols > kMaxColumns) {
        throw Error(fmt::format("power timeline: too large ({} samples × {} domains)", n, n_cols - 1));
    }

    std::vector<uint8_t> out(kMagic, kMagic + 4);
    put_u32(out, uint32_t(n));
    put_u32(out, uint32_t(n_cols));
    std::vector<uint8_t> raw(n_cols * 8 * n);
    for (size_t c = 0; c < n_cols; ++c) {
        const std::vector<double> & col = c == 0 ? tl.t_s : tl.power_w[c - 1];
        const uint8_t mode = choose_mode(col);
        out.push_back(mode);
        encode_column(col, mode, raw.data() + c * 8 * n, n);
    }

    const size_t head = out.size();
    uLongf z_len = compressBound(uLong(raw.size()));
    out.resize(head + z_len);
    const int rc = compress2(out.data() + head, &z_len, raw.data(), uLong(raw.size()), 6);
    if (rc != Z_OK) {
        throw Error(fmt::format("power timeline: zlib compress failed ({})", rc));
    }
    out.resize(head + z_len);
    return out;
}

void decode_timeline_samples(const uint8_t * data, size_t size, PowerTimeline & out, const std::string & what) {
    if (size < kHeaderBytes || std::memcmp(data, kMagic, 4) != 0) {
        throw Error(fmt::format("{}: not a joulebench timeline blob (bad header)", what));
    }
    const uint64_t n = get_u32(data + 4);
    const uint64_t n_cols = get_u32(data + 8);
    if (n_cols != 1 + out.domains.size()) {
        throw Error(
            fmt::format("{}: blob has {} power columns, domains_json names {}", what, n_cols - 1, out.domains.size()));
    }
    if (n > kMaxSamples || n_cols > kMaxColumns) {
        throw Error(fmt::format("{}: implausible size ({} samples × {} columns)", what, n, n_cols));
    }
    const size_t head = kHeaderBytes + n_cols;
    if (size < head) {
        throw Error(fmt::format("{}: truncated header", what));
    }
    const uint8_t * modes = data + kHeaderBytes;
    for (size_t c = 0; c < n_cols; ++c) {
        if (modes[c] >= std::size(kScales)) {
            throw Error(fmt::format("{}: unknown column mode {}", what, modes[c]));
        }
    }
    std::vector<uint8_t> raw(n_cols * 8 * n);
    uLongf raw_len = uLongf(raw.size());
    // uncompress() needs a non-null destination even for an empty timeline
    uint8_t dummy = 0;
    const int rc = uncompress(raw.empty() ? &dummy : raw.data(), &raw_len, data + head, uLong(size - head));
    if (rc != Z_OK || raw_len != raw.size()) {
        throw Error(fmt::format("{}: damaged compressed samples (zlib {}, {} of {} bytes)", what, rc, uint64_t(raw_len),
                                raw.size()));
    }
    decode_column(raw.data(), modes[0], n, out.t_s);
    out.power_w.assign(out.domains.size(), {});
    for (size_t d = 0; d < out.domains.size(); ++d) {
        decode_column(raw.data() + (d + 1) * 8 * n, modes[d + 1], n, out.power_w[d]);
    }
}

double peak_total_w(const PowerTimeline & tl, const std::vector<std::string> & skip) {
    std::vector<size_t> cols;
    for (size_t d = 0; d < tl.power_w.size(); ++d) {
        const std::string name = d < tl.domains.size() ? tl.domains[d] : "";
        if (std::find(skip.begin(), skip.end(), name) == skip.end()) cols.push_back(d);
    }
    if (cols.size() < 2) return std::numeric_limits<double>::quiet_NaN();
    double peak = std::numeric_limits<double>::quiet_NaN();
    for (size_t i = 0; i < tl.t_s.size(); ++i) {
        double sum = 0;
        bool any = false;
        for (size_t d : cols) {
            if (i < tl.power_w[d].size() && std::isfinite(tl.power_w[d][i])) {
                sum += tl.power_w[d][i];
                any = true;
            }
        }
        if (any && !(sum <= peak)) peak = sum;
    }
    return peak;
}

}  // namespace jb
