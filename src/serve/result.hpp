#pragma once
// The result of one load level (one concurrency or one request rate): every request's record,
// the accounting (sent = completed + failed + timed out), latency percentiles, throughput,
// energy over the whole level and over its steady-state window, the token-count check against
// the server's /metrics, and the load generator's own CPU time. A plain struct: the caller
// stores it; to_json() until the store has a schema for it. docs/serve.md defines each field.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "energy/meter.hpp"
#include "serve/stats.hpp"

namespace jb::serve {

enum class Outcome { completed, failed, timed_out };
const char * outcome_name(Outcome o);  // "completed", "failed", "timed_out"

// One request. Times are seconds since the level started; NaN when the event did not happen.
struct RequestRecord {
    long index = 0;              // order in which it was sent
    long shape = 0;              // index into the request list
    double t_scheduled_s = 0.0;  // open loop: its arrival time (it waits while max_in_flight are busy); else = t_sent_s
    double t_sent_s = 0.0;
    double t_first_token_s = NAN;
    double t_last_token_s = NAN;
    double t_end_s = NAN;  // [DONE], failure or timeout
    int max_tokens = 0;
    int expected_prompt_tokens = -1;  // from the request shape; -1 unknown
    int prompt_tokens = -1;           // usage.prompt_tokens; -1 when the server sent no usage
    int cached_prompt_tokens = -1;    // usage.prompt_tokens_details.cached_tokens; -1 absent
    int completion_tokens = -1;       // usage.completion_tokens; -1 absent
    int chunks = 0;                   // streamed chunks that carried a token (a chunk may carry more than one)
    int chunks_in_steady = 0;         // of which inside the steady-state window
    double server_prompt_ms = NAN;    // llama-server's own timings (timings.prompt_ms / predicted_ms)
    double server_predicted_ms = NAN;
    Outcome outcome = Outcome::failed;
    std::string error;  // why it failed or timed out; "" when completed

    // Time to first token and end to end as the request's user sees them: from its arrival, which is
    // its send in a closed loop; in an open loop an arrival that waited for a place (max_in_flight)
    // counts its wait, as a user's request queued by a busy service would.
    double ttft_s() const { return t_first_token_s - t_scheduled_s; }
    double e2e_s() const { return t_end_s - t_scheduled_s; }
    // (last - first) / (completion tokens - 1), as vLLM defines TPOT; NaN below 2 tokens.
    double tpot_s() const;
    // usage's completion_tokens, else the chunks counted.
    int output_tokens() const { return completion_tokens >= 0 ? completion_tokens : chunks; }
};

enum class LevelStatus {
    ok,       // every request sent completed
    partial,  // some failed or timed out; the level ran to its end
    failed,   // the level was aborted (server died or hung, nothing completed, consecutive failures)
    stopped,  // the caller asked it to stop
};
const char * level_status_name(LevelStatus s);

// Energy and work in one window of the level. Energy is gross (measured domains; when there
// are none, the estimate, and `estimated` says so); net subtracts the idle baseline when the
// meter had one.
struct EnergyWindow {
    double t_begin_s = 0.0;  // since the level started
    double t_end_s = 0.0;
    double energy_j = NAN;
    std::optional<double> net_energy_j;
    bool estimated = false;
    double output_tokens = 0.0;   // generated inside the window
    long requests_completed = 0;  // requests that ended (completed) inside the window
    // Requests the energy is divided by: the level's completed requests; for the steady window,
    // request equivalents = output_tokens / mean completion tokens of a completed request (the
    // window cuts requests, so whole requests inside it would undercount the work done).
    double requests = 0.0;
    double j_per_output_token = NAN;
    double j_per_request = NAN;
    double wh_per_1000_requests = NAN;  // AI Energy Score's unit: J/request x 1000 / 3600
    double net_j_per_output_token = NAN;
    double net_j_per_request = NAN;

    double duration_s() const { return t_end_s - t_begin_s; }
    double output_tokens_per_s() const { return duration_s() > 0 ? output_tokens / duration_s() : NAN; }
};

// Token counts from the requests' usage against the server's Prometheus counters (deltas over
// the level). llama-server: prompt_tokens_total counts prompt tokens it processed, i.e. without
// those reused from its prompt cache, which prompt_tokens_cached_total counts.
struct TokenCheck {
    bool checked = false;  // false: note says why not
    bool match = false;
    std::string note;
    long usage_prompt_tokens = 0;
    long usage_cached_tokens = 0;
    long usage_completion_tokens = 0;
    double metrics_prompt_tokens = NAN;      // delta of llamacpp:prompt_tokens_total
    double metrics_cached_tokens = NAN;      // delta of llamacpp:prompt_tokens_cached_total
    double metrics_completion_tokens = NAN;  // delta of llamacpp:tokens_predicted_total
    // Requests whose usage.prompt_tokens differs from the count the shape was built for.
    long prompt_length_mismatches = 0;
    // Completed requests (with ignore_eos) whose completion_tokens differ from max_tokens.
    long completion_length_mismatches = 0;
};

// The load generator's own cost: CPU time of the thread that ran the level's event loop.
struct LoadCpu {
    double cpu_s = 0.0;
    double user_s = 0.0;
    double sys_s = 0.0;
    double wall_s = 0.0;
    double cpu_s_per_1000_tokens = NAN;  // per 1,000 streamed token chunks
    double cpu_fraction() const { return wall_s > 0 ? cpu_s / wall_s : 0.0; }
};

struct LevelResult {
    std::string label;                               // "closed c=4", "open r=2.5/s"
    nlohmann::json spec = nlohmann::json::object();  // the LoadSpec and endpoint, for provenance
    LevelStatus status = LevelStatus::ok;
    std::string reason;  // why the level failed, stopped or is partial; "" when ok

    long sent = 0;
    long completed = 0;
    long failed = 0;
    long timed_out = 0;
    long not_sent = 0;  // planned requests never sent because the level ended early
    std::vector<std::pair<std::string, long>> failure_reasons;  // distinct reasons, most frequent first

    double duration_s = 0.0;  // first send to the end of the last request
    long prompt_tokens = 0;   // sums over completed requests, from usage
    long cached_prompt_tokens = 0;
    long completion_tokens = 0;
    long chunks = 0;              // token chunks streamed, over all requests
    double requests_per_s = NAN;  // completed / duration
    // Open loop: the rate the seeded Poisson draw delivered (arrivals / the span they fell in), which
    // differs from the rate asked by about 1/sqrt(arrivals); NaN for a closed loop or a cut level.
    double arrival_rate_rps = NAN;
    double output_tokens_per_s = NAN;
    double input_tokens_per_s = NAN;

    LatencySummary ttft;  // completed requests
    LatencySummary tpot;  // completed requests with >= 2 tokens
    LatencySummary itl;   // gaps between chunks (reservoir; exact up to its capacity)
    LatencySummary e2e;
    LatencySummary queue;  // open loop: time an arrival waited for a free in-flight place
    bool itl_exact = true;

    // Energy: present when a Meter was given.
    std::optional<energy::Measurement> measurement;  // phases "ramp_up", "steady", "ramp_down"
    std::optional<EnergyWindow> level_energy;
    std::optional<EnergyWindow> steady_energy;  // also without a Meter: its tokens and times
    std::string steady_note;                    // how the window was chosen, or why there is none
    // J per input token: only for a prefill-only level (every request generated <= 1 token),
    // where all the energy went to prompts; otherwise prefill and decode share every step
    // of a continuously batched server and cannot be separated by a meter.
    std::optional<double> j_per_input_token;

    TokenCheck token_check;
    LoadCpu load_cpu;
    std::vector<RequestRecord> requests;

    // Everything above; `with_requests` adds one object per request.
    nlohmann::json to_json(bool with_requests = false) const;
};

}  // namespace jb::serve
