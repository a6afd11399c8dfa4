// Candidates (a scheme on a host for one model, over the tasks it shares with the reference),
// the use-case profiles and the recommendation. Definitions and profiles: docs/metrics.md.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "joulebench/metrics.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool positive(double v) {
    return std::isfinite(v) && v > 0.0;
}

std::string pct(double fraction, int digits = 1) {
    return fmt::format("{:.{}f} %", fraction * 100.0, digits);
}

// A fraction in percent as printed with one decimal: never "-0.0" for a value that rounds to 0.
double printed_pct(double fraction) {
    const double v = fraction * 100.0;
    return std::abs(v) < 0.05 ? 0.0 : v;
}

std::string signed_pct(double fraction) {
    return fmt::format("{:+.1f} %", printed_pct(fraction));
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
    if (!c.synthetic && p.min_retention > 0.0) {
        if (!std::isfinite(c.retention)) return "retention undefined: the reference scored 0 on every compared task";
        if (!(c.retention >= p.min_retention - 1e-12)) {
            return fmt::format("retention {} < {}", pct(c.retention), pct(p.min_retention, 0));
        }
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
    if (std::isfinite(a.retention) && std::isfinite(b.retention) && a.retention != b.retention)
        return a.retention > b.retention;
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

namespace {

std::string scheme_key(const Summary & s) {
    return s.scheme_canonical.empty() ? s.scheme : s.scheme_canonical;
}

std::string join_names(const std::vector<std::string> & names) {
    std::string out;
    for (const auto & n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// (host, model, task, workload): where a scheme meets its reference.
using Slot = std::tuple<std::string, std::string, std::string, std::string>;

// The variant of each scored (host, model, task, workload): 0 for the workload of that task that
// the most schemes ran (then the most items, then the fingerprint), 1 for the next, ... so that
// a task run with several workloads is never summed twice into one candidate.
std::map<Slot, int> workload_variants(const std::vector<Summary> & summaries) {
    using TaskSlot = std::tuple<std::string, std::string, std::string>;
    struct Use {
        std::set<std::string> schemes;
        double items = 0.0;
    };
    std::map<TaskSlot, std::map<std::string, Use>> by_task;
    for (const Summary & s : summaries) {
        if (!s.scored) continue;
        Use & u = by_task[{s.host, s.model, s.task}][s.workload];
        u.schemes.insert(scheme_key(s));
        u.items = std::max(u.items, s.n_items);
    }
    std::map<Slot, int> out;
    for (const auto & [task, uses] : by_task) {
        std::vector<std::pair<std::string, const Use *>> order;
        for (const auto & [workload, use] : uses) order.emplace_back(workload, &use);
        std::stable_sort(order.begin(), order.end(), [](const auto & a, const auto & b) {
            if (a.second->schemes.size() != b.second->schemes.size())
                return a.second->schemes.size() > b.second->schemes.size();
            return a.second->items > b.second->items;
        });
        for (size_t k = 0; k < order.size(); ++k) {
            out[{std::get<0>(task), std::get<1>(task), std::get<2>(task), order[k].first}] = int(k);
        }
    }
    return out;
}

std::shared_ptr<const std::vector<ItemScore>> shared_items(const Summary & s) {
    if (s.items.empty()) return nullptr;
    return std::make_shared<const std::vector<ItemScore>>(s.items);
}

}  // namespace

std::vector<Candidate> candidates(const std::vector<Summary> & summaries, const std::string & reference) {
    const std::map<Slot, int> variant_of = workload_variants(summaries);
    auto variant = [&](const Summary & s) {
        auto it = variant_of.find(Slot{s.host, s.model, s.task, s.workload});
        return it == variant_of.end() ? 0 : it->second;
    };

    // The reference's scored summaries by (host, model, task, workload), and how many (task,
    // workload) pairs it ran per host, model and variant.
    std::map<Slot, const Summary *> refs;
    std::map<std::tuple<std::string, std::string, int>, std::vector<std::string>> ref_tasks;
    for (const Summary & s : summaries) {
        if (!is_reference(s, reference) || !s.scored) continue;
        if (refs.emplace(Slot{s.host, s.model, s.task, s.workload}, &s).second) {
            ref_tasks[{s.host, s.model, variant(s)}].push_back(s.task_label.empty() ? s.task : s.task_label);
        }
    }

    // Each (host, model, scheme, variant) in order of first appearance.
    using Key = std::tuple<std::string, std::string, std::string, int>;
    std::map<Key, size_t> index;
    std::vector<std::vector<const Summary *>> groups;
    std::vector<int> group_variant;
    for (const Summary & s : summaries) {
        if (!s.scored) continue;  // a synthetic workload has no accuracy to rank
        Key k{s.host, s.model, scheme_key(s), variant(s)};
        auto [it, inserted] = index.emplace(k, groups.size());
        if (inserted) {
            groups.emplace_back();
            group_variant.push_back(std::get<3>(k));
        }
        groups[it->second].push_back(&s);
    }

    std::vector<Candidate> out;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const auto & g = groups[gi];
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
        c.variant = group_variant[gi];

        // Every (task, workload) both ran, the reference's score of 0 included: only a missing
        // energy keeps a shared task out (and is named). Sorted so the workloads key is canonical.
        std::vector<std::pair<const Summary *, const Summary *>> pairs;
        std::vector<std::string> skipped;
        for (const Summary * s : g) {
            auto it = refs.find(Slot{s->host, s->model, s->task, s->workload});
            if (it == refs.end()) continue;
            const Summary * r = it->second;
            if (!std::isfinite(s->score.mean) || !positive(s->energy_j.mean) || !positive(r->energy_j.mean)) {
                skipped.push_back(s->task_label);
                continue;
            }
            pairs.push_back({s, r});
        }
        if (pairs.empty()) continue;
        std::sort(pairs.begin(), pairs.end(), [](const auto & a, const auto & b) {
            return std::tie(a.first->task, a.first->workload) < std::tie(b.first->task, b.first->workload);
        });

        double score_sum = 0, se2_sum = 0, ref_score_sum = 0;
        double energy_j = 0, ref_energy_j = 0, latency = 0, ref_latency = 0, tokens = 0, items = 0;
        double gco2e = 0, usd = 0, timed_tokens = 0, timed_s = 0;
        std::vector<double> ttfts;
        std::set<std::string> compared;
        for (const auto & [s, r] : pairs) {
            c.tasks.push_back(s->task_label);
            compared.insert(s->task_label);
            c.workloads += (c.workloads.empty() ? "" : ",") + s->task + "@" + s->workload;
            score_sum += s->score.mean;
            ref_score_sum += r->score.mean;
            if (!positive(r->score.mean)) c.zero_reference_tasks.push_back(s->task_label);
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
            c.short_windows = c.short_windows || s->short_window;
            if (std::isfinite(s->chance) && s->score.mean <= s->chance + 1e-9) {
                c.chance_tasks.push_back(fmt::format("{} {:.1f} % (chance {:.1f} %)", s->task_label,
                                                     s->score.mean * 100.0, s->chance * 100.0));
            }

            CandidateTask part;
            part.task = s->task;
            part.workload = s->workload;
            part.label = s->task_label;
            part.score = s->score.mean;
            part.score_stderr = std::isfinite(s->score_stderr.mean) ? s->score_stderr.mean : 0.0;
            part.ref_score = r->score.mean;
            part.ref_score_stderr = std::isfinite(r->score_stderr.mean) ? r->score_stderr.mean : 0.0;
            part.energy_j = s->energy_j.mean;
            part.energy_rel_se = s->energy_rel_se;
            part.energy_se_measured = s->energy_se_measured;
            part.ref_energy_j = r->energy_j.mean;
            part.ref_energy_rel_se = r->energy_rel_se;
            part.wall_s = s->wall_s.mean;
            part.wall_se_s = s->wall_se_s;
            part.repeats = std::max(s->energy_j.n, 1);
            part.n_items = int(std::llround(s->n_items));
            part.short_window = s->short_window;
            part.chance = s->chance;
            part.items = shared_items(*s);
            part.ref_items = shared_items(*r);
            c.parts.push_back(std::move(part));
        }
        const double n = double(pairs.size());
        c.n_tasks = int(pairs.size());
        const auto & reference_ran = ref_tasks[{c.host, c.model, c.variant}];
        c.n_reference_tasks = int(reference_ran.size());
        // One retention for the whole workload: the ratio of mean scores (docs/metrics.md).
        c.retention = ref_score_sum > 0 ? score_sum / ref_score_sum : kNaN;
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
        if (c.partial()) {
            std::vector<std::string> missing;
            for (const auto & t : reference_ran) {
                if (!compared.count(t)) missing.push_back(t);
            }
            c.note = fmt::format("compared on {} of the {} tasks {} ran (missing: {})", c.n_tasks, c.n_reference_tasks,
                                 reference, join_names(missing));
        }
        if (!skipped.empty()) {
            c.note += fmt::format("{}left out (no energy to compare): {}", c.note.empty() ? "" : "; ",
                                  join_names(skipped));
        }
        if (c.variant > 0) {
            c.note += fmt::format("{}another workload of {} than the main comparison's: ranked apart",
                                  c.note.empty() ? "" : "; ", join_names(c.tasks));
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
    std::vector<std::string> all = {"custom", "all"};
    for (const Profile & p : builtin_profiles()) all.push_back(p.name);
    const std::string near = closest_name(name, all);
    throw UsageError(fmt::format("unknown profile '{}'{} (expected {}custom or all)", name,
                                 near.empty() ? "" : "; did you mean " + near + "?", names));
}

namespace {

std::string signed_points(double fraction) {
    return fmt::format("{:+.1f}", printed_pct(fraction));
}

// "fp16's lead over int8 on EOR: -12.6 % (95 % interval -40.1 % ... +25.0 %)": the lead as the
// decision matrix's column has it (docs/metrics.md, Noise), positive when `a` is better.
std::string margin_phrase(const std::string & a, const std::string & b, const Margin & m, Objective o) {
    const char * what = o == Objective::max_eor ? "EOR" : o == Objective::min_energy ? "energy" : "latency";
    return fmt::format("{}'s lead over {} on {}: {} (95 % interval {} \u2026 {})", a, b, what,
                       signed_pct(m.value), signed_pct(m.lo), signed_pct(m.hi));
}

// "accuracy -2.5 points (95 % interval -7.5 ... +0.0), paired bootstrap over 60 items, 1 answered differently"
std::string accuracy_phrase(const Margin & m) {
    std::string s = fmt::format("accuracy {} points (95 % interval {} \u2026 {}), {}", signed_points(m.score_diff),
                                signed_points(m.score_lo), signed_points(m.score_hi), m.accuracy_method);
    if (m.items_paired > 0) {
        const long long differ = std::llround(m.items_differ);
        s += fmt::format(", {} answered differently", differ);  // right in one, wrong in the other
    }
    return s;
}

int max_repeats(const Candidate & c) {
    int n = 1;
    for (const auto & t : c.parts) n = std::max(n, t.repeats);
    return n;
}

double mean_items(const Candidate & c) {
    if (c.parts.empty()) return 0.0;
    double n = 0;
    for (const auto & t : c.parts) n += t.n_items;
    return n / double(c.parts.size());
}

// Roughly what it would take to separate two candidates inside each other's noise.
std::string separation_phrase(const Candidate & a, const Margin & m) {
    if (m.distinguishable) return "";  // apart on the objective: the tie is a constraint's
    if (m.value == 0.0) return "They measure the same: more items or repeats would not separate them.";
    std::vector<std::string> ways;
    if (std::isfinite(m.items_factor) && m.items_factor > 0) {
        const double per_task = mean_items(a) * m.items_factor;
        ways.push_back(fmt::format("about {:.0f}x the items (~{:.0f} per task instead of {:.0f})",
                                   std::ceil(m.items_factor), std::ceil(per_task), mean_items(a)));
    }
    if (std::isfinite(m.repeats_factor) && m.repeats_factor > 0) {
        const int now = max_repeats(a);
        ways.push_back(fmt::format("about {:.0f} repeats instead of {}", std::ceil(m.repeats_factor * now), now));
    }
    if (ways.empty()) return "Neither more items alone nor more repeats alone would separate them; both would.";
    std::string out = ways[0];
    if (ways.size() > 1) out += " or " + ways[1];
    return "To separate them: " + out + ".";
}

// "EOR 37.55 %/Wh", "0.579 Wh", "261 s": the candidate's value on the objective.
std::string value_phrase(const Candidate & c, Objective o) {
    switch (o) {
        case Objective::max_eor:
            return fmt::format("EOR {:.4g} %/Wh", c.eor);
        case Objective::min_energy:
            return fmt::format("{:.4g} Wh", c.energy_wh);
        case Objective::min_latency:
            return fmt::format("{:.3g} s", c.latency_s);
    }
    return "";
}

// How many times the items would tell whether a candidate meets a retention floor: its interval's
// half-width shrinks as 1 / sqrt(items) until it no longer reaches the floor.
std::string threshold_phrase(const Candidate & c, const std::string & name, std::pair<double, double> range,
                             double floor) {
    const double half = (range.second - range.first) / 2.0;
    const double gap = std::abs(c.retention - floor);
    if (!(half > 0) || !(gap > 0)) return "";
    const double k = (half / gap) * (half / gap);
    return fmt::format("About {:.0f}x the items would tell whether {} meets retention >= {} ({} now, 95 % interval "
                       "{} \u2026 {}).",
                       std::ceil(k), name, pct(floor, 0), pct(c.retention), pct(range.first), pct(range.second));
}

// Simpler first: the reference (nothing quantized), then more bits per weight.
bool simpler(const Candidate & a, const Candidate & b) {
    if (a.is_reference != b.is_reference) return a.is_reference;
    const double ba = a.bpw > 0 ? a.bpw : 0.0, bb = b.bpw > 0 ? b.bpw : 0.0;
    return ba > bb;
}

std::string simplicity_reason(const Candidate & best, const Candidate & other, const std::string & name) {
    if (best.is_reference) return fmt::format("{} is the reference (nothing quantized)", name);
    if (best.bpw > 0 && other.bpw > 0 && best.bpw != other.bpw) {
        return fmt::format("{} keeps more bits per weight ({:.3g} vs {:.3g})", name, best.bpw, other.bpw);
    }
    return fmt::format("{} ranks first on the point estimate", name);
}

}  // namespace

Recommendation recommend(const std::vector<Candidate> & all, const Profile & profile) {
    Recommendation rec;
    rec.profile = profile;
    if (all.empty()) {
        rec.why =
            "No candidate: no scheme has scored cells of its own and of the reference's on a host and model "
            "(recommendations rank accuracy per energy, so they need scored tasks).";
        return rec;
    }

    // Rank only candidates of one set of workloads: the largest group (then the most tasks, then
    // the tasks' most common workloads).
    std::map<std::string, std::vector<const Candidate *>> by_workloads;
    for (const Candidate & c : all) by_workloads[c.workloads].push_back(&c);
    const std::vector<const Candidate *> * group = nullptr;
    for (const auto & [key, members] : by_workloads) {
        if (!group || members.size() > group->size() ||
            (members.size() == group->size() &&
             std::make_tuple(-members.front()->n_tasks, members.front()->variant) <
                 std::make_tuple(-group->front()->n_tasks, group->front()->variant))) {
            group = &members;
        }
    }
    for (const auto & [key, members] : by_workloads) {
        if (&members == group) continue;
        std::string names;
        for (const Candidate * c : members) names += (names.empty() ? "" : ", ") + label(*c);
        rec.notes.push_back(fmt::format("not compared (other tasks or workloads than the ranked candidates: {}): {}",
                                        join_names(members.front()->tasks), names));
    }
    rec.n_compared = int(group->size());
    const Candidate * reference = nullptr;
    for (const Candidate * c : *group) {
        if (c->is_reference) reference = c;
    }
    const std::string ref_name = reference ? reference->scheme : std::string("the reference");
    // Schemes by name when the group is one host's, else with their hardware.
    const bool one_host = std::all_of(group->begin(), group->end(),
                                      [&](const Candidate * c) { return c->host == group->front()->host; });
    auto name = [&](const Candidate & c) { return one_host ? c.scheme : label(c); };

    std::vector<const Candidate *> feasible;
    const Candidate * closest = nullptr;  // for the message when nothing qualifies
    std::string closest_reason;
    bool all_undefined = true;  // every candidate's retention is undefined (the reference scored 0 everywhere)
    for (const Candidate * c : *group) {
        all_undefined = all_undefined && !std::isfinite(c->retention) && !c->synthetic;
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

    // Candidates kept out by the retention floor alone whose 95 % interval reaches it.
    std::vector<std::pair<const Candidate *, std::pair<double, double>>> borderline;
    if (profile.min_retention > 0.0) {
        Profile without = profile;
        without.min_retention = 0.0;
        for (const Candidate * c : *group) {
            if (c->synthetic || !std::isfinite(c->retention) || c->retention >= profile.min_retention - 1e-12) continue;
            if (!violation(*c, without).empty() || !std::isfinite(merit(*c, profile.objective))) continue;
            const auto range = retention_interval(*c);
            if (std::isfinite(range.second) && range.second >= profile.min_retention) borderline.push_back({c, range});
        }
    }

    const std::string constraints = describe_constraints(profile);
    if (feasible.empty() && all_undefined && profile.min_retention > 0.0) {
        rec.why = fmt::format(
            "No recommendation: the reference {} scored 0 on every task it ran here ({}), so accuracy retention is "
            "undefined and no scheme can be held to {}. Quantization cannot be judged on a model that gets nothing "
            "right: use tasks or a model on which {} scores above 0 (and above chance).",
            ref_name, reference ? join_names(reference->tasks) : std::string("?"), constraints, ref_name);
    } else if (feasible.empty()) {
        rec.why = fmt::format("No candidate meets {}; {} comes closest ({}).", constraints,
                              closest ? label(*closest) : std::string("none"), closest_reason);
    } else {
        // Everything inside the leader's noise ties with it: feasible candidates whose lead is not
        // distinguishable, and candidates that miss the retention floor by less than their noise and
        // are not distinguishably worse on the objective (the leader's win would rest on noise).
        const Candidate * leader = feasible[0];
        std::vector<const Candidate *> tied = {leader};
        for (size_t i = 1; i < feasible.size(); ++i) {
            if (!compare(*leader, *feasible[i], profile.objective).distinguishable) tied.push_back(feasible[i]);
        }
        for (const auto & [c, range] : borderline) {
            const Margin m = compare(*c, *leader, profile.objective);
            if (!m.distinguishable || m.value > 0) tied.push_back(c);
        }
        auto is_borderline = [&](const Candidate * c) {
            return std::any_of(borderline.begin(), borderline.end(), [&](const auto & b) { return b.first == c; });
        };
        const Candidate * best = leader;
        const Candidate * runner = feasible.size() > 1 ? feasible[1] : nullptr;
        std::string tie_break;
        if (tied.size() > 1) {
            // 0. meets the constraints on its point estimate; 1. less energy beyond noise; 2. the
            // simpler scheme; 3. the objective's order.
            auto beaten_on_energy = [&](const Candidate * x) {
                for (const Candidate * y : tied) {
                    if (y == x) continue;
                    const Margin e = compare(*y, *x, Objective::min_energy, /*with_accuracy=*/false);
                    if (e.distinguishable && e.value > 0) return true;
                }
                return false;
            };
            const std::vector<const Candidate *> order = tied;
            std::vector<bool> beaten, outside;
            for (const Candidate * c : order) {
                beaten.push_back(beaten_on_energy(c));
                outside.push_back(is_borderline(c));
            }
            std::vector<size_t> idx(order.size());
            for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
            std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
                if (outside[x] != outside[y]) return !outside[x];
                if (beaten[x] != beaten[y]) return !beaten[x];
                if (beaten[x]) return false;  // both beaten: keep the objective's order
                if (simpler(*order[x], *order[y]) != simpler(*order[y], *order[x])) {
                    return simpler(*order[x], *order[y]);
                }
                return false;
            });
            tied.clear();
            for (size_t i : idx) tied.push_back(order[i]);
            best = tied[0];
            runner = tied[1];
            const size_t b = idx[0], r = idx[1];
            if (!outside[b] && outside[r]) {
                tie_break = fmt::format("{} meets {} on its point estimate", name(*best), constraints);
            } else if (!beaten[b] && beaten[r]) {
                tie_break = fmt::format("{} uses less energy than {} beyond noise", name(*best), name(*runner));
            } else {
                tie_break = fmt::format("energies within noise, so the simpler scheme: {}",
                                        simplicity_reason(*best, *runner, name(*best)));
            }
            rec.tie = true;
            for (const Candidate * c : tied) rec.tied.push_back(name(*c));
        }
        rec.best = *best;
        rec.projected = best->projected;
        if (runner) {
            rec.runner_up = *runner;
            rec.margin = compare(*best, *runner, profile.objective);
        }
        if (rec.tie) {
            const Margin & m = *rec.margin;
            std::vector<std::string> outside_names;
            for (const Candidate * c : tied) {
                if (is_borderline(c)) outside_names.push_back(name(*c));
            }
            std::string count = fmt::format("{} of {} candidates meet {}", feasible.size(), group->size(), constraints);
            if (!outside_names.empty()) {
                count += fmt::format("; {} {} it by less than {} noise", join_names(outside_names),
                                     outside_names.size() == 1 ? "misses" : "miss",
                                     outside_names.size() == 1 ? "its" : "their");
            }
            std::string separate = separation_phrase(*best, m);
            if (is_borderline(runner)) {
                const auto range = std::find_if(borderline.begin(), borderline.end(),
                                                [&](const auto & x) { return x.first == runner; })->second;
                separate += (separate.empty() ? "" : " ") +
                            threshold_phrase(*runner, name(*runner), range, profile.min_retention);
            }
            rec.why = fmt::format("Tie within noise: {} ({}). {}; {}. Tie-break: {}, so {} ({}). {}",
                                  join_names(rec.tied), count,
                                  margin_phrase(name(*best), name(*runner), m, profile.objective),
                                  accuracy_phrase(m), tie_break, label(*best), value_phrase(*best, profile.objective),
                                  separate);
        } else {
            rec.why = fmt::format("{} {} of the {} of {} candidates that meet {}", label(*best),
                                  objective_phrase(*best, profile.objective), feasible.size(), group->size(),
                                  constraints);
            if (rec.runner_up) {
                const Margin & m = *rec.margin;
                rec.why += "; " + runner_up_phrase(*best, *rec.runner_up, profile.objective);
                if (m.noise_known) {
                    rec.why += fmt::format(", beyond noise (lead {}, 95 % interval {} \u2026 {})", signed_pct(m.value),
                                           signed_pct(m.lo), signed_pct(m.hi));
                }
            }
            rec.why += ".";
        }
        if (rec.projected) {
            rec.why +=
                " This recommendation is PROJECTED from another GPU's measurements, not measured on that hardware.";
        }
        // A retention constraint met on a point estimate whose interval reaches below it.
        if (profile.min_retention > 0.0 && !best->synthetic && !best->is_reference) {
            const auto [lo, hi] = retention_interval(*best);
            if (std::isfinite(lo) && lo < profile.min_retention) {
                rec.notes.push_back(fmt::format("{}'s retention {} meets >= {}, but its 95 % interval ({} \u2026 {}) "
                                                "reaches below it",
                                                name(*best), pct(best->retention), pct(profile.min_retention, 0),
                                                pct(lo), std::isfinite(hi) ? pct(hi) : std::string("unbounded")));
            }
        }
        for (const auto & [c, range] : borderline) {
            if (std::find(tied.begin(), tied.end(), c) != tied.end()) continue;
            rec.notes.push_back(fmt::format("{} misses retention >= {} ({}) by less than its noise (95 % interval {} "
                                            "\u2026 {}), but is worse on {} beyond noise either way",
                                            name(*c), pct(profile.min_retention, 0), pct(c->retention),
                                            pct(range.first), pct(range.second), objective_name(profile.objective)));
        }
    }
    if (feasible.empty()) {
        for (const auto & [c, range] : borderline) {
            rec.notes.push_back(fmt::format("{} misses retention >= {} ({}) by less than its noise (95 % interval {} "
                                            "\u2026 {})",
                                            name(*c), pct(profile.min_retention, 0), pct(c->retention),
                                            pct(range.first), pct(range.second)));
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
    if (reference && !reference->zero_reference_tasks.empty() && !all_undefined) {
        rec.notes.push_back(fmt::format(
            "{} scored 0 on {}: retention is undefined on {} alone, so {} count through the ratio of mean scores "
            "(a scheme's score there adds to its own, the reference's 0 adds nothing) and {} energy counts in full",
            ref_name, join_names(reference->zero_reference_tasks),
            reference->zero_reference_tasks.size() == 1 ? "that task" : "those tasks",
            reference->zero_reference_tasks.size() == 1 ? "it" : "they",
            reference->zero_reference_tasks.size() == 1 ? "its" : "their"));
    }
    // Scores at or below chance, per task: accuracy there is guessing, not a signal of the scheme.
    if (synthetic_models.empty()) {
        std::vector<std::string> task_order;
        std::map<std::string, std::pair<double, std::vector<std::string>>> at_chance;  // label -> (chance, "int8 10.0 %")
        for (const Candidate * c : *group) {
            for (const auto & t : c->parts) {
                if (!std::isfinite(t.chance) || t.score > t.chance + 1e-9) continue;
                auto [it, inserted] = at_chance.try_emplace(t.label, t.chance, std::vector<std::string>{});
                if (inserted) task_order.push_back(t.label);
                it->second.second.push_back(fmt::format("{} {}", c->scheme, pct(t.score)));
            }
        }
        if (!task_order.empty()) {
            std::string list;
            for (const auto & label_ : task_order) {
                const auto & [chance, who] = at_chance[label_];
                list += fmt::format("{}{} (chance {}): {}", list.empty() ? "" : "; ", label_, pct(chance),
                                    join_names(who));
            }
            rec.notes.push_back(fmt::format(
                "at or below chance (1 / choices; 0 for generation), so accuracy there is guessing, not a signal of "
                "the scheme: {}",
                list));
        }
    }
    // Energies from windows too short to trust, and repeats that disagree.
    {
        std::vector<std::string> short_tasks, spread;
        std::set<std::string> seen;
        for (const Candidate * c : *group) {
            for (const auto & t : c->parts) {
                if (t.short_window && !t.energy_se_measured && seen.insert(t.label).second) {
                    short_tasks.push_back(fmt::format("{} {:.2g} s", t.label, t.wall_s));
                }
                if (t.energy_se_measured && t.energy_rel_se * std::sqrt(double(t.repeats)) > 0.10) {
                    spread.push_back(fmt::format("{} on {} ({:.0f} % between repeats)", c->scheme, t.label,
                                                 t.energy_rel_se * std::sqrt(double(t.repeats)) * 100.0));
                }
            }
        }
        if (!short_tasks.empty()) {
            rec.notes.push_back(fmt::format(
                "energies from windows under {:g} s, too short to trust alone (one repeat: about +-{:g} s / T each, "
                "docs/energy.md; the intervals include it): {}; repeat (sweep --repeat 3) or use more items",
                kShortWindowS, kWindowResolutionS, join_names(short_tasks)));
        }
        if (!spread.empty()) {
            rec.notes.push_back(fmt::format("energies that vary by more than 10 % between repeats: {}",
                                            join_names(spread)));
        }
    }
    if (profile.objective == Objective::min_latency) {
        bool single = false;
        for (const Candidate * c : *group) single = single || max_repeats(*c) < 2;
        if (single) {
            rec.notes.push_back(
                "latency from one repeat: its run-to-run spread is unknown and not in the interval (sweep --repeat 3)");
        }
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
