#pragma once
// The record of one served load level (schema 3): a model under one scheme, served on one host
// with given server settings, driven at one concurrency (closed loop) or one request rate (open
// loop). Like CellRecord, its fields are listed once, in serve_level_fields(): the store's SQL
// column lists and the report's tables read that table. Plain data only.
//
// Unmeasured reals are NaN (SQL NULL); latencies are milliseconds; JSON fields hold JSON text.
// docs/serve.md defines every metric.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/record.hpp"

namespace jb {

// The natural key of a level: one row per key, UNIQUE in the store.
struct ServeLevelKey {
    std::string host_fingerprint;  // hosts.fingerprint
    std::string model_hash;        // models.hash
    std::string scheme_canonical;  // schemes.canonical
    std::string level;             // "c=4" (closed loop, 4 clients) or "r=2.5" (open loop, 2.5 requests/s)
    std::string workload_fp;       // request shapes and bounds (prompt source, lengths, requests, duration, seed)
    std::string settings_fp;       // server settings (slots, context, batch, flash attention, KV types, ...)

    bool operator==(const ServeLevelKey &) const = default;
};

// Level statuses as stored: a level that was stopped (Ctrl-C) is not stored.
inline constexpr const char * kServeOk = "ok";            // every request sent completed
inline constexpr const char * kServePartial = "partial";  // some failed or timed out; the level ran to its end
inline constexpr const char * kServeFailed = "failed";    // aborted (server died or hung, could not start, ...)

struct ServeLevelRecord {
    int64_t id = 0;  // serve_levels.id, set by the store; not stable across merges

    // natural key (ServeLevelKey)
    std::string host_fingerprint;
    std::string model_hash;
    std::string scheme_canonical;
    std::string level;
    std::string workload_fp;
    std::string settings_fp;

    // joined by list_serve_levels(); ignored by commit_serve_level()
    std::string host_name;
    std::string model_name;
    std::string scheme_name;

    int64_t run_id = 0;  // runs.id, 0 = none

    std::string mode = "closed";  // "closed" or "open"
    int64_t concurrency = 0;      // closed: clients; open: most requests in flight
    double rate_rps = kUnmeasured;  // open loop: mean arrivals per second
    // "llama-server" (started by joulebench) or the URL of an endpoint that was already running
    std::string endpoint;
    std::string status = kServeOk;
    std::string reason;  // why failed or partial; "" when ok

    // accounting: sent = completed + failed + timed_out
    int64_t sent = 0;
    int64_t completed = 0;
    int64_t failed = 0;
    int64_t timed_out = 0;
    int64_t not_sent = 0;  // planned requests a level ended without

    double duration_s = kUnmeasured;
    int64_t prompt_tokens = 0;  // over completed requests, from usage
    int64_t cached_prompt_tokens = 0;
    int64_t completion_tokens = 0;
    double requests_per_s = kUnmeasured;
    double output_tokens_per_s = kUnmeasured;
    double input_tokens_per_s = kUnmeasured;

    double ttft_p50_ms = kUnmeasured, ttft_p90_ms = kUnmeasured, ttft_p99_ms = kUnmeasured;
    double tpot_p50_ms = kUnmeasured, tpot_p90_ms = kUnmeasured, tpot_p99_ms = kUnmeasured;
    double itl_p50_ms = kUnmeasured, itl_p90_ms = kUnmeasured, itl_p99_ms = kUnmeasured;
    double e2e_p50_ms = kUnmeasured, e2e_p99_ms = kUnmeasured;
    double queue_p99_ms = kUnmeasured;  // open loop: an arrival's wait for a place

    // whole level (ramp-up, steady state and drain)
    double energy_j = kUnmeasured;  // gross, measured domains (the estimate when nothing is measured)
    double energy_net_j = kUnmeasured;
    bool energy_estimated = false;
    double j_per_request = kUnmeasured;
    double j_per_output_token = kUnmeasured;
    double wh_per_1000_requests = kUnmeasured;
    // steady-state window (every client busy); NaN when the level had none (steady_note says why)
    double steady_s = kUnmeasured;
    double steady_energy_j = kUnmeasured;
    double steady_energy_net_j = kUnmeasured;
    double steady_output_tokens = kUnmeasured;
    double steady_j_per_request = kUnmeasured;
    double steady_j_per_output_token = kUnmeasured;
    double steady_wh_per_1000_requests = kUnmeasured;
    std::string steady_note;
    double j_per_input_token = kUnmeasured;  // prefill-only levels only
    double avg_power_w = kUnmeasured;        // level energy / duration
    double idle_power_w = kUnmeasured;

    // usage vs the server's /metrics: 1 matched, 0 mismatched, -1 not checked (token_check in result_json)
    int64_t tokens_match = -1;
    double load_cpu_s = kUnmeasured;  // the load generator's CPU time

    // provenance
    std::string server_json = "{}";    // the server's settings and what it reported (/props), or the URL
    std::string workload_json = "{}";  // the prompts' source, lengths, bounds and the load spec
    std::string energy_json = "{}";    // per domain, as cells' (sweep::energy_json), plus shared_* marks
    std::string sensors_json = "{}";
    std::string result_json = "{}";    // the whole LevelResult with every request's record

    std::string started_at;
    std::string finished_at;
    std::string committed_at;  // set by the store

    // Set by metrics::pool_repeats on a level that pools repeated runs (serve --repeats); not
    // stored: each run is its own row.
    int64_t runs = 1;
    std::vector<double> run_j_per_request;           // each pooled run's best_j_per_request()
    std::vector<int> run_numbers;                    // their rounds (1, 2, ...), in the same order
    double j_per_request_ci95 = kUnmeasured;         // half-width of the 95 % interval of their mean

    ServeLevelKey key() const {
        return {host_fingerprint, model_hash, scheme_canonical, level, workload_fp, settings_fp};
    }
    void set_key(const ServeLevelKey & k);
    bool ok() const { return status == kServeOk; }
    // J/request and J/output token of the steady window where the level has one, else of the
    // whole level: what the frontier and recommend compare.
    double best_j_per_request() const {
        return std::isfinite(steady_j_per_request) ? steady_j_per_request : j_per_request;
    }
    double best_j_per_output_token() const {
        return std::isfinite(steady_j_per_output_token) ? steady_j_per_output_token : j_per_output_token;
    }
    double best_wh_per_1000_requests() const {
        return std::isfinite(steady_wh_per_1000_requests) ? steady_wh_per_1000_requests : wh_per_1000_requests;
    }
    // Requests/s and output tokens/s of the steady window: its output tokens over steady_s, in
    // requests of the level's mean output (the requests its J/request divides by); NaN without one.
    double steady_requests_per_s() const {
        if (!std::isfinite(steady_j_per_request) || !(steady_s > 0) || completed <= 0 || completion_tokens <= 0) {
            return kUnmeasured;
        }
        return steady_output_tokens / (static_cast<double>(completion_tokens) / completed) / steady_s;
    }
    double steady_output_tokens_per_s() const {
        return std::isfinite(steady_j_per_request) && steady_s > 0 ? steady_output_tokens / steady_s : kUnmeasured;
    }
    // Throughput over the same window as best_j_per_request(), so that a point's J/request x
    // requests/s is the power drawn while it was measured.
    double best_requests_per_s() const {
        return std::isfinite(steady_j_per_request) ? steady_requests_per_s() : requests_per_s;
    }
    double best_output_tokens_per_s() const {
        return std::isfinite(steady_j_per_request) ? steady_output_tokens_per_s() : output_tokens_per_s;
    }
};

struct ServeLevelField {
    const char * name;
    FieldType type;
    bool stored;  // a column of serve_levels that commit_serve_level() writes
    const char * select_sql;
    FieldValue (*get)(const ServeLevelRecord &);
    void (*set)(ServeLevelRecord &, const FieldValue &);
};

// Every field of ServeLevelRecord, in display order.
const std::vector<ServeLevelField> & serve_level_fields();
const ServeLevelField * find_serve_level_field(std::string_view name);

}  // namespace jb
