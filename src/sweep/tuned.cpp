#include "sweep/tuned.hpp"

#include <cmath>
#include <map>

namespace jb::sweep {

namespace {

nlohmann::json number_or_null(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

double number_of(const nlohmann::json & j, const char * key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

}  // namespace

nlohmann::json trial_json(const std::string & suffix, bool is_default, double j_per_token, double tok_s, double ttft_s,
                          const metrics::TuneConstraints & c, int min_repeats) {
    return {{"settings", suffix},
            {"default", is_default},
            {"j_per_token", number_or_null(j_per_token)},
            {"tok_s", number_or_null(tok_s)},
            {"ttft_s", number_or_null(ttft_s)},
            {"constraints",
             {{"min_tok_s", c.min_tok_s ? nlohmann::json(*c.min_tok_s) : nlohmann::json(nullptr)},
              {"max_ttft_s", c.max_ttft_s ? nlohmann::json(*c.max_ttft_s) : nlohmann::json(nullptr)}}},
            {"min_repeats", min_repeats}};
}

StoredTune stored_tune(const Store & store, const TuneKey & key) {
    CellFilter f;
    f.host_fingerprints = {key.host_fingerprint};
    f.model_hashes = {key.model_hash};
    f.scheme_canonicals = {key.scheme_canonical};
    f.tasks = {key.task};
    StoredTune out;
    std::map<std::string, size_t> index;
    const std::string prefix = key.base_fp + "|tune=";
    int64_t latest_id = -1;
    for (const CellRecord & c : store.list_cells(f)) {  // ordered by id: the latest last
        if (c.workload_fp.compare(0, prefix.size(), prefix) != 0) continue;
        if (c.workload_fp.find('|', prefix.size()) != std::string::npos) continue;  // another suffix follows
        const std::string suffix = c.workload_fp.substr(key.base_fp.size());
        auto [it, added] = index.emplace(suffix, out.settings.size());
        if (added) out.settings.push_back({suffix, {}, 0, false});
        StoredSetting & s = out.settings[it->second];
        s.next_repeat = std::max(s.next_repeat, int(c.repeat_idx) + 1);
        const auto ej = nlohmann::json::parse(c.energy_json, nullptr, /*allow_exceptions=*/false);
        const nlohmann::json tune = ej.is_object() && ej.contains("tune") ? ej["tune"] : nlohmann::json();
        if (!c.ok()) {
            s.runs.failed = true;
            continue;
        }
        if (!tune.is_object()) continue;  // not written by a tune
        s.is_default = s.is_default || tune.value("default", false);
        if (out.work_tokens == 0 && tune.contains("work_tokens") && tune["work_tokens"].is_number_integer()) {
            out.work_tokens = tune["work_tokens"].get<int64_t>();
        }
        s.runs.j_per_token.push_back(number_of(tune, "j_per_token"));
        s.runs.tok_s.push_back(number_of(tune, "tok_s"));
        s.runs.ttft_s.push_back(number_of(tune, "ttft_s"));
        if (c.id > latest_id && tune.contains("constraints") && tune["constraints"].is_object()) {
            latest_id = c.id;
            const auto & cj = tune["constraints"];
            const double tps = number_of(cj, "min_tok_s"), ttft = number_of(cj, "max_ttft_s");
            out.constraints = {};
            if (std::isfinite(tps)) out.constraints.min_tok_s = tps;
            if (std::isfinite(ttft)) out.constraints.max_ttft_s = ttft;
            if (tune.contains("min_repeats") && tune["min_repeats"].is_number_integer()) {
                out.min_repeats = tune["min_repeats"].get<int>();
            }
        }
    }
    return out;
}

int best_stored(const StoredTune & t) {
    std::vector<metrics::SettingRuns> runs;
    for (const auto & s : t.settings) runs.push_back(s.runs);
    return metrics::pick_setting(runs, t.constraints, t.min_repeats);
}

}  // namespace jb::sweep
