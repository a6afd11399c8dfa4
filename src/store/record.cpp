#include "joulebench/record.hpp"

#include <type_traits>

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

// One getter/setter pair per member, generated from the member pointer: NaN <-> empty,
// bool <-> integer 0/1, so the table below is the only place a field is named.
template <auto M>
static FieldValue get_member(const CellRecord & r) {
    using T = std::remove_cvref_t<decltype(r.*M)>;
    if constexpr (std::is_same_v<T, double>) {
        return std::isnan(r.*M) ? FieldValue{} : FieldValue{r.*M};
    } else if constexpr (std::is_same_v<T, bool>) {
        return FieldValue{int64_t(r.*M ? 1 : 0)};
    } else {
        return FieldValue{r.*M};
    }
}

template <auto M>
static void set_member(CellRecord & r, const FieldValue & v) {
    using T = std::remove_cvref_t<decltype(r.*M)>;
    if constexpr (std::is_same_v<T, double>) {
        if (const double * d = std::get_if<double>(&v)) {
            r.*M = *d;
        } else if (const int64_t * i = std::get_if<int64_t>(&v)) {
            r.*M = double(*i);
        } else {
            r.*M = kUnmeasured;
        }
    } else if constexpr (std::is_same_v<T, bool>) {
        const int64_t * i = std::get_if<int64_t>(&v);
        r.*M = i && *i != 0;
    } else if constexpr (std::is_same_v<T, int64_t>) {
        const int64_t * i = std::get_if<int64_t>(&v);
        r.*M = i ? *i : 0;
    } else {
        const std::string * s = std::get_if<std::string>(&v);
        r.*M = s ? *s : std::string();
    }
}

// clang-format off
#define JB_FIELD(name, type, stored, sql) \
    CellField{#name, FieldType::type, stored, sql, &get_member<&CellRecord::name>, &set_member<&CellRecord::name>}
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
                  &set_member<&CellRecord::projection_json>},
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
