// Candidates (a scheme on a host for one model, over the tasks it shares with the reference),
// the use-case profiles and the recommendation. Definitions and profiles: docs/metrics.md.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "joulebench/metrics.hpp"
#include "joulebench/error.hpp"

namespace jb::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool positive(double v) {
    return std::isfinite(v) && v > 0.0;
}

std::string pct(double fraction, int digits = 1) {
    return fmt::format("{:.{}f} %", fraction * 100.0, digits);
}

std::string signed_pct(double fraction) {
    return fmt::format("{:+.1f} %", fraction * 100.0);
}

std::string bytes_text(int64_t bytes) {
    const double gib = double(bytes) / double(int64_t(1) << 30);
    if (gib >= 1.0) return fmt::format("{:.3g} GiB", gib);
    return fmt::format("{:.3g} MiB", double(bytes) / double(1 << 20));
}

std::string label(const Candidate & c) {
    return fmt::format("{} on {}", c.scheme, candidate_hardware(c));
}

// The first constraint a candidate misses, or "" when it meets them all.
std::string violation(const Candidate & c, const Profile & p) {
    // A synthetic model's accuracy is chance: retention says nothing, so it is not a constraint.
    if (!c.synthetic && p.min_retention > 0.0 && !(c.retention >= p.min_retention - 1e-12)) {
        return fmt::format("retention {} < {}", pct(c.retention), pct(p.min_retention, 0));
    }
    if (p.max_memory_bytes) {
        if (c.model_bytes <= 0) return "model file size unknown";
        if (c.model_bytes > *p.max_memory_bytes) {
            return fmt::format("model file {} > {}", bytes_text(c.model_bytes), bytes_text(*p.max_memory_bytes));
        }
    }
    if (p.max_latency_s && !(c.latency_s <= *p.max_latency_s)) {
        return fmt::format("latency {:.3g} s > {:.3g} s", c.latency_s, *p.max_latency_s);
    }
    if (p.max_ttft_s) {
        if (!std::isfinite(c.ttft_s)) return "no time to first token (no generation task)";
        if (c.ttft_s > *p.max_ttft_s) return fmt::format("TTFT {:.3g} s > {:.3g} s", c.ttft_s, *p.max_ttft_s);
    }
    if (p.max_j_per_token) {
        if (!std::isfinite(c.j_per_token)) return "no J/token (no tokens counted)";
        if (c.j_per_token > *p.max_j_per_token) {
            return fmt::format("{:.3g} J/token > {:.3g} J/token", c.j_per_token, *p.max_j_per_token);
        }
    }
    return "";
}

// The objective's value, larger is better (NaN: cannot be ranked).
double merit(const Candidate & c, Objective o) {
    switch (o) {
        case Objective::max_eor:
            return c.eor;
        case Objective::min_latency:
            return positive(c.latency_s) ? -c.latency_s : kNaN;
        case Objective::min_energy:
            return positive(c.energy_wh) ? -c.energy_wh : kNaN;
    }
    return kNaN;
}

// Strict order: objective, then retention, then less energy, then names (deterministic).
bool ranks_before(const Candidate & a, const Candidate & b, Objective o) {
    const double ma = merit(a, o), mb = merit(b, o);
    if (ma != mb) return ma > mb;
    if (a.retention != b.retention) return a.retention > b.retention;
    if (a.energy_wh != b.energy_wh) return a.energy_wh < b.energy_wh;
    return std::tie(a.host_name, a.host, a.scheme, a.model) < std::tie(b.host_name, b.host, b.scheme, b.model);
}

std::string objective_phrase(const Candidate & c, Objective o) {
    switch (o) {
        case Objective::max_eor:
            if (c.is_reference)
                return fmt::format("has the highest EOR ({:.4g} %/Wh; no scheme beats the reference)", c.eor);
            return fmt::format("has the highest EOR ({:.4g} %/Wh, {} vs the reference)", c.eor, signed_pct(c.gain));
        case Objective::min_latency:
            return fmt::format("is the fastest ({:.3g} s for the workload, {:.3g} s per item)", c.latency_s,
                               c.seconds_per_item);
        case Objective::min_energy:
            if (c.is_reference)
                return fmt::format("uses the least energy ({:.4g} Wh; no scheme uses less than the reference)",
                                   c.energy_wh);
            return fmt::format("uses the least energy ({:.4g} Wh, {} less than the reference)", c.energy_wh,
                               pct(c.energy_saving));
    }
    return "";
}

std::string runner_up_phrase(const Candidate & best, const Candidate & next, Objective o) {
    switch (o) {
        case Objective::max_eor:
            return fmt::format("runner-up {} has {} lower EOR", label(next), pct(1.0 - next.eor / best.eor));
        case Objective::min_latency:
            return fmt::format("runner-up {} takes {} longer", label(next), pct(next.latency_s / best.latency_s - 1.0));
        case Objective::min_energy:
            return fmt::format("runner-up {} uses {} more energy", label(next),
                               pct(next.energy_wh / best.energy_wh - 1.0));
    }
    return "";
}

}  // namespace

std::string hardware_label(const std::string & device, const std::string & host_name) {
    if (device.empty()) return host_name;
    if (host_name.empty()) return device;
    return device + " (" + host_name + ")";
}

std::string candidate_hardware(const Candidate & c) {
    const std::string base = hardware_label(c.device, c.host_name);
    return c.projected ? base + " [projected]" : base;
}

std::string objective_name(Objective objective) {
    switch (objective) {
        case Objective::max_eor:
            return "max EOR";
        case Objective::min_latency:
            return "min latency";
        case Objective::min_energy:
            return "min energy";
    }
    return "?";
}

std::string describe_constraints(const Profile & p) {
    std::vector<std::string> parts;
    if (p.min_retention > 0.0) parts.push_back(fmt::format("retention >= {:.4g} %", p.min_retention * 100.0));
    if (p.max_memory_bytes) parts.push_back("model file <= " + bytes_text(*p.max_memory_bytes));
    if (p.max_latency_s) parts.push_back(fmt::format("latency <= {:.4g} s", *p.max_latency_s));
    if (p.max_ttft_s) parts.push_back(fmt::format("TTFT <= {:.4g} s", *p.max_ttft_s));
    if (p.max_j_per_token) parts.push_back(fmt::format("<= {:.4g} J/token", *p.max_j_per_token));
    if (parts.empty()) return "no constraint";
    std::string out;
    for (const auto & s : parts) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::vector<Candidate> candidates(const std::vector<Summary> & summaries, const std::string & reference) {
    // The reference's summaries by (host, model, task, workload).
    using Slot = std::tuple<std::string, std::string, std::string, std::string>;
    std::map<Slot, const Summary *> refs;
    std::map<std::pair<std::string, std::string>, int> ref_tasks;
    for (const Summary & s : summaries) {
        if (!is_reference(s, reference) || !s.scored) continue;
        if (refs.emplace(Slot{s.host, s.model, s.task, s.workload}, &s).second) ++ref_tasks[{s.host, s.model}];
    }

    // Each (host, model, scheme) in order of first appearance.
    using Key = std::tuple<std::string, std::string, std::string>;
    std::map<Key, size_t> index;
    std::vector<std::vector<const Summary *>> groups;
    for (const Summary & s : summaries) {
        if (!s.scored) continue;  // a synthetic workload has no accuracy to rank
        Key k{s.host, s.model, s.scheme_canonical.empty() ? s.scheme : s.scheme_canonical};
        auto [it, inserted] = index.emplace(k, groups.size());
        if (inserted) groups.emplace_back();
        groups[it->second].push_back(&s);
    }

    std::vector<Candidate> out;
    for (const auto & g : groups) {
        const Summary & first = *g.front();
        Candidate c;
        c.host = first.host;
        c.host_name = first.host_name;
        c.device = first.device;
        c.model = first.model;
        c.model_name = first.model_name;
        c.scheme = first.scheme;
        c.scheme_canonical = first.scheme_canonical;
        c.synthetic = first.synthetic;
        c.bpw = first.bpw;
        c.model_bytes = first.model_bytes;
        c.is_reference = is_reference(first, reference);

        // Pairs (task, workload) both ran, sorted so the workloads key is canonical.
        std::vector<std::pair<const Summary *, const Summary *>> pairs;
        std::vector<std::string> skipped;
        for (const Summary * s : g) {
            auto it = refs.find(Slot{s->host, s->model, s->task, s->workload});
            if (it == refs.end()) continue;
            const Summary * r = it->second;
            if (!positive(r->score.mean) || !std::isfinite(s->score.mean) || !positive(s->energy_j.mean) ||
                !positive(r->energy_j.mean)) {
                skipped.push_back(s->task);
                continue;
            }
            pairs.push_back({s, r});
        }
        if (pairs.empty()) continue;
        std::sort(pairs.begin(), pairs.end(), [](const auto & a, const auto & b) {
            return std::tie(a.first->task, a.first->workload) < std::tie(b.first->task, b.first->workload);
        });

        double retention_sum = 0, score_sum = 0, se2_sum = 0, ref_score_sum = 0;
        double energy_j = 0, ref_energy_j = 0, latency = 0, ref_latency = 0, tokens = 0, items = 0;
        double gco2e = 0, usd = 0, timed_tokens = 0, timed_s = 0;
        std::vector<double> ttfts;
        for (const auto & [s, r] : pairs) {
            c.tasks.push_back(s->task);
            c.workloads += (c.workloads.empty() ? "" : ",") + s->task + "@" + s->workload;
            retention_sum += s->score.mean / r->score.mean;
            score_sum += s->score.mean;
            ref_score_sum += r->score.mean;
            if (std::isfinite(s->score_stderr.mean)) se2_sum += s->score_stderr.mean * s->score_stderr.mean;
            energy_j += s->energy_j.mean;
            ref_energy_j += r->energy_j.mean;
            latency += s->wall_s.mean;
            ref_latency += r->wall_s.mean;
            tokens += s->prefill_tokens + s->decode_tokens;
            if (s->prefill_tokens + s->decode_tokens > 0 && positive(s->wall_s.mean)) {
                timed_tokens += s->prefill_tokens + s->decode_tokens;
                timed_s += s->wall_s.mean;
            }
            items += s->n_items;
            gco2e += s->gco2e;
            usd += s->usd;
            ttfts.push_back(s->ttft_s);
            c.estimated = c.estimated || s->estimated;
            c.projected = c.projected || s->projected;
            c.mixed_estimate = c.mixed_estimate || s->mixed_estimate || s->estimated != r->estimated;
        }
        const double n = double(pairs.size());
        c.n_tasks = int(pairs.size());
        c.n_reference_tasks = ref_tasks[{c.host, c.model}];
        c.retention = retention_sum / n;
        c.score = score_sum / n;
        c.ref_score = ref_score_sum / n;
        c.score_stderr = std::sqrt(se2_sum) / n;
        c.energy_wh = joules_to_wh(energy_j);
        c.ref_energy_wh = joules_to_wh(ref_energy_j);
        c.energy_saving = energy_saving(energy_j, ref_energy_j);
        c.eor = eor(c.score * 100.0, c.energy_wh);
        c.gain = gain(c.eor, eor(c.ref_score * 100.0, c.ref_energy_wh));
        c.latency_s = latency;
        c.ref_latency_s = ref_latency;
        c.tweor = tweor(c.score * 100.0, c.energy_wh, latency, ref_latency);
        c.ttft_s = stat_of(ttfts).mean;
        c.j_per_token = j_per_token(energy_j, tokens);
        c.tok_s = tokens_per_s(timed_tokens, timed_s);
        c.seconds_per_item = items > 0 ? latency / items : kNaN;
        c.gco2e = gco2e;
        c.usd = usd;
        if (c.n_tasks < c.n_reference_tasks) {
            c.note = fmt::format("compared on {} of the {} tasks {} ran", c.n_tasks, c.n_reference_tasks, reference);
        }
        if (!skipped.empty()) {
            std::string names;
            for (const auto & t : skipped) names += (names.empty() ? "" : ", ") + t;
            c.note += fmt::format("{}left out (no score or energy to compare): {}", c.note.empty() ? "" : "; ", names);
        }
        if (c.mixed_estimate) {
            c.note += std::string(c.note.empty() ? "" : "; ") + "compares an estimated energy with a measured one";
        }
        out.push_back(std::move(c));
    }

    // Pareto frontier of (score, energy) per host, model and compared workloads; projected
    // candidates form their own frontier, never mixed with measured ones.
    std::map<std::tuple<std::string, std::string, std::string, bool>, std::vector<size_t>> fronts;
    for (size_t i = 0; i < out.size(); ++i) {
        fronts[{out[i].host, out[i].model, out[i].workloads, out[i].projected}].push_back(i);
    }
    for (const auto & [key, members] : fronts) {
        std::vector<ParetoPoint> points;
        for (size_t i : members) points.push_back({out[i].score, out[i].energy_wh});
        for (size_t k : pareto_frontier(points)) out[members[k]].pareto = true;
    }
    return out;
}

std::vector<Profile> builtin_profiles() {
    std::vector<Profile> p(5);
    p[0].name = "datacenter";
    p[0].description = "maximise EOR at >= 98 % accuracy retention";
    p[0].min_retention = 0.98;
    p[0].objective = Objective::max_eor;

    p[1].name = "enterprise";
    p[1].description = "maximise EOR at >= 99 % accuracy retention";
    p[1].min_retention = 0.99;
    p[1].objective = Objective::max_eor;

    p[2].name = "research";
    p[2].description = "lowest latency at >= 97 % accuracy retention";
    p[2].min_retention = 0.97;
    p[2].objective = Objective::min_latency;

    p[3].name = "edge";
    p[3].description = "maximise EOR with the model file within the memory cap, >= 95 % retention";
    p[3].min_retention = 0.95;
    p[3].max_memory_bytes = kEdgeMemoryBytes;
    p[3].objective = Objective::max_eor;

    p[4].name = "budget";
    p[4].description = "lowest energy at >= 94 % accuracy retention";
    p[4].min_retention = 0.94;
    p[4].objective = Objective::min_energy;
    return p;
}

Profile find_profile(const std::string & name) {
    std::string names;
    for (const Profile & p : builtin_profiles()) {
        if (p.name == name) return p;
        names += p.name + ", ";
    }
    if (name == "custom") {
        Profile p;
        p.name = "custom";
        p.description = "maximise EOR within the constraints given";
        return p;
    }
    throw UsageError(fmt::format("unknown profile '{}' (expected {}custom or all)", name, names));
}

Recommendation recommend(const std::vector<Candidate> & all, const Profile & profile) {
    Recommendation rec;
    rec.profile = profile;
    if (all.empty()) {
        rec.why =
            "No candidate: no scheme has scored cells of its own and of the reference's on a host and model "
            "(recommendations rank accuracy per energy, so they need scored tasks).";
        return rec;
    }

    // Rank only candidates of one set of workloads: the largest group (then the most tasks).
    std::map<std::string, std::vector<const Candidate *>> by_workloads;
    for (const Candidate & c : all) by_workloads[c.workloads].push_back(&c);
    const std::vector<const Candidate *> * group = nullptr;
    for (const auto & [key, members] : by_workloads) {
        if (!group || members.size() > group->size() ||
            (members.size() == group->size() && members.front()->n_tasks > group->front()->n_tasks)) {
            group = &members;
        }
    }
    for (const auto & [key, members] : by_workloads) {
        if (&members == group) continue;
        std::string names;
        for (const Candidate * c : members) names += (names.empty() ? "" : ", ") + label(*c);
        rec.notes.push_back(
            fmt::format("not compared (other tasks or workloads than the ranked candidates): {}", names));
    }
    rec.n_compared = int(group->size());

    std::vector<const Candidate *> feasible;
    const Candidate * closest = nullptr;  // for the message when nothing qualifies
    std::string closest_reason;
    for (const Candidate * c : *group) {
        const std::string why_not = violation(*c, profile);
        if (why_not.empty() && std::isfinite(merit(*c, profile.objective))) {
            feasible.push_back(c);
        } else if (!closest || c->retention > closest->retention) {
            closest = c;
            closest_reason = why_not.empty() ? "its objective cannot be computed" : why_not;
        }
    }
    rec.n_feasible = int(feasible.size());
    std::sort(feasible.begin(), feasible.end(),
              [&](const Candidate * a, const Candidate * b) { return ranks_before(*a, *b, profile.objective); });

    const std::string constraints = describe_constraints(profile);
    if (feasible.empty()) {
        rec.why = fmt::format("No candidate meets {}; {} comes closest ({}).", constraints,
                              closest ? label(*closest) : std::string("none"), closest_reason);
    } else {
        rec.best = *feasible[0];
        rec.projected = rec.best->projected;
        if (feasible.size() > 1) rec.runner_up = *feasible[1];
        rec.why =
            fmt::format("{} {} of the {} of {} candidates that meet {}", label(*rec.best),
                        objective_phrase(*rec.best, profile.objective), feasible.size(), group->size(), constraints);
        if (rec.runner_up) {
            rec.why += "; " + runner_up_phrase(*rec.best, *rec.runner_up, profile.objective);
        }
        rec.why += ".";
        if (rec.projected) {
            rec.why +=
                " This recommendation is PROJECTED from another GPU's measurements, not measured on that hardware.";
        }
    }

    // What the reader must know before trusting the numbers.
    std::set<std::string> synthetic_models;
    bool any_estimated = false, any_measured = false, any_mixed = false, any_projected = false, any_real = false;
    for (const Candidate * c : *group) {
        (c->projected ? any_projected : any_real) = true;
        if (c->synthetic) synthetic_models.insert(c->model_name.empty() ? c->model : c->model_name);
        (c->estimated ? any_estimated : any_measured) = true;
        any_mixed = any_mixed || c->mixed_estimate;
    }
    for (const auto & m : synthetic_models) {
        rec.notes.push_back(
            fmt::format("{} is synthetic (random weights): accuracy is chance, retention is "
                        "meaningless and was not used as a constraint",
                        m));
    }
    if (any_estimated && any_measured) {
        rec.notes.push_back(
            "some candidates' energies are estimated and others measured: the ranking compares "
            "estimates with measurements");
    }
    if (any_mixed) {
        rec.notes.push_back("some ratios to the reference compare an estimated energy with a measured one");
    }
    if (any_projected && any_real) {
        rec.notes.push_back(
            "the ranking compares projected candidates (marked [projected]: modelled from another GPU's "
            "measurements) with measured ones");
    } else if (any_projected) {
        rec.notes.push_back("every ranked candidate is projected from another GPU's measurements, none measured");
    }
    return rec;
}

}  // namespace jb::metrics
