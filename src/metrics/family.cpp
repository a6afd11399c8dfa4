// Distilled vs base model per host, scheme and workload, and together with quantization.
// Definitions: docs/metrics.md, "Model families".

#include "metrics/family.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

namespace jb::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool positive(double v) {
    return std::isfinite(v) && v > 0.0;
}

double tokens_of(const Summary &s) {
    return s.prefill_tokens + s.decode_tokens;
}

// 1 - a / b, NaN unless b is positive and a finite.
double reduction(double a, double b) {
    return std::isfinite(a) && positive(b) ? 1.0 - a / b : kNaN;
}

double ratio(double a, double b) {
    return std::isfinite(a) && positive(b) ? a / b : kNaN;
}

void append(std::string &note, const std::string &more) {
    if (!note.empty()) note += "; ";
    note += more;
}

// (host, scheme name, task, workload): where a student's cell meets its teacher's.
using Slot = std::tuple<std::string, std::string, std::string, std::string>;

struct Aggregate {
    FamilyComparison row;
    double base_tokens = 0, distilled_tokens = 0, score_b = 0, score_d = 0;
    double combined_d = 0, combined_b = 0, combined_score_d = 0, combined_score_b = 0;
    int n_combined = 0;
};

}  // namespace

std::vector<FamilyComparison> compare_families(const std::vector<Summary> &summaries,
                                               const std::vector<FamilyMember> &members, const std::string &reference,
                                               std::vector<std::string> *notes) {
    // family -> role -> model, in order of first appearance.
    std::vector<std::string> families;
    std::map<std::string, std::map<std::string, std::string>> roles;
    for (const auto &m : members) {
        if (!roles.count(m.family)) families.push_back(m.family);
        roles[m.family][m.role] = m.model;
    }
    auto note = [&](const std::string &line) {
        if (notes) notes->push_back(line);
    };

    std::vector<FamilyComparison> out;
    for (const auto &family : families) {
        const auto &r = roles[family];
        const auto base_it = r.find("base"), distilled_it = r.find("distilled");
        if (base_it == r.end() || distilled_it == r.end()) {
            note(fmt::format("family {}: needs both a base and a distilled model (has {})", family,
                             base_it == r.end() ? "no base" : "no distilled"));
            continue;
        }
        const std::string &base = base_it->second;
        const std::string &distilled = distilled_it->second;
        std::map<Slot, const Summary *> base_at, base_ref_at;
        for (const Summary &s : summaries) {
            if (s.model != base) continue;
            base_at.emplace(Slot{s.host, s.scheme, s.task, s.workload}, &s);
            if (is_reference(s, reference)) base_ref_at.emplace(Slot{s.host, "", s.task, s.workload}, &s);
        }

        std::vector<FamilyComparison> rows;
        std::vector<std::pair<std::string, std::string>> agg_order;  // (host, scheme)
        std::map<std::pair<std::string, std::string>, Aggregate> aggs;
        for (const Summary &d : summaries) {
            if (d.model != distilled) continue;
            const auto bit = base_at.find(Slot{d.host, d.scheme, d.task, d.workload});
            if (bit == base_at.end()) continue;
            const Summary &b = *bit->second;
            const auto rit = base_ref_at.find(Slot{d.host, "", d.task, d.workload});
            const Summary *bref = rit == base_ref_at.end() ? nullptr : rit->second;

            FamilyComparison c;
            c.family = family;
            c.host = d.host;
            c.host_name = d.host_name;
            c.device = d.device;
            c.base_model = b.model;
            c.base_model_name = b.model_name;
            c.distilled_model = d.model;
            c.distilled_model_name = d.model_name;
            c.scheme = d.scheme;
            c.task = d.task;
            c.workload = d.workload;
            c.scored = d.scored && b.scored;
            c.estimated = d.estimated || b.estimated;
            c.projected = d.projected || b.projected;
            c.base_energy_j = b.energy_j.mean;
            c.distilled_energy_j = d.energy_j.mean;
            c.base_j_per_token = b.j_per_token;
            c.distilled_j_per_token = d.j_per_token;
            c.base_score = c.scored ? b.score.mean : kNaN;
            c.distilled_score = c.scored ? d.score.mean : kNaN;
            if (c.scored) {
                // Same items, shots and prompts (one workload fingerprint): the energy of the
                // whole workload compares, whatever each tokenizer made of it.
                c.energy_reduction = reduction(d.energy_j.mean, b.energy_j.mean);
                c.retention = ratio(d.score.mean, b.score.mean);
                c.combined_energy_reduction = bref ? reduction(d.energy_j.mean, bref->energy_j.mean) : kNaN;
                c.combined_retention = bref ? ratio(d.score.mean, bref->score.mean) : kNaN;
                if (!positive(b.score.mean))
                    append(c.note, fmt::format("the base scored 0 on {}: no retention", d.task));
            } else {
                // A synthetic workload has no score; per token, as for schemes (docs/metrics.md).
                c.energy_reduction = reduction(d.j_per_token, b.j_per_token);
                c.retention = c.combined_retention = kNaN;
                c.combined_energy_reduction = bref ? reduction(d.j_per_token, bref->j_per_token) : kNaN;
            }
            if (!bref) append(c.note, fmt::format("no {} cell of the base model: no combined effect", reference));
            if (d.estimated != b.estimated) append(c.note, "compares an estimated energy with a measured one");
            if (d.projected != b.projected) append(c.note, "compares a projected energy with a measured one");
            rows.push_back(c);

            if (!c.scored || !positive(c.base_energy_j) || !std::isfinite(c.distilled_energy_j)) continue;
            const auto key = std::make_pair(d.host, d.scheme);
            auto [ait, inserted] = aggs.emplace(key, Aggregate{});
            Aggregate &a = ait->second;
            if (inserted) {
                agg_order.push_back(key);
                a.row = c;
                a.row.task = "all";
                a.row.workload = "";
                a.row.n_tasks = 0;
                a.row.base_energy_j = a.row.distilled_energy_j = 0.0;
                a.row.note.clear();
            }
            ++a.row.n_tasks;
            a.row.estimated = a.row.estimated || c.estimated;
            a.row.projected = a.row.projected || c.projected;
            a.row.base_energy_j += b.energy_j.mean;
            a.row.distilled_energy_j += d.energy_j.mean;
            a.base_tokens += tokens_of(b);
            a.distilled_tokens += tokens_of(d);
            a.score_b += b.score.mean;
            a.score_d += d.score.mean;
            if (bref && positive(bref->energy_j.mean)) {
                a.combined_d += d.energy_j.mean;
                a.combined_b += bref->energy_j.mean;
                a.combined_score_d += d.score.mean;
                a.combined_score_b += bref->score.mean;
                ++a.n_combined;
            }
        }
        if (rows.empty()) {
            note(fmt::format("family {}: the base and the distilled model share no host, scheme and workload", family));
            continue;
        }
        out.insert(out.end(), rows.begin(), rows.end());
        for (const auto &key : agg_order) {
            Aggregate &a = aggs[key];
            FamilyComparison &c = a.row;
            if (c.n_tasks < 2) continue;  // one task: its own row says it all
            const double n = double(c.n_tasks);
            c.energy_reduction = reduction(c.distilled_energy_j, c.base_energy_j);
            c.base_j_per_token = ratio(c.base_energy_j, a.base_tokens);
            c.distilled_j_per_token = ratio(c.distilled_energy_j, a.distilled_tokens);
            c.base_score = a.score_b / n;
            c.distilled_score = a.score_d / n;
            // Retention over the whole task set: the ratio of mean scores, as candidates have it (a
            // task the base scored 0 on adds the student's score and nothing to the base's).
            c.retention = ratio(a.score_d, a.score_b);
            // The combined effect only over the full task set: a subset would not be the same workload.
            c.combined_energy_reduction = a.n_combined == c.n_tasks ? reduction(a.combined_d, a.combined_b) : kNaN;
            c.combined_retention = a.n_combined == c.n_tasks ? ratio(a.combined_score_d, a.combined_score_b) : kNaN;
            if (a.n_combined < c.n_tasks)
                append(c.note, fmt::format("no {} cell of the base on every task: no combined effect", reference));
            out.push_back(c);
        }
    }
    return out;
}

const FamilyComparison *family_overall(const std::vector<FamilyComparison> &rows, const std::string &family,
                                       const std::string &host, const std::string &scheme) {
    const FamilyComparison *single = nullptr;
    int n_scored = 0;
    for (const auto &c : rows) {
        if (c.family != family || c.host != host || c.scheme != scheme || !c.scored) continue;
        if (c.task == "all") return &c;
        single = &c;
        ++n_scored;
    }
    return n_scored == 1 ? single : nullptr;
}

}  // namespace jb::metrics
