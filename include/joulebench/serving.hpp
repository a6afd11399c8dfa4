#pragma once
// Metrics over served load levels (joulebench/serve_record.hpp): latency targets (SLO), the
// energy-optimal operating point of each scheme (the lowest J/request whose latency percentiles
// meet the SLO) and the scheme to choose, and the recommendation for a described traffic, from
// served levels where they match and from offline per-phase J/token where they do not.
// Plain data in, plain data out (docs/serve.md, "SLO frontier", "recommend --traffic").

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/metrics.hpp"
#include "joulebench/serve_record.hpp"

namespace jb::metrics {

inline constexpr double kServeNaN = std::numeric_limits<double>::quiet_NaN();

// One latency target: a metric (ttft, tpot, itl, e2e) at a percentile (50, 90, 99) under a limit.
struct SloTarget {
    std::string metric;
    int percentile = 99;
    double limit_ms = 0.0;
    std::string str() const;  // "ttft_p99=2s", "tpot_p99=50ms"
};

struct Slo {
    std::vector<SloTarget> targets;
    bool empty() const { return targets.empty(); }
    std::string str() const;  // "ttft_p99=2s,tpot_p99=50ms"; "none"
};

// "ttft_p99=2s,tpot_p99=50ms": comma-separated METRIC_pP=LIMIT, LIMIT in s or ms (a bare number
// is ms); "" or "none": no target. Throws jb::UsageError naming `option`.
Slo parse_slo(const std::string & text, const std::string & option = "--slo");
// The serving profile's default: ttft_p99=2s,tpot_p99=100ms (an interactive chat's targets).
Slo default_slo();

// What a reader of an open-loop level should know before trusting its numbers, one sentence each
// (empty for a closed loop): its arrivals came more than kArrivalRateTolerance (relative) from the
// rate asked (a duration too short for the rate; or, for levels stored before the schedule was
// drawn given its count, a Poisson draw off by about 1/sqrt(N)), so it measured another load than
// its label; arrivals waited over kQueueCautionMs (queue p99) for a place in flight, so the
// server fell behind. `serve` prints them as warnings, the report's level table in its note.
inline constexpr double kArrivalRateTolerance = 0.25;
inline constexpr double kQueueCautionMs = 1000.0;
std::vector<std::string> serve_cautions(const ServeLevelRecord & level);

// What a level's server settings are grouped by: its settings fingerprint, or "tuned" for a level
// of `serve --tuned` (each level with its own best stored setting, one group as a whole).
std::string settings_group(const ServeLevelRecord & level);

// The server's settings as the level ran them (its server_json), one item each: "np 4", "c 1024",
// "b 2048", "ub 512", "fa auto", "KV f16/f16", "t 2", "ngl 99", the --server-arg words as passed
// ("--cache-ram 8192"); what was left to llama-server's default is not named; {"external"} for an
// endpoint, {} when server_json is not an object.
std::vector<std::string> server_settings(const ServeLevelRecord & level);

// The level's value of a target's percentile, ms; NaN when it has none (no completed request).
double slo_value(const ServeLevelRecord & level, const SloTarget & target);
// The worst target's value over its limit (<= 1: every target met); NaN when a target has no value.
// 0 for an SLO without targets.
double slo_ratio(const ServeLevelRecord & level, const Slo & slo);
// "" when the level meets every target; else why not ("TTFT p99 2.41 s > 2 s"). A level that is
// not ok (failed or partial: some requests failed) does not meet an SLO.
std::string slo_violation(const ServeLevelRecord & level, const Slo & slo);

// Repeated runs of a level (serve --repeats): run k >= 2 is stored with repeat_suffix(k) on its
// workload fingerprint ("" for run 1, so a level run once is its own run 1).
std::string repeat_suffix(int run);
// The fingerprint without it; `run` (when given) gets the run's number.
std::string repeat_base(const std::string & workload_fp, int * run = nullptr);
// One level per (host, model, scheme, level, workload without its run, server settings): the runs
// that ended ok pooled (a level none of whose runs is ok stays as its first run). Per-level values
// (energies, J/request, throughputs, latency percentiles, power) are the runs' means; counts
// (requests, tokens) their sums; runs, run_j_per_request and j_per_request_ci95 say how many and
// how far apart. The steady-window values are pooled only when every run has a window (else the
// whole level's stand, as for a level without one). Order: each group at its first run's place.
std::vector<ServeLevelRecord> pool_repeats(const std::vector<ServeLevelRecord> & levels);

// One scheme's levels on one host, model, workload and server settings, with its operating point.
struct SchemeFrontier {
    std::string host, host_name, model, model_name, scheme, scheme_canonical, workload_fp, settings_fp;
    std::vector<size_t> levels;              // indices into the input, closed loop by concurrency then open by rate
    std::vector<std::string> violations;     // per level: "" meets the SLO
    std::optional<size_t> operating_point;   // the lowest J/request (steady window where there is one) meeting the SLO
    std::string note;                        // why there is none
    // How tables and charts name it: the scheme ("fp16"), "fp16 (tuned server)" for serve --tuned's
    // levels, and where its host, model and workload hold another frontier of that name (levels run
    // with other server settings), the settings that tell them apart: "fp16 (--cache-ram 8192)".
    std::string label;
    bool chosen = false;                     // the lowest operating point of its host, model and workload
    double saving_vs_reference = kServeNaN;       // 1 - J/request / J/request(reference's operating point)
    // Its 95 % interval where both operating points pool two or more runs (serve --repeats); else NaN.
    // Paired by round when both pool the same rounds (the rounds' drift cancels), else Welch's.
    double saving_ci95_lo = kServeNaN, saving_ci95_hi = kServeNaN;
    bool saving_paired = false;
};
std::vector<SchemeFrontier> serving_frontier(const std::vector<ServeLevelRecord> & levels, const Slo & slo,
                                             const std::string & reference = "fp16");
// "q4_k_m at c=16: 0.52 J/request, 31.0 % less than fp16 (c=16) within ttft_p99=2s": one
// sentence per host, model and workload.
std::vector<std::string> frontier_headlines(const std::vector<SchemeFrontier> & frontiers,
                                            const std::vector<ServeLevelRecord> & levels, const Slo & slo);

// A traffic description: prompt and output tokens per request, and either the clients in flight
// (concurrency) or the arrival rate; optional latency targets.
struct Traffic {
    int prompt_tokens = 0;
    int output_tokens = 0;
    int concurrency = 0;   // 0: not given
    double rate_rps = 0;   // 0: not given
    Slo slo;
    std::string str() const;
};
// "prompt=512,output=256,concurrency=8" or "...,rate=2"; SLO targets may follow
// ("...,ttft_p99=2s"; none given: default_slo()). Throws jb::UsageError naming `option`.
Traffic parse_traffic(const std::string & text, const std::string & option = "--traffic");

// One scheme on one host for the traffic.
struct TrafficAnswer {
    std::string host, host_name, model, model_name, scheme;
    bool served = false;  // from a served level (else from offline per-phase J/token)
    std::string basis;    // which level, or which workloads' J/token
    double j_per_request = kServeNaN;
    double j_per_request_ci95 = kServeNaN;  // served level of repeated runs: half-width of its 95 % interval
    double wh_per_1000_requests = kServeNaN;
    double j_per_output_token = kServeNaN;
    double requests_per_s = kServeNaN;  // served only
    double ttft_p99_ms = kServeNaN, tpot_p99_ms = kServeNaN;
    double retention = kServeNaN;  // accuracy retention vs the reference from offline scored cells (NaN: not measured)
    std::string violation;    // "" meets the SLO (offline answers have no latency to judge: "" with a note)
    // Served answers that miss the SLO: the level of the same load mode with the most requests/s
    // that meets it ("" when none does), its requests/s and J/request: how much this server takes.
    std::string within_slo_level;
    double within_slo_requests_per_s = kServeNaN, within_slo_j_per_request = kServeNaN;
    bool best = false;        // the scheme to choose on its host and model
};

struct TrafficRecommendation {
    Traffic traffic;
    std::vector<TrafficAnswer> answers;  // by host, model, then J/request
    std::string why;                     // one sentence per host and model, joined
    std::vector<std::string> notes;
};
// Served levels are used for a host and model when some ok level's mean prompt and output
// lengths are within 25 % of the traffic's: the closed level of the traffic's concurrency (else
// the nearest one), or for a rate the open level nearest it (else the smallest closed level
// whose throughput sustains it). Otherwise J/request = prompt x prefill J/token + output x decode
// J/token from the offline summaries (decode from the batched workload whose sequences are
// nearest the concurrency). Schemes whose retention (from `candidates`) is below min_retention
// are not chosen.
TrafficRecommendation recommend_traffic(const std::vector<ServeLevelRecord> & levels,
                                        const std::vector<Summary> & offline, const std::vector<Candidate> & candidates,
                                        const Traffic & traffic, double min_retention = 0.98);

// The serving profile (recommend --profile serving): least energy per request at the latency
// SLO, at >= 98 % accuracy retention where accuracy was measured.
Profile serving_profile();

}  // namespace jb::metrics
