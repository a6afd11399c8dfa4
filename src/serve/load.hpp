#pragma once
// Running one load level against an OpenAI-compatible server on this host: closed loop (C
// clients, each sending its next request when its last one ends) or open loop (Poisson
// arrivals at R requests/s from a seeded generator, given their count: see open_loop_schedule;
// at most max_in_flight at once), every
// request streamed (SSE) and every token chunk timed, bounded by a request count and/or a
// duration. One thread runs an event loop over non-blocking sockets (the calling thread; its
// CPU time is reported), so nothing else runs while the level does.
//
//   LoadSpec spec;  spec.mode = LoadMode::closed;  spec.concurrency = 4;  spec.max_requests = 64;
//   Endpoint ep{server.host(), server.port()};  ep.has_metrics = true;
//   energy::Meter meter(sensors);  meter.set_idle_power(idle);      // not started
//   LevelResult r = run_level(spec, ep, requests, {&meter, &observer, server.liveness()});
//
// run_level starts the meter (phase "ramp_up"), marks "steady" when the steady-state window
// opens and "ramp_down" when it closes, and stops it when the last request has ended.
// Failures of requests or of the server never throw: they are recorded in the result.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "energy/meter.hpp"
#include "serve/requests.hpp"
#include "serve/result.hpp"

namespace jb::serve {

struct Endpoint {
    std::string host = "127.0.0.1";  // loopback only
    int port = 0;
    enum class Api { completions, chat };
    Api api = Api::completions;  // POST /v1/completions or /v1/chat/completions
    std::string model;           // the request's "model" field; "" leaves it out (llama-server needs none)
    bool has_metrics = false;    // GET /metrics has llama-server's counters (started with --metrics)
};

enum class LoadMode { closed, open };

struct LoadSpec {
    LoadMode mode = LoadMode::closed;
    int concurrency = 1;      // closed loop: clients
    double rate_rps = 1.0;    // open loop: arrivals per second (Poisson, given their count)
    int max_in_flight = 256;  // open loop: arrivals beyond this wait for a place
    long max_requests = 0;    // requests to send; 0 = no limit (then duration_s is the bound)
    double duration_s = 0.0;  // no request is sent after this many seconds; 0 = no limit
    uint64_t seed = 1;        // open loop: the arrival schedule
    // Open loop: the steady-state window opens when this many requests have their first
    // token; -1: min(max_in_flight, a quarter of the planned requests), at least 1.
    int steady_warmup_requests = -1;

    bool ignore_eos = true;                                // generate exactly max_tokens
    double temperature = 0.0;                              // greedy
    nlohmann::json extra_body = nlohmann::json::object();  // merged into every request body

    double request_timeout_s = 300.0;  // a request not finished by then times out
    double idle_timeout_s = 60.0;      // ... as does one that receives nothing for this long
    // The level is aborted after this many failed or timed-out requests in a row (a dead or
    // hung server); 0: never.
    int abort_after_consecutive_failures = 8;
    double progress_interval_s = 0.5;
    size_t itl_reservoir = 100000;  // inter-token gaps kept for percentiles (exact up to this many)

    std::string label() const;  // "closed c=4", "open r=2.5/s"
};

// An open-loop level's arrival times (seconds from its start), from spec.seed: a Poisson process at
// rate_rps given its count, i.e. N = rate x span arrivals placed uniformly at random in the span and
// sorted (what a Poisson process is, given how many arrivals fell in a span). The span is
// max_requests / rate_rps (N = max_requests) or duration_s (N = rate x duration_s, rounded, at least 1),
// whichever is shorter. So a level delivers the rate it is labelled with while its gaps stay random;
// plain exponential gaps would deliver N arrivals in a span off by about 1/sqrt(N). Empty when the
// spec has neither bound (run_level refuses such a spec); `span_s` gets the span.
std::vector<double> open_loop_schedule(const LoadSpec & spec, double * span_s = nullptr);

// Throws jb::UsageError naming the field for an impossible spec (no bound, concurrency < 1,
// rate <= 0, ...).
void validate(const LoadSpec & spec);
nlohmann::json spec_json(const LoadSpec & spec);

struct Progress {
    double t_s = 0.0;  // since the level started
    long sent = 0;
    long completed = 0;
    long failed = 0;
    long timed_out = 0;
    long in_flight = 0;
    long waiting = 0;           // open loop: arrivals waiting for a place
    long chunks = 0;            // token chunks so far
    double chunks_per_s = 0.0;  // over the last progress interval
    bool steady = false;        // inside the steady-state window
};

// Progress and cancellation, implemented by the caller (a progress line, Ctrl-C). Called on
// the thread that runs the level; keep them short.
class LevelObserver {
public:
    virtual ~LevelObserver() = default;
    // Polled about every 50 ms; true stops the level: nothing more is sent and requests in
    // flight are cancelled (recorded as failed, "cancelled: stop requested").
    virtual bool should_stop() { return false; }
    virtual void on_progress(const Progress &) {}
};

struct LevelHooks {
    energy::Meter * meter = nullptr;  // not running; run_level starts and stops it
    LevelObserver * observer = nullptr;
    // Polled about every 50 ms: "" while the server runs, else why it stopped (ServerProcess::
    // liveness()). A stopped server aborts the level with that reason.
    std::function<std::string()> server_liveness;
};

// Runs one level. `requests` is used in order and cycled (request k gets shape k % size).
// Throws jb::UsageError for a bad spec or endpoint (before sending anything); everything that
// happens after that is recorded in the result.
LevelResult run_level(const LoadSpec & spec, const Endpoint & endpoint, const std::vector<RequestShape> & requests,
                      const LevelHooks & hooks = {});

}  // namespace jb::serve
