#include "joulebench/record.hpp"

#include "store/field_access.hpp"

namespace jb {

void CellRecord::set_key(const CellKey & k) {
    host_fingerprint = k.host_fingerprint;
    model_hash = k.model_hash;
    scheme_canonical = k.scheme_canonical;
    task = k.task;
    workload_fp = k.workload_fp;
    repeat_idx = k.repeat_idx;
}

const char * field_type_name(FieldType t) {
    switch (t) {
        case FieldType::text:
            return "text";
        case FieldType::integer:
            return "integer";
        case FieldType::real:
            return "real";
        case FieldType::json:
            return "json";
    }
    return "?";
}

using fields::get_member;
using fields::set_member;

// clang-format off
#define JB_FIELD(name, type, stored, sql) \
    CellField{#name, FieldType::type, stored, sql, &get_member<CellRecord, &CellRecord::name>, &set_member<CellRecord, &CellRecord::name>}
// clang-format on
#define JB_CELL(name, type) JB_FIELD(name, type, true, "c." #name)

const std::vector<CellField> & cell_fields() {
    static const std::vector<CellField> fields = {
        JB_FIELD(id, integer, false, "c.id"),
        JB_FIELD(host_fingerprint, text, false, "h.fingerprint"),
        JB_FIELD(host_name, text, false, "h.hostname"),
        JB_FIELD(model_hash, text, false, "m.hash"),
        JB_FIELD(model_name, text, false, "m.file_name"),
        JB_FIELD(model_n_params, integer, false, "m.n_params"),
        JB_FIELD(scheme_canonical, text, false, "s.canonical"),
        JB_FIELD(scheme_name, text, false, "s.name"),
        // model_schemes is LEFT JOINed as ms (select_cells); no row: the scheme's bpw, size unknown
        JB_FIELD(scheme_bpw, real, false, "CASE WHEN ms.model_id IS NULL THEN s.bpw ELSE ms.bpw END"),
        JB_FIELD(scheme_file_bytes, integer, false, "coalesce(ms.file_bytes, 0)"),
        JB_CELL(task, text),
        JB_CELL(workload_fp, text),
        JB_CELL(repeat_idx, integer),
        JB_FIELD(run_id, integer, false, "coalesce(c.run_id, 0)"),  // written as NULL when 0 (foreign key)
        JB_CELL(origin, text),
        JB_CELL(status, text),
        JB_CELL(error, text),
        JB_CELL(n_items, integer),
        JB_CELL(primary_metric, text),
        JB_CELL(score, real),
        JB_CELL(score_stderr, real),
        JB_CELL(scores_json, json),
        JB_CELL(energy_j, real),
        JB_CELL(energy_net_j, real),
        JB_CELL(energy_estimated, integer),
        JB_CELL(energy_json, json),
        JB_CELL(load_energy_j, real),
        JB_CELL(load_energy_net_j, real),
        JB_CELL(load_t_s, real),
        JB_CELL(prefill_energy_j, real),
        JB_CELL(prefill_energy_net_j, real),
        JB_CELL(prefill_t_s, real),
        JB_CELL(prefill_tokens, integer),
        JB_CELL(decode_energy_j, real),
        JB_CELL(decode_energy_net_j, real),
        JB_CELL(decode_t_s, real),
        JB_CELL(decode_tokens, integer),
        JB_CELL(wall_t_s, real),
        JB_CELL(prefill_tok_s, real),
        JB_CELL(decode_tok_s, real),
        JB_CELL(ttft_s, real),
        JB_CELL(idle_power_w, real),
        JB_CELL(peak_mem_bytes, integer),
        JB_CELL(sensors_json, json),
        // nullable JSON: "" is stored as NULL (json_valid('') is false)
        CellField{"projection_json", FieldType::json, true, "c.projection_json",
                  [](const CellRecord & r) {
                      return r.projection_json.empty() ? FieldValue{} : FieldValue{r.projection_json};
                  },
                  &set_member<CellRecord, &CellRecord::projection_json>},
        JB_CELL(started_at, text),
        JB_CELL(finished_at, text),
        JB_CELL(committed_at, text),
    };
    return fields;
}

#undef JB_CELL
#undef JB_FIELD

const CellField * find_cell_field(std::string_view name) {
    for (const CellField & f : cell_fields()) {
        if (name == f.name) {
            return &f;
        }
    }
    return nullptr;
}

}  // namespace jb
