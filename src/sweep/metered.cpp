#include "sweep/metered.hpp"

#include <set>

#include <fmt/format.h>

namespace jb::sweep {

void MeterObserver::on_phase(Phase phase) {
    if (!meter_.running()) return;
    meter_.mark(label_.empty() ? std::string(phase_name(phase)) : fmt::format("{}/{}", label_, phase_name(phase)));
}

static void add_phase(PhaseEnergy & into, const energy::Phase & p) {
    into.seconds += p.t_end_s - p.t_begin_s;
    bool all_net = true;
    double net = 0.0;
    bool any_measured = false;
    for (const auto & d : p.domains) {
        if (d.estimated()) {
            into.estimated_j += d.gross_j;
            continue;
        }
        any_measured = true;
        into.energy_j += d.gross_j;
        if (d.net_j) {
            net += *d.net_j;
        } else {
            all_net = false;
        }
    }
    if (any_measured && all_net) into.net_j = (std::isnan(into.net_j) ? 0.0 : into.net_j) + net;
}

LabelEnergy label_energy(const energy::Measurement & m, const std::string & label) {
    LabelEnergy out;
    const std::string prefix = label + "/";
    for (const auto & p : m.phases) {
        PhaseEnergy * slot = nullptr;
        if (label == "load" && p.name == "load") {
            slot = &out.load;
        } else if (p.name.rfind(prefix, 0) == 0) {
            const std::string phase = p.name.substr(prefix.size());
            slot = phase == "prefill" ? &out.prefill : phase == "decode" ? &out.decode : phase == "load" ? &out.load
                                                                                                        : &out.other;
        }
        if (!slot) continue;
        add_phase(*slot, p);
        add_phase(out.total, p);
    }
    std::set<std::string> methods;
    for (const auto & d : m.domains) {
        methods.insert(energy::method_name(d.method));
        out.measured = out.measured || !d.estimated();
        out.estimated = out.estimated || d.estimated();
    }
    for (const auto & name : methods) out.method += (out.method.empty() ? "" : "+") + name;
    return out;
}

double joules_per_token(const PhaseEnergy & e, bool measured, int64_t tokens) {
    if (tokens <= 0) return NAN;
    return (measured ? e.energy_j : e.estimated_j) / double(tokens);
}

nlohmann::json item_json(const tasks::ItemResult & it) {
    nlohmann::json j = {{"id", it.id}, {"group", it.group}, {"correct", it.correct}};
    if (it.gold >= 0) {
        j["gold"] = it.gold;
        j["predicted"] = it.predicted;
        j["predicted_norm"] = it.predicted_norm;
        j["logprobs"] = it.logprobs;
        j["n_tokens"] = it.n_tokens;
        j["n_chars"] = it.n_chars;
    } else {
        j["generated"] = it.generated;
        j["target"] = it.target;
        nlohmann::json ex = nlohmann::json::object();
        for (const auto & [k, v] : it.extracted) ex[k] = v;
        j["extracted"] = ex;
    }
    nlohmann::json scores = nlohmann::json::object();
    for (const auto & [k, v] : it.scores) scores[k] = v;
    j["scores"] = scores;
    return j;
}

}  // namespace jb::sweep
