#pragma once
// A cell's power timeline (samples of watts per domain, and the phase intervals) and its
// lossless compressed encoding for the `timelines` table (docs/schema.md, "timelines").

#include <cstdint>
#include <string>
#include <vector>

namespace jb {

struct PhaseInterval {
    std::string phase;  // "load", "prefill", "decode", ...
    double t0_s = 0.0;  // seconds on the timeline's clock
    double t1_s = 0.0;

    bool operator==(const PhaseInterval &) const = default;
};

struct PowerTimeline {
    std::vector<double> t_s;                   // sample times, seconds since the cell started
    std::vector<std::string> domains;          // "gpu0", "cpu_pkg", "dram", ...
    std::vector<std::vector<double>> power_w;  // [domain][sample], each as long as t_s
    std::vector<PhaseInterval> phases;

    bool empty() const { return t_s.empty() && phases.empty(); }
    bool operator==(const PowerTimeline &) const = default;
};

inline constexpr const char * kTimelineEncoding = "jbt2";  // see timeline.cpp and docs/schema.md

// The highest total power of the domains not in `skip` at any sample time (a domain without a
// value yet counts 0), or NaN when fewer than two domains count: the peak of a cell that runs
// on several GPUs, which the domains' own peaks (reached at different moments) do not give.
double peak_total_w(const PowerTimeline & tl, const std::vector<std::string> & skip = {});

// Encodes t_s and power_w (not names or phases: those are JSON columns). Exact: decoding gives
// the same bits for every double, NaN and infinities included. Throws jb::Error if power_w's
// shape does not match domains × t_s.
std::vector<uint8_t> encode_timeline_samples(const PowerTimeline & tl);

// Fills out.t_s and out.power_w (out.domains must already be set: it gives the column count).
// Throws jb::Error naming `what` (e.g. "db.sqlite: cell 12: timeline") if the blob is damaged.
void decode_timeline_samples(const uint8_t * data, size_t size, PowerTimeline & out, const std::string & what);

}  // namespace jb
