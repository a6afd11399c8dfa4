#include "joulebench/serve_record.hpp"

#include <cmath>

#include "store/field_access.hpp"

namespace jb {

using fields::get_member;
using fields::set_member;

void ServeLevelRecord::set_key(const ServeLevelKey & k) {
    host_fingerprint = k.host_fingerprint;
    model_hash = k.model_hash;
    scheme_canonical = k.scheme_canonical;
    level = k.level;
    workload_fp = k.workload_fp;
    settings_fp = k.settings_fp;
}

// clang-format off
#define JB_FIELD(name, type, stored, sql)                                                          \
    ServeLevelField{#name, FieldType::type, stored, sql, &get_member<ServeLevelRecord, &ServeLevelRecord::name>, \
                    &set_member<ServeLevelRecord, &ServeLevelRecord::name>}
// clang-format on
#define JB_LEVEL(name, type) JB_FIELD(name, type, true, "l." #name)

const std::vector<ServeLevelField> & serve_level_fields() {
    static const std::vector<ServeLevelField> fields = {
        JB_FIELD(id, integer, false, "l.id"),
        JB_FIELD(host_fingerprint, text, false, "h.fingerprint"),
        JB_FIELD(host_name, text, false, "h.hostname"),
        JB_FIELD(model_hash, text, false, "m.hash"),
        JB_FIELD(model_name, text, false, "m.file_name"),
        JB_FIELD(scheme_canonical, text, false, "s.canonical"),
        JB_FIELD(scheme_name, text, false, "s.name"),
        JB_LEVEL(level, text),
        JB_LEVEL(workload_fp, text),
        JB_LEVEL(settings_fp, text),
        JB_FIELD(run_id, integer, false, "coalesce(l.run_id, 0)"),  // written as NULL when 0 (foreign key)
        JB_LEVEL(mode, text),
        JB_LEVEL(concurrency, integer),
        JB_LEVEL(rate_rps, real),
        JB_LEVEL(endpoint, text),
        JB_LEVEL(status, text),
        JB_LEVEL(reason, text),
        JB_LEVEL(sent, integer),
        JB_LEVEL(completed, integer),
        JB_LEVEL(failed, integer),
        JB_LEVEL(timed_out, integer),
        JB_LEVEL(not_sent, integer),
        JB_LEVEL(duration_s, real),
        JB_LEVEL(prompt_tokens, integer),
        JB_LEVEL(cached_prompt_tokens, integer),
        JB_LEVEL(completion_tokens, integer),
        JB_LEVEL(requests_per_s, real),
        JB_LEVEL(output_tokens_per_s, real),
        JB_LEVEL(input_tokens_per_s, real),
        JB_LEVEL(ttft_p50_ms, real),
        JB_LEVEL(ttft_p90_ms, real),
        JB_LEVEL(ttft_p99_ms, real),
        JB_LEVEL(tpot_p50_ms, real),
        JB_LEVEL(tpot_p90_ms, real),
        JB_LEVEL(tpot_p99_ms, real),
        JB_LEVEL(itl_p50_ms, real),
        JB_LEVEL(itl_p90_ms, real),
        JB_LEVEL(itl_p99_ms, real),
        JB_LEVEL(e2e_p50_ms, real),
        JB_LEVEL(e2e_p99_ms, real),
        JB_LEVEL(queue_p99_ms, real),
        JB_LEVEL(energy_j, real),
        JB_LEVEL(energy_net_j, real),
        JB_LEVEL(energy_estimated, integer),
        JB_LEVEL(j_per_request, real),
        JB_LEVEL(j_per_output_token, real),
        JB_LEVEL(wh_per_1000_requests, real),
        JB_LEVEL(steady_s, real),
        JB_LEVEL(steady_energy_j, real),
        JB_LEVEL(steady_energy_net_j, real),
        JB_LEVEL(steady_output_tokens, real),
        JB_LEVEL(steady_j_per_request, real),
        JB_LEVEL(steady_j_per_output_token, real),
        JB_LEVEL(steady_wh_per_1000_requests, real),
        JB_LEVEL(steady_note, text),
        JB_LEVEL(j_per_input_token, real),
        JB_LEVEL(avg_power_w, real),
        JB_LEVEL(idle_power_w, real),
        JB_LEVEL(tokens_match, integer),
        JB_LEVEL(load_cpu_s, real),
        JB_LEVEL(server_json, json),
        JB_LEVEL(workload_json, json),
        JB_LEVEL(energy_json, json),
        JB_LEVEL(sensors_json, json),
        JB_LEVEL(result_json, json),
        JB_LEVEL(started_at, text),
        JB_LEVEL(finished_at, text),
        JB_LEVEL(committed_at, text),
    };
    return fields;
}

#undef JB_LEVEL
#undef JB_FIELD

const ServeLevelField * find_serve_level_field(std::string_view name) {
    for (const ServeLevelField & f : serve_level_fields()) {
        if (name == f.name) return &f;
    }
    return nullptr;
}

}  // namespace jb
