#include "serve/tuned.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>
#include <nlohmann/json.hpp>
#include <vector>

#include "joulebench/serving.hpp"
#include "serve/process.hpp"
#include "metrics/confidence.hpp"
#include "util/strings.hpp"

namespace jb::serve {

namespace {

bool whole(const std::string & s, int least, int & out) {
    const std::optional<int> v = parse_int(s);
    if (!v || *v < least) return false;
    out = *v;
    return true;
}

double number_of(const nlohmann::json & j, const char * key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

}  // namespace

std::string settings_suffix(const ServeServerOptions & o) {
    const int cps = o.ctx_size > 0 && o.parallel > 0 ? o.ctx_size / o.parallel : 0;
    return fmt::format("np={},b={},ub={},fa={},t={},kv={}/{},cps={}", o.parallel, o.batch_size, o.ubatch_size,
                       o.flash_attn, o.threads, o.cache_type_k, o.cache_type_v,
                       cps > 0 ? std::to_string(cps) : std::string("auto"));
}

bool apply_settings_suffix(const std::string & suffix, ServeServerOptions & o) {
    std::map<std::string, std::string> v;
    size_t pos = 0;
    while (pos < suffix.size()) {
        const size_t comma = std::min(suffix.find(',', pos), suffix.size());
        const std::string kv = suffix.substr(pos, comma - pos);
        const size_t eq = kv.find('=');
        if (eq == std::string::npos) return false;
        v[kv.substr(0, eq)] = kv.substr(eq + 1);
        pos = comma + 1;
    }
    for (const char * k : {"np", "b", "ub", "fa", "t", "kv", "cps"}) {
        if (!v.count(k)) return false;
    }
    ServeServerOptions r = o;
    int cps = 0;
    const size_t slash = v["kv"].find('/');
    if (!whole(v["np"], 1, r.parallel) || !whole(v["b"], 1, r.batch_size) || !whole(v["ub"], 1, r.ubatch_size) ||
        !whole(v["t"], 0, r.threads) || slash == std::string::npos ||
        (v["cps"] != "auto" && !whole(v["cps"], 16, cps)) ||
        (v["fa"] != "on" && v["fa"] != "off" && v["fa"] != "auto")) {
        return false;
    }
    r.flash_attn = v["fa"];
    r.cache_type_k = v["kv"].substr(0, slash);
    r.cache_type_v = v["kv"].substr(slash + 1);
    r.ctx_size = cps > 0 ? cps * r.parallel : 0;
    o = r;
    return true;
}

std::string trial_suffix(int repeat, const std::string & settings) {
    return fmt::format("|tune=r{}|{}", repeat, settings);
}

std::optional<TrialName> trial_name(const std::string & workload_fp, const std::string & load_fp) {
    const std::string prefix = load_fp + "|tune=r";
    if (workload_fp.rfind(prefix, 0) != 0) return std::nullopt;
    const size_t bar = workload_fp.find('|', prefix.size());
    if (bar == std::string::npos) return std::nullopt;
    const std::optional<int> repeat = parse_int(workload_fp.substr(prefix.size(), bar - prefix.size()));
    if (!repeat || *repeat < 0) return std::nullopt;
    return TrialName{*repeat, workload_fp.substr(bar + 1)};
}

metrics::Trial level_trial(const ServeLevelRecord & l, const metrics::Slo * slo) {
    metrics::Trial t;
    t.ok = l.ok() && std::isfinite(l.best_j_per_output_token());
    t.j_per_token = l.best_j_per_output_token();
    t.tok_s = l.best_output_tokens_per_s();  // the window of j_per_token
    t.ttft_s = l.ttft_p99_ms / 1000.0;
    if (slo) t.latency_ratio = metrics::slo_ratio(l, *slo);
    return t;
}

bool same_server(const ServeLevelRecord & level, const std::vector<std::string> & extra_args) {
    ServerOptions now;
    now.extra_args = extra_args;
    now.prompt_cache = false;
    const nlohmann::json want = server_settings_json(now);
    const nlohmann::json had = nlohmann::json::parse(level.server_json, nullptr, false);
    return had.is_object() && had.value("prompt_cache", nlohmann::json()) == want["prompt_cache"] &&
           had.value("extra_args", nlohmann::json()) == want["extra_args"];
}

std::optional<TunedServer> tuned_server(const Store & store, const ServeLevelKey & load, const std::string & load_fp,
                                        const ServeServerOptions & given) {
    ServeLevelFilter f;
    f.host_fingerprints = {load.host_fingerprint};
    f.model_hashes = {load.model_hash};
    f.scheme_canonicals = {load.scheme_canonical};
    // The trials of this load on the same server, with their settings.
    const std::vector<ServeLevelRecord> levels = store.list_serve_levels(f);
    std::vector<std::pair<const ServeLevelRecord *, std::string>> trials;
    for (const ServeLevelRecord & l : levels) {
        if (l.level != load.level || !same_server(l, given.extra_args)) continue;
        if (auto t = trial_name(l.workload_fp, load_fp)) trials.emplace_back(&l, std::move(t->settings));
    }
    std::vector<std::string> order;
    const ServeLevelRecord * latest = nullptr;
    for (const auto & [l, settings] : trials) {
        if (std::find(order.begin(), order.end(), settings) == order.end()) order.push_back(settings);
        if (!latest || l->id > latest->id) latest = l;
    }
    if (order.empty()) return std::nullopt;

    // The latest tune's constraints: output tokens/s and an SLO, as a latency ratio.
    metrics::TuneConstraints c;
    std::optional<metrics::Slo> slo;
    int min_repeats = 3;
    const nlohmann::json wj = nlohmann::json::parse(latest->workload_json, nullptr, false);
    if (wj.is_object() && wj.contains("tune") && wj["tune"].is_object()) {
        const auto & t = wj["tune"];
        if (const double tps = number_of(t, "min_tok_s"); std::isfinite(tps)) c.min_tok_s = tps;
        if (t.contains("slo") && t["slo"].is_string() && !t["slo"].get<std::string>().empty()) {
            slo = metrics::parse_slo(t["slo"].get<std::string>());
            c.max_latency_ratio = 1.0;
        }
        if (t.contains("min_repeats") && t["min_repeats"].is_number_integer())
            min_repeats = t["min_repeats"].get<int>();
    }
    std::map<std::string, metrics::SettingRuns> runs;
    for (const auto & [l, settings] : trials) {
        metrics::add_trial(runs[settings], level_trial(*l, slo ? &*slo : nullptr));
    }
    std::vector<metrics::SettingRuns> list;
    for (const auto & s : order) list.push_back(runs[s]);
    const int best = metrics::pick_setting(list, c, min_repeats);
    if (best < 0) return std::nullopt;
    TunedServer out;
    out.suffix = order[size_t(best)];
    out.server = given;
    if (!apply_settings_suffix(out.suffix, out.server)) return std::nullopt;
    out.settings = int(order.size());
    out.trials = list[size_t(best)].n();
    out.j_per_output_token = metrics::mean_ci95(list[size_t(best)].j_per_token).mean;
    return out;
}

}  // namespace jb::serve
