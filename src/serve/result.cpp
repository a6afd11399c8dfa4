#include "serve/result.hpp"

#include <cmath>

namespace jb::serve {

using nlohmann::json;

const char * outcome_name(Outcome o) {
    switch (o) {
        case Outcome::completed:
            return "completed";
        case Outcome::failed:
            return "failed";
        case Outcome::timed_out:
            return "timed_out";
    }
    return "?";
}

const char * level_status_name(LevelStatus s) {
    switch (s) {
        case LevelStatus::ok:
            return "ok";
        case LevelStatus::partial:
            return "partial";
        case LevelStatus::failed:
            return "failed";
        case LevelStatus::stopped:
            return "stopped";
    }
    return "?";
}

double RequestRecord::tpot_s() const {
    const int n = output_tokens();
    if (n < 2 || std::isnan(t_first_token_s) || std::isnan(t_last_token_s)) return NAN;
    return (t_last_token_s - t_first_token_s) / static_cast<double>(n - 1);
}

namespace {

// NaN and infinities become null (JSON has no NaN).
json num(double v) {
    return std::isfinite(v) ? json(v) : json(nullptr);
}
json opt(const std::optional<double> & v) {
    return v ? num(*v) : json(nullptr);
}

json latency_json(const LatencySummary & s) {
    return {{"n", s.n},
            {"mean_ms", num(s.mean_ms)},
            {"p50_ms", num(s.p50_ms)},
            {"p90_ms", num(s.p90_ms)},
            {"p99_ms", num(s.p99_ms)},
            {"max_ms", num(s.max_ms)}};
}

json window_json(const EnergyWindow & w) {
    return {{"t_begin_s", num(w.t_begin_s)},
            {"t_end_s", num(w.t_end_s)},
            {"duration_s", num(w.duration_s())},
            {"energy_j", num(w.energy_j)},
            {"net_energy_j", opt(w.net_energy_j)},
            {"estimated", w.estimated},
            {"output_tokens", num(w.output_tokens)},
            {"output_tokens_per_s", num(w.output_tokens_per_s())},
            {"requests", num(w.requests)},
            {"requests_completed", w.requests_completed},
            {"j_per_output_token", num(w.j_per_output_token)},
            {"j_per_request", num(w.j_per_request)},
            {"wh_per_1000_requests", num(w.wh_per_1000_requests)},
            {"net_j_per_output_token", num(w.net_j_per_output_token)},
            {"net_j_per_request", num(w.net_j_per_request)}};
}

json record_json(const RequestRecord & r) {
    json j = {{"index", r.index},
              {"shape", r.shape},
              {"outcome", outcome_name(r.outcome)},
              {"t_scheduled_s", num(r.t_scheduled_s)},
              {"t_sent_s", num(r.t_sent_s)},
              {"t_first_token_s", num(r.t_first_token_s)},
              {"t_last_token_s", num(r.t_last_token_s)},
              {"t_end_s", num(r.t_end_s)},
              {"max_tokens", r.max_tokens},
              {"expected_prompt_tokens", r.expected_prompt_tokens},
              {"prompt_tokens", r.prompt_tokens},
              {"cached_prompt_tokens", r.cached_prompt_tokens},
              {"completion_tokens", r.completion_tokens},
              {"chunks", r.chunks},
              {"chunks_in_steady", r.chunks_in_steady},
              {"server_prompt_ms", num(r.server_prompt_ms)},
              {"server_predicted_ms", num(r.server_predicted_ms)}};
    if (!r.error.empty()) j["error"] = r.error;
    return j;
}

}  // namespace

json LevelResult::to_json(bool with_requests) const {
    json reasons = json::array();
    for (const auto & [why, n] : failure_reasons) reasons.push_back({{"reason", why}, {"count", n}});
    json j = {
        {"label", label},
        {"spec", spec},
        {"status", level_status_name(status)},
        {"reason", reason},
        {"sent", sent},
        {"completed", completed},
        {"failed", failed},
        {"timed_out", timed_out},
        {"not_sent", not_sent},
        {"failure_reasons", reasons},
        {"duration_s", num(duration_s)},
        {"prompt_tokens", prompt_tokens},
        {"cached_prompt_tokens", cached_prompt_tokens},
        {"completion_tokens", completion_tokens},
        {"chunks", chunks},
        {"requests_per_s", num(requests_per_s)},
        {"arrival_rate_rps", num(arrival_rate_rps)},
        {"output_tokens_per_s", num(output_tokens_per_s)},
        {"input_tokens_per_s", num(input_tokens_per_s)},
        {"ttft", latency_json(ttft)},
        {"tpot", latency_json(tpot)},
        {"itl", latency_json(itl)},
        {"itl_exact", itl_exact},
        {"e2e", latency_json(e2e)},
        {"queue", latency_json(queue)},
        {"level_energy", level_energy ? window_json(*level_energy) : json(nullptr)},
        {"steady_energy", steady_energy ? window_json(*steady_energy) : json(nullptr)},
        {"steady_note", steady_note},
        {"j_per_input_token", opt(j_per_input_token)},
        {"token_check",
         {{"checked", token_check.checked},
          {"match", token_check.match},
          {"note", token_check.note},
          {"usage_prompt_tokens", token_check.usage_prompt_tokens},
          {"usage_cached_tokens", token_check.usage_cached_tokens},
          {"usage_completion_tokens", token_check.usage_completion_tokens},
          {"metrics_prompt_tokens", num(token_check.metrics_prompt_tokens)},
          {"metrics_cached_tokens", num(token_check.metrics_cached_tokens)},
          {"metrics_completion_tokens", num(token_check.metrics_completion_tokens)},
          {"prompt_length_mismatches", token_check.prompt_length_mismatches},
          {"completion_length_mismatches", token_check.completion_length_mismatches}}},
        {"load_cpu",
         {{"cpu_s", num(load_cpu.cpu_s)},
          {"user_s", num(load_cpu.user_s)},
          {"sys_s", num(load_cpu.sys_s)},
          {"wall_s", num(load_cpu.wall_s)},
          {"cpu_fraction", num(load_cpu.cpu_fraction())},
          {"cpu_s_per_1000_tokens", num(load_cpu.cpu_s_per_1000_tokens)}}},
    };
    if (measurement) {
        json phases = json::array();
        for (const auto & p : measurement->phases) {
            double gross = 0;
            for (const auto & d : p.domains) gross += d.estimated() ? 0.0 : d.gross_j;
            phases.push_back({{"name", p.name},
                              {"t_begin_s", num(p.t_begin_s)},
                              {"t_end_s", num(p.t_end_s)},
                              {"measured_energy_j", num(gross)}});
        }
        json domains = json::array();
        for (const auto & d : measurement->domains) {
            domains.push_back({{"domain", d.domain.str()},
                               {"method", energy::method_name(d.method)},
                               {"sensor", d.sensor},
                               {"gross_j", num(d.gross_j)},
                               {"net_j", opt(d.net_j)},
                               {"idle_w", opt(d.idle_w)},
                               {"avg_w", num(d.avg_w)},
                               {"error", d.error}});
        }
        j["energy"] = {{"phases", phases},
                       {"domains", domains},
                       {"sampler_cpu_s", num(measurement->sampler_cpu_s)},
                       {"interval_s", num(measurement->interval_s)}};
    }
    if (with_requests) {
        json rs = json::array();
        for (const auto & r : requests) rs.push_back(record_json(r));
        j["requests"] = rs;
    }
    return j;
}

}  // namespace jb::serve
