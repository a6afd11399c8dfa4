#include "results/store_rows.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "energy/sensor.hpp"
#include "joulebench/engine_params.hpp"
#include "joulebench/serving.hpp"

namespace jb::results {

std::string host_device(const HostRecord & host) {
    std::vector<std::string> names;
    const auto gpus = nlohmann::json::parse(host.gpus_json, nullptr, /*allow_exceptions=*/false);
    if (gpus.is_array()) {
        for (const auto & g : gpus) {
            std::string name =
                g.is_object() && g.contains("name") && g["name"].is_string() ? g["name"].get<std::string>() : "";
            names.push_back(name.empty() ? "GPU" : name);
        }
    }
    if (names.empty()) return host.cpu_model.empty() ? host.hostname : host.cpu_model;
    bool same = true;
    for (const auto & n : names) same = same && n == names.front();
    if (same) return names.size() == 1 ? names.front() : std::to_string(names.size()) + "x " + names.front();
    std::string out;
    for (const auto & n : names) out += (out.empty() ? "" : " + ") + n;
    return out;
}

std::string placement_label(const std::string & workload_fp) {
    std::string gpus, split, shares;
    bool tuned = false;
    size_t pos = workload_fp.find('|');
    while (pos != std::string::npos) {
        const size_t next = workload_fp.find('|', pos + 1);
        const std::string part =
            workload_fp.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
        const size_t eq = part.find('=');
        const std::string key = part.substr(0, eq), value = eq == std::string::npos ? "" : part.substr(eq + 1);
        if (key == "gpus") gpus = value;
        if (key == "sm") split = value;
        if (key == "ts") shares = value;
        if (key == "engine" && value == "tuned") tuned = true;
        pos = next;
    }
    std::vector<std::string> parts;
    if (!gpus.empty()) parts.push_back((gpus.find(',') == std::string::npos ? "GPU " : "GPUs ") + gpus);
    if (split.empty() && gpus.find(',') != std::string::npos) split = "layer";  // the default, left out of the suffix
    if (!split.empty() && split != "none") parts.push_back(split + " split");
    if (!shares.empty()) parts.push_back("shares " + shares);
    if (tuned) parts.push_back("tuned");
    std::string out;
    for (const auto & p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

bool is_tune_trial(const std::string & workload_fp) { return workload_fp.find("|tune=") != std::string::npos; }

std::vector<ServeLevelRecord> reported_serve_levels(const Store & store) {
    std::vector<ServeLevelRecord> levels = store.list_serve_levels();
    std::erase_if(levels, [](const ServeLevelRecord & l) { return is_tune_trial(l.workload_fp); });
    return metrics::pool_repeats(levels);
}

bool is_estimated_domain(const nlohmann::json & domain) {
    return domain.is_object() && domain.value("method", "") == energy::method_name(energy::Method::estimate);
}

std::vector<std::string> estimated_domains(const nlohmann::json & energy) {
    std::vector<std::string> out;
    if (!energy.is_object() || !energy.contains("domains") || !energy["domains"].is_array()) return out;
    for (const auto & d : energy["domains"]) {
        if (is_estimated_domain(d)) out.push_back(d.value("domain", ""));
    }
    return out;
}

std::vector<std::pair<std::string, double>> cell_domain_energy(const std::string & energy_json) {
    std::vector<std::pair<std::string, double>> out;
    const auto energy = nlohmann::json::parse(energy_json, nullptr, /*allow_exceptions=*/false);
    if (!energy.is_object() || !energy.contains("domains") || !energy["domains"].is_array()) return out;
    for (const auto & d : energy["domains"]) {
        if (!d.is_object() || is_estimated_domain(d)) continue;
        const auto j = d.find("gross_j");
        if (j == d.end() || !j->is_number() || !d.contains("domain") || !d["domain"].is_string()) continue;
        out.emplace_back(d["domain"].get<std::string>(), j->get<double>());
    }
    if (out.size() < 2) out.clear();
    return out;
}

void cell_power(const std::string & energy_json, double & avg_w, double & peak_w) {
    const auto energy = nlohmann::json::parse(energy_json, nullptr, /*allow_exceptions=*/false);
    std::vector<const nlohmann::json *> domains;
    if (energy.is_object() && energy.contains("domains") && energy["domains"].is_array()) {
        for (const auto & d : energy["domains"]) domains.push_back(&d);
    } else if (energy.is_object()) {
        for (const auto & [name, d] : energy.items()) domains.push_back(&d);
    }
    // A modelled domain (the CPU estimate beside a GPU's counter) stays out when measured ones
    // exist, as it stays out of the measured energy.
    bool any_measured = false;
    for (const nlohmann::json * d : domains) {
        any_measured = any_measured || (d->is_object() && !is_estimated_domain(*d));
    }
    double sum = 0.0, peak = 0.0;
    bool any_avg = false, any_peak = false;
    for (const nlohmann::json * d : domains) {
        if (!d->is_object()) continue;
        if (any_measured && is_estimated_domain(*d)) continue;
        if (auto it = d->find("avg_w"); it != d->end() && it->is_number() && std::isfinite(it->get<double>())) {
            sum += it->get<double>();
            any_avg = true;
        }
        if (auto it = d->find("peak_w"); it != d->end() && it->is_number() && it->get<double>() > 0) {
            peak = std::max(peak, it->get<double>());
            any_peak = true;
        }
    }
    avg_w = any_avg && sum > 0 ? sum : std::numeric_limits<double>::quiet_NaN();
    peak_w = any_peak ? peak : std::numeric_limits<double>::quiet_NaN();
    // The sweep's peak of the measured domains' summed power (several GPUs), where recorded.
    if (energy.is_object()) {
        if (auto it = energy.find("peak_total_w"); it != energy.end() && it->is_number() && it->get<double>() > 0) {
            peak_w = it->get<double>();
        }
    }
}

void item_outcomes(const std::vector<CellItem> & items, const std::string & primary_metric,
                   std::vector<metrics::ItemScore> & out, double & chance) {
    out.clear();
    chance = std::numeric_limits<double>::quiet_NaN();
    double chance_sum = 0.0;
    size_t n_chance = 0;
    for (const CellItem & item : items) {
        const auto j = nlohmann::json::parse(item.result_json, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object()) continue;
        metrics::ItemScore s;
        s.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : std::to_string(item.idx);
        bool have = false;
        if (auto sc = j.find("scores"); sc != j.end() && sc->is_object() && !primary_metric.empty()) {
            if (auto v = sc->find(primary_metric); v != sc->end() && v->is_number()) {
                s.value = v->get<double>();
                have = true;
            }
        }
        if (!have) {
            auto c = j.find("correct");
            if (c == j.end() || !c->is_boolean()) continue;
            s.value = c->get<bool>() ? 1.0 : 0.0;
        }
        out.push_back(std::move(s));
        // Multiple choice: one log-probability per choice; generation: no choices, chance 0.
        if (auto lp = j.find("logprobs"); lp != j.end() && lp->is_array() && !lp->empty()) {
            chance_sum += 1.0 / double(lp->size());
            ++n_chance;
        } else if (j.contains("generated")) {
            ++n_chance;
        }
    }
    std::sort(out.begin(), out.end(), [](const auto & a, const auto & b) { return a.id < b.id; });
    if (n_chance > 0 && n_chance == out.size()) chance = chance_sum / double(n_chance);
}

std::vector<metrics::Row> load_rows(const Store & store, bool items) {
    std::map<std::string, HostRecord> hosts;
    for (auto & h : store.list_hosts()) hosts.emplace(h.fingerprint, std::move(h));
    std::map<std::string, ModelRecord> models;
    for (auto & m : store.list_models()) models.emplace(m.hash, std::move(m));
    std::map<std::string, SchemeRecord> schemes;
    for (auto & s : store.list_schemes()) schemes.emplace(s.canonical, std::move(s));

    const std::vector<CellRecord> cells = store.list_cells();
    // A scheme row holds one file size; it is a given model's only if no other model used it.
    std::map<std::string, std::set<std::string>> models_of_scheme;
    for (const auto & c : cells) models_of_scheme[c.scheme_canonical].insert(c.model_hash);

    std::vector<metrics::Row> rows;
    rows.reserve(cells.size());
    for (const CellRecord & c : cells) {
        // The trials of `joulebench tune` are a search, not results: its own output and the tuned
        // table (sweep --engine tuned against the default cells) show what they found.
        if (is_tune_trial(c.workload_fp)) continue;
        metrics::Row r;
        r.host = c.host_fingerprint;
        r.host_name = c.host_name;
        if (auto h = hosts.find(c.host_fingerprint); h != hosts.end()) r.device = host_device(h->second);
        r.model = c.model_hash;
        r.model_name = c.model_name;
        const ModelRecord * model = nullptr;
        if (auto m = models.find(c.model_hash); m != models.end()) model = &m->second;
        r.synthetic = model && model->synthetic;
        r.scheme = c.scheme_name.empty() ? c.scheme_canonical : c.scheme_name;
        r.scheme_canonical = c.scheme_canonical;
        r.bpw = c.scheme_bpw;
        if (c.scheme_file_bytes > 0) {
            r.model_bytes = c.scheme_file_bytes;  // this model's quantized file (model_schemes)
        } else if (auto s = schemes.find(c.scheme_canonical); s != schemes.end()) {
            if (models_of_scheme[c.scheme_canonical].size() == 1 && s->second.file_bytes > 0) {
                r.model_bytes = s->second.file_bytes;
            } else if (model && model->n_params > 0 && std::isfinite(c.scheme_bpw) && c.scheme_bpw > 0) {
                r.model_bytes = int64_t(std::llround(double(model->n_params) * c.scheme_bpw / 8.0));
            }
        }
        // Cells of one workload on other GPUs or split modes are other rows: their task says so.
        const std::string placement = placement_label(c.workload_fp);
        r.task = placement.empty() ? c.task : c.task + " [" + placement + "]";
        r.workload = c.workload_fp;
        r.repeat = c.repeat_idx;
        r.ok = c.ok();
        r.score = c.score;
        r.score_stderr = c.score_stderr;
        r.energy_j = c.energy_j;
        r.energy_net_j = c.energy_net_j;
        r.estimated = c.energy_estimated;
        r.wall_s = c.wall_t_s;
        r.prefill_j = c.prefill_energy_j;
        r.decode_j = c.decode_energy_j;
        r.prefill_s = c.prefill_t_s;
        r.decode_s = c.decode_t_s;
        r.prefill_tokens = c.prefill_tokens;
        r.decode_tokens = c.decode_tokens;
        r.ttft_s = c.ttft_s;
        r.n_items = c.n_items;
        cell_power(c.energy_json, r.avg_w, r.peak_w);
        if (c.workload_fp.find(kTunedSuffix) != std::string::npos) {
            const auto ej = nlohmann::json::parse(c.energy_json, nullptr, /*allow_exceptions=*/false);
            if (ej.is_object() && ej.contains("tuned") && ej["tuned"].is_object()) {
                r.engine_settings = ej["tuned"].value("label", "");
            }
        }
        r.domain_j = cell_domain_energy(c.energy_json);
        r.projected = c.projected();  // schema 2: origin "projected" (joulebench project), marked everywhere
        if (items && r.ok && c.n_items > 0) item_outcomes(store.cell_items(c.id), c.primary_metric, r.items, r.chance);
        rows.push_back(std::move(r));
    }
    return rows;
}

}  // namespace jb::results
