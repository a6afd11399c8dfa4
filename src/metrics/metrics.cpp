// Formulas, statistics over repeats and the per-cell summaries with their ratios to the
// reference scheme. Definitions: docs/metrics.md.

#include "joulebench/metrics.hpp"
#include "metrics/confidence.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "joulebench/error.hpp"

namespace jb::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kJoulesPerWh = 3600.0;
constexpr double kJoulesPerKwh = 3.6e6;

bool positive(double v) {
    return std::isfinite(v) && v > 0.0;
}

// A ratio a / b, NaN unless both are finite and b is positive.
double ratio(double a, double b) {
    return std::isfinite(a) && positive(b) ? a / b : kNaN;
}

std::string short_fp(const std::string & fp) {
    return fp.size() > 12 ? fp.substr(0, 12) : fp;
}

std::string display(const std::string & name, const std::string & id) {
    return name.empty() ? short_fp(id) : name;
}

// (host, model, task, workload): where a scheme meets its reference.
using CellSlot = std::tuple<std::string, std::string, std::string, std::string>;

CellSlot slot_of(const Summary & s) {
    return {s.host, s.model, s.task, s.workload};
}

std::string scheme_key(const Row & r) {
    return r.scheme_canonical.empty() ? r.scheme : r.scheme_canonical;
}

// The reference's summary for each slot (the first one when two canonicals share the name).
std::map<CellSlot, const Summary *> reference_index(const std::vector<Summary> & all, const std::string & reference) {
    std::map<CellSlot, const Summary *> index;
    for (const Summary & s : all) {
        if (is_reference(s, reference)) index.emplace(slot_of(s), &s);
    }
    return index;
}

// Why a summary has no reference: none on the host and model at all, or none with its workload.
std::string missing_reference_note(const std::vector<Summary> & all, const Summary & s, const std::string & reference) {
    bool any_on_model = false, other_workload = false;
    for (const Summary & r : all) {
        if (!is_reference(r, reference) || r.host != s.host || r.model != s.model) continue;
        any_on_model = true;
        if (r.task == s.task && r.workload != s.workload) other_workload = true;
    }
    if (!any_on_model) {
        return fmt::format("no {} cell for host {}, model {}: ratios need the reference", reference,
                           display(s.host_name, s.host), display(s.model_name, s.model));
    }
    if (other_workload) {
        return fmt::format(
            "{} ran task {} with a different workload (not {}): rows of different workloads are "
            "never compared",
            reference, s.task, short_fp(s.workload));
    }
    return fmt::format("no {} cell for task {} (workload {}) on host {}, model {}", reference, s.task,
                       short_fp(s.workload), display(s.host_name, s.host), display(s.model_name, s.model));
}

std::string mix_note(bool estimated, const std::string & reference) {
    return estimated ? fmt::format(
                           "energy is estimated, {}'s is measured: the ratios compare an estimate with a "
                           "measurement",
                           reference)
                     : fmt::format(
                           "energy is measured, {}'s is estimated: the ratios compare a measurement with an "
                           "estimate",
                           reference);
}

void append_note(std::string & note, const std::string & more) {
    if (more.empty()) return;
    if (!note.empty()) note += "; ";
    note += more;
}

// A task that one host and model ran with several workloads (other items, shots or settings):
// each summary's label says which, "arc_easy (40 items)", with the workload's short fingerprint
// when the item counts alone do not tell them apart.
void label_workloads(std::vector<Summary> & all) {
    using TaskSlot = std::tuple<std::string, std::string, std::string>;
    std::map<TaskSlot, std::map<std::string, std::set<long long>>> workloads;  // workload -> item counts
    for (const Summary & s : all) workloads[{s.host, s.model, s.task}][s.workload].insert(std::llround(s.n_items));
    for (Summary & s : all) {
        const auto & w = workloads[{s.host, s.model, s.task}];
        if (w.size() < 2) continue;
        const long long items = std::llround(s.n_items);
        int same_count = 0;
        for (const auto & [fp, counts] : w) same_count += counts.count(items) ? 1 : 0;
        s.task_label = same_count > 1 ? fmt::format("{} ({} items, workload {})", s.task, items, short_fp(s.workload))
                                      : fmt::format("{} ({} items)", s.task, items);
    }
}

}  // namespace

double joules_to_wh(double joules) {
    return joules / kJoulesPerWh;
}

double edp(double energy_j, double wall_s) {
    return std::isfinite(energy_j) && std::isfinite(wall_s) ? energy_j * wall_s : kNaN;
}

double carbon_g(double energy_j, double grid_g_per_kwh) {
    return energy_j / kJoulesPerKwh * grid_g_per_kwh;
}

double energy_cost_usd(double energy_j, double usd_per_kwh) {
    return energy_j / kJoulesPerKwh * usd_per_kwh;
}

double retention(double score, double ref_score) {
    return ratio(score, ref_score);
}

double gain(double eor_value, double ref_eor) {
    return ratio(eor_value, ref_eor) - 1.0;
}

double energy_saving(double energy, double ref_energy) {
    return 1.0 - ratio(energy, ref_energy);
}

double j_per_token(double energy_j, double tokens) {
    return ratio(energy_j, tokens);
}

double tokens_per_s(double tokens, double seconds) {
    return ratio(tokens, seconds);
}

double eor(double score_pct, double energy_wh) {
    return ratio(score_pct, energy_wh);
}

double tweor(double score_pct, double energy_wh, double wall_s, double ref_wall_s) {
    // Energy x (T / T_ref): the energy-delay product normalised by the reference's delay, so a
    // scheme that saves energy only by running longer loses in proportion.
    const double stretch = ratio(wall_s, ref_wall_s);
    return ratio(score_pct, energy_wh * stretch);
}

Stat stat_of(const std::vector<double> & values) {
    Stat st;
    st.mean = st.sd = st.min = st.max = kNaN;
    double sum = 0.0;
    for (double v : values) {
        if (std::isnan(v)) continue;
        if (st.n == 0) {
            st.min = st.max = v;
        } else {
            st.min = std::min(st.min, v);
            st.max = std::max(st.max, v);
        }
        sum += v;
        ++st.n;
    }
    if (st.n == 0) return st;
    st.mean = sum / st.n;
    if (st.n > 1) {
        double ss = 0.0;
        for (double v : values) {
            if (!std::isnan(v)) ss += (v - st.mean) * (v - st.mean);
        }
        st.sd = std::sqrt(ss / (st.n - 1));
    }
    return st;
}

bool is_reference(const Summary & s, const std::string & reference) {
    return s.scheme == reference || s.scheme_canonical == reference;
}

std::vector<Summary> summarize(const std::vector<Row> & rows, const Options & options) {
    // Group ok rows by (host, model, scheme, task, workload), in order of first appearance.
    using GroupKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
    std::map<GroupKey, size_t> group_of;
    std::vector<std::vector<const Row *>> groups;
    for (const Row & r : rows) {
        if (!r.ok) continue;
        GroupKey key{r.host, r.model, scheme_key(r), r.task, r.workload};
        auto [it, inserted] = group_of.emplace(key, groups.size());
        if (inserted) groups.emplace_back();
        groups[it->second].push_back(&r);
    }

    std::vector<Summary> out;
    out.reserve(groups.size());
    for (const auto & g : groups) {
        const Row & first = *g.front();
        Summary s;
        s.host = first.host;
        s.host_name = first.host_name;
        s.device = first.device;
        s.model = first.model;
        s.model_name = first.model_name;
        s.scheme = first.scheme;
        s.scheme_canonical = first.scheme_canonical;
        s.task = first.task;
        s.workload = first.workload;
        s.synthetic = first.synthetic;
        s.bpw = first.bpw;
        s.model_bytes = first.model_bytes;
        s.engine_settings = first.engine_settings;

        std::vector<double> score, score_se, energy, energy_net, wall, ttft, avg_w, chance;
        std::map<std::string, std::pair<double, int>> item_sum;  // id -> (sum over repeats, repeats)
        double tok_j = 0, tok_net_j = 0, tok_energy = 0, tok_net = 0, tok_timed = 0, tok_wall_s = 0;
        double peak_w = kNaN;
        double prefill_j = 0, prefill_tok = 0, prefill_s = 0, decode_j = 0, decode_tok = 0, decode_s = 0;
        double prefill_tok_timed = 0, decode_tok_timed = 0, prefill_tok_all = 0, decode_tok_all = 0, items = 0;
        int n_estimated = 0, n_projected = 0;
        for (const Row * r : g) {
            n_projected += r->projected ? 1 : 0;
            score.push_back(r->score);
            score_se.push_back(r->score_stderr);
            energy.push_back(r->energy_j);
            energy_net.push_back(r->energy_net_j);
            wall.push_back(r->wall_s);
            ttft.push_back(r->ttft_s);
            n_estimated += r->estimated ? 1 : 0;
            prefill_tok_all += double(r->prefill_tokens);
            decode_tok_all += double(r->decode_tokens);
            items += double(r->n_items);
            avg_w.push_back(r->avg_w);
            chance.push_back(r->chance);
            for (const ItemScore & it : r->items) {
                auto & [sum, n] = item_sum[it.id];
                sum += it.value;
                ++n;
            }
            if (std::isfinite(r->peak_w) && !(r->peak_w <= peak_w)) peak_w = r->peak_w;
            for (const auto & [domain, j] : r->domain_j) {
                auto it = std::find_if(s.domain_j.begin(), s.domain_j.end(),
                                       [&](const auto & e) { return e.first == domain; });
                if (it == s.domain_j.end()) {
                    s.domain_j.emplace_back(domain, j);
                } else {
                    it->second += j;
                }
            }
            // Whole-cell J/token and tokens/s: ratios of totals over the repeats that have both parts.
            const double tokens = double(r->prefill_tokens + r->decode_tokens);
            if (tokens > 0 && std::isfinite(r->energy_j)) {
                tok_j += r->energy_j;
                tok_energy += tokens;
                s.j_per_token_runs.push_back(r->energy_j / tokens);
            }
            if (tokens > 0 && std::isfinite(r->energy_net_j)) {
                tok_net_j += r->energy_net_j;
                tok_net += tokens;
            }
            if (tokens > 0 && positive(r->wall_s)) {
                tok_timed += tokens;
                tok_wall_s += r->wall_s;
            }
            // Per-token figures are ratios of totals over the repeats that measured both parts.
            if (std::isfinite(r->prefill_j) && r->prefill_tokens > 0) {
                prefill_j += r->prefill_j;
                prefill_tok += double(r->prefill_tokens);
            }
            if (std::isfinite(r->decode_j) && r->decode_tokens > 0) {
                decode_j += r->decode_j;
                decode_tok += double(r->decode_tokens);
            }
            if (positive(r->prefill_s) && r->prefill_tokens > 0) {
                prefill_s += r->prefill_s;
                prefill_tok_timed += double(r->prefill_tokens);
            }
            if (positive(r->decode_s) && r->decode_tokens > 0) {
                decode_s += r->decode_s;
                decode_tok_timed += double(r->decode_tokens);
            }
        }
        const double n_rows = double(g.size());
        s.estimated = n_estimated > 0;
        s.projected = n_projected > 0;
        if (n_projected > 0 && n_projected < int(g.size())) {
            append_note(s.note, fmt::format("{} of {} repeats are projected, not measured: the mean mixes projections "
                                            "with measurements",
                                            n_projected, g.size()));
        }
        if (n_estimated > 0 && n_estimated < int(g.size())) {
            append_note(s.note, fmt::format("{} of {} repeats have estimated energy: the mean mixes estimates with "
                                            "measurements",
                                            n_estimated, g.size()));
            s.mixed_estimate = true;
        }
        s.score = stat_of(score);
        s.score_stderr = stat_of(score_se);
        s.energy_j = stat_of(energy);
        s.energy_net_j = stat_of(energy_net);
        s.wall_s = stat_of(wall);
        s.energy_wh = joules_to_wh(s.energy_j.mean);
        s.eor = eor(s.score.mean * 100.0, s.energy_wh);
        s.tweor = kNaN;
        s.edp_js = edp(s.energy_j.mean, s.wall_s.mean);
        s.prefill_j_per_token = j_per_token(prefill_j, prefill_tok);
        s.decode_j_per_token = j_per_token(decode_j, decode_tok);
        s.prefill_tok_s = tokens_per_s(prefill_tok_timed, prefill_s);
        s.decode_tok_s = tokens_per_s(decode_tok_timed, decode_s);
        s.ttft_s = stat_of(ttft).mean;
        s.gco2e = carbon_g(s.energy_j.mean, options.grid_g_per_kwh);
        s.usd = options.usd_per_kwh > 0 ? energy_cost_usd(s.energy_j.mean, options.usd_per_kwh) : 0.0;
        s.ref_wall_s = kNaN;
        s.prefill_tokens = prefill_tok_all / n_rows;
        s.decode_tokens = decode_tok_all / n_rows;
        s.n_items = items / n_rows;
        s.scored = s.score.n > 0;
        s.j_per_token = j_per_token(tok_j, tok_energy);
        s.net_j_per_token = j_per_token(tok_net_j, tok_net);
        s.tok_s = tokens_per_s(tok_timed, tok_wall_s);
        s.avg_w = stat_of(avg_w).mean;
        s.peak_w = peak_w;
        s.task_label = s.task;
        s.chance = stat_of(chance).mean;
        s.items.reserve(item_sum.size());
        for (const auto & [id, sn] : item_sum) s.items.push_back({id, sn.first / sn.second});
        // Energy noise: the repeats' spread where there are repeats, else one window's resolution.
        if (s.energy_j.n >= 2 && std::isfinite(s.energy_j.sd) && positive(s.energy_j.mean)) {
            s.energy_rel_se = s.energy_j.sd / std::sqrt(double(s.energy_j.n)) / s.energy_j.mean;
            s.energy_se_measured = true;
        } else {
            s.energy_rel_se = positive(s.wall_s.mean) ? kWindowResolutionS / s.wall_s.mean : 0.0;
        }
        s.wall_se_s = s.wall_s.n >= 2 && std::isfinite(s.wall_s.sd) ? s.wall_s.sd / std::sqrt(double(s.wall_s.n)) : 0.0;
        s.short_window = std::isfinite(s.wall_s.mean) && s.wall_s.mean < kShortWindowS;
        s.j_per_token_ci95 = mean_ci95(s.j_per_token_runs).relative();
        s.saving_lo = s.saving_hi = kNaN;
        out.push_back(std::move(s));
    }

    label_workloads(out);

    // Ratios to the reference: same host, model, task and workload, never anything else.
    const auto refs = reference_index(out, options.reference);
    for (Summary & s : out) {
        auto it = refs.find(slot_of(s));
        if (it == refs.end()) {
            append_note(s.note, missing_reference_note(out, s, options.reference));
            continue;
        }
        const Summary & ref = *it->second;
        s.ref_wall_s = ref.wall_s.mean;
        if (&ref == &s) {
            s.tweor = s.eor;  // T = T_ref by definition
        } else {
            s.tweor = tweor(s.score.mean * 100.0, s.energy_wh, s.wall_s.mean, ref.wall_s.mean);
        }
        if (!s.scored) {
            // A synthetic workload has no accuracy: no EOR, TWEOR, gain or retention (the tables
            // say so once, not per row). Its saving is per token, so runs that made different
            // numbers of tokens still compare (docs/metrics.md).
            s.tweor = kNaN;
            if (std::isfinite(s.j_per_token) && positive(ref.j_per_token)) {
                s.energy_saving = energy_saving(s.j_per_token, ref.j_per_token);
                const SavingInterval ci = saving_ci95(s.j_per_token_runs, ref.j_per_token_runs);
                s.saving_lo = ci.lo;
                s.saving_hi = ci.hi;
            }
            if (s.estimated != ref.estimated) {
                s.mixed_estimate = true;
                append_note(s.note, mix_note(s.estimated, options.reference));
            }
            continue;
        }
        if (s.projected != ref.projected) {
            append_note(s.note, fmt::format("{} is {}, {}'s is {}: the ratios compare a projection with a measurement",
                                            s.scheme, s.projected ? "projected" : "measured", options.reference,
                                            ref.projected ? "projected" : "measured"));
        }
        if (positive(ref.score.mean) && std::isfinite(s.score.mean)) {
            s.retention = retention(s.score.mean, ref.score.mean);
        } else {
            append_note(s.note, fmt::format("{} scored {} on {}: retention undefined on this task (the task still "
                                            "counts in the workload's ratio of mean scores and energy)",
                                            options.reference, std::isfinite(ref.score.mean) ? "0" : "nothing",
                                            s.task_label));
        }
        if (std::isfinite(s.eor) && positive(ref.eor)) s.gain = gain(s.eor, ref.eor);
        if (std::isfinite(s.energy_j.mean) && positive(ref.energy_j.mean)) {
            s.energy_saving = energy_saving(s.energy_j.mean, ref.energy_j.mean);
            // Its interval from the repeats' J/token: the same work in tokens for every scheme of
            // a workload, so the ratio is the energies'.
            const SavingInterval ci = saving_ci95(s.j_per_token_runs, ref.j_per_token_runs);
            s.saving_lo = ci.lo;
            s.saving_hi = ci.hi;
        }
        if (s.estimated != ref.estimated) {
            s.mixed_estimate = true;
            append_note(s.note, mix_note(s.estimated, options.reference));
        }
    }

    // Pareto frontier of (score, energy) within each host, model, task and workload; projected
    // points have their own frontier (a projection never dominates a measurement, or the reverse).
    std::map<std::pair<CellSlot, bool>, std::vector<size_t>> by_slot;
    for (size_t i = 0; i < out.size(); ++i) by_slot[{slot_of(out[i]), out[i].projected}].push_back(i);
    for (const auto & [slot, members] : by_slot) {
        std::vector<ParetoPoint> points;
        for (size_t i : members) points.push_back({out[i].score.mean, out[i].energy_j.mean});
        for (size_t k : pareto_frontier(points)) out[members[k]].pareto = true;
    }
    return out;
}

double retention_against_reference(const std::vector<Summary> & all, const Summary & s, const std::string & reference) {
    for (const Summary & r : all) {
        if (!is_reference(r, reference) || slot_of(r) != slot_of(s)) continue;
        if (!positive(r.score.mean)) {
            throw Error(
                fmt::format("{} scored {} on task {} (host {}, model {}, workload {}): accuracy retention is "
                            "undefined",
                            reference, std::isfinite(r.score.mean) ? "0" : "nothing", s.task,
                            display(s.host_name, s.host), display(s.model_name, s.model), short_fp(s.workload)));
        }
        return retention(s.score.mean, r.score.mean);
    }
    throw Error(
        fmt::format("cannot compute accuracy retention of {} on task {}: {}; run `joulebench sweep` with "
                    "--schemes {},... on that host and model",
                    s.scheme, s.task, missing_reference_note(all, s, reference), reference));
}

std::vector<std::string> missing_references(const std::vector<Summary> & all, const std::string & reference) {
    std::vector<std::string> out;
    const auto refs = reference_index(all, reference);
    // Host and model pairs without any reference cell: one line naming the schemes measured.
    std::map<std::pair<std::string, std::string>, std::set<std::string>> schemes_without;
    std::map<std::pair<std::string, std::string>, const Summary *> first_of;
    std::set<std::pair<std::string, std::string>> with_reference;
    for (const auto & [slot, s] : refs) with_reference.insert({std::get<0>(slot), std::get<1>(slot)});
    std::set<CellSlot> reported;
    for (const Summary & s : all) {
        if (is_reference(s, reference)) continue;
        const std::pair<std::string, std::string> hm{s.host, s.model};
        if (!with_reference.count(hm)) {
            schemes_without[hm].insert(s.scheme);
            first_of.emplace(hm, &s);
            continue;
        }
        if (refs.count(slot_of(s)) || !reported.insert(slot_of(s)).second) continue;
        out.push_back(missing_reference_note(all, s, reference));
    }
    for (const auto & [hm, schemes] : schemes_without) {
        const Summary & s = *first_of.at(hm);
        std::string names;
        for (const auto & n : schemes) names += (names.empty() ? "" : ", ") + n;
        out.insert(out.begin(), fmt::format("host {}, model {}: no successful {} cell, so no retention, gain or saving "
                                            "for {} (run `joulebench sweep` with --schemes {},{})",
                                            display(s.host_name, s.host), display(s.model_name, s.model), reference,
                                            names, reference, *schemes.begin()));
    }
    return out;
}

std::vector<size_t> pareto_frontier(const std::vector<ParetoPoint> & points) {
    std::vector<size_t> front;
    for (size_t i = 0; i < points.size(); ++i) {
        const ParetoPoint & p = points[i];
        if (!std::isfinite(p.accuracy) || !std::isfinite(p.energy)) continue;
        bool dominated = false;
        for (size_t j = 0; j < points.size() && !dominated; ++j) {
            const ParetoPoint & q = points[j];
            if (j == i || !std::isfinite(q.accuracy) || !std::isfinite(q.energy)) continue;
            dominated =
                q.accuracy >= p.accuracy && q.energy <= p.energy && (q.accuracy > p.accuracy || q.energy < p.energy);
        }
        if (!dominated) front.push_back(i);
    }
    std::stable_sort(front.begin(), front.end(),
                     [&](size_t a, size_t b) { return points[a].energy < points[b].energy; });
    return front;
}

}  // namespace jb::metrics
