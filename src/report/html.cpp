// The self-contained HTML report: one file, inline CSS and SVG, no script, no font, no network.
// It is written as well-formed XML (every element closed, every attribute quoted, void elements
// self-closed), so a strict XML check in the tests catches any unescaped text, and it prints
// (@media print) as well as it reads on a laptop screen.

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "report/report.hpp"
#include "report/serving.hpp"
#include "report/report_util.hpp"
#include "report/svg.hpp"

namespace jb::report {

namespace {

using svg::escape;

constexpr const char * kCss = R"CSS(
:root { color-scheme: light; --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --panel: #f6f8fa;
        --warn-bg: #fff8c5; --warn-line: #d4a72c; --bad-bg: #ffebe9; --bad-line: #cf222e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #ffffff; line-height: 1.45; font-size: 15px;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans",
                    "Liberation Sans", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 28px 48px; }
header h1 { font-size: 1.75rem; margin: 0 0 4px; }
.meta { color: var(--muted); font-size: 0.9rem; margin: 0; }
.banner { border: 1px solid var(--warn-line); background: var(--warn-bg); border-radius: 6px;
          padding: 8px 12px; margin: 10px 0; }
.banner strong { margin-right: 4px; }
.banner.severe { border-color: var(--bad-line); background: var(--bad-bg); }
nav.toc { margin: 14px 0 4px; padding: 8px 0; border-top: 1px solid var(--line);
          border-bottom: 1px solid var(--line); font-size: 0.9rem;
          display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav.toc a { color: #0969da; text-decoration: none; white-space: nowrap; }
nav.toc a:hover { text-decoration: underline; }
section { margin-top: 30px; }
h2 { font-size: 1.3rem; margin: 0 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.02rem; margin: 18px 0 6px; }
p.lead { color: var(--muted); margin: 4px 0 12px; max-width: 95ch; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 4px; background: #ffffff;
               break-inside: avoid; page-break-inside: avoid; }
figure.chart svg { display: block; width: 100%; height: auto; }
.charts > figure.wide { grid-column: 1 / -1; }
figure.chart figcaption { font-size: 0.82rem; color: var(--muted); padding: 2px 8px 6px; }
.empty-note { color: var(--muted); font-style: italic; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table.data { border-collapse: collapse; font-size: 0.8rem; font-variant-numeric: tabular-nums; width: 100%; }
table.data th, table.data td { padding: 4px 8px; border-bottom: 1px solid #eaeef2; white-space: nowrap;
                               text-align: left; vertical-align: top; }
table.data th { background: var(--panel); font-weight: 600; white-space: normal; vertical-align: bottom; }
table.data tr.sub td { white-space: normal; color: var(--muted); border-bottom: 1px solid var(--line); padding-top: 0; }
table.data tr.main td { border-bottom: none; }
table.data tr.sub td b { color: var(--ink); font-weight: 600; }
table.data th.num, table.data td.num { text-align: right; }
table.data td.wrap { white-space: normal; min-width: 16em; }
table.data td.none { color: #afb8c1; }
table.data tbody tr:hover { background: #f1f8ff; }
p.caption { font-size: 0.85rem; color: var(--muted); margin: 4px 0 8px; }
ul.notes { font-size: 0.82rem; color: var(--muted); margin: 6px 0 0; padding-left: 20px; }
dl.defs { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 0.88rem; margin: 8px 0 14px; }
dl.defs dt { font-weight: 600; }
dl.defs dd { margin: 0; color: var(--muted); }
footer { margin-top: 36px; color: var(--muted); font-size: 0.8rem; border-top: 1px solid var(--line); padding-top: 8px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.88em; }
@media (max-width: 700px) { main { padding: 12px; } .charts { grid-template-columns: 1fr; } }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  .charts { grid-template-columns: 1fr 1fr; gap: 8px; }
  section { margin-top: 16px; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .banner, figure.chart, tr { break-inside: avoid; page-break-inside: avoid; }
  .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .table-wrap { overflow: visible; border: none; }
  table.data { font-size: 7pt; }
  table.data th, table.data td { padding: 2px 4px; }
  table.data td.wrap { min-width: 10em; }
  a { color: inherit; text-decoration: none; }
}
)CSS";

// Phases shaded on the power timeline; "idle" is left white (the baseline).
struct PhaseStyle {
    const char * name;
    const char * color;
    double opacity;
};
constexpr PhaseStyle kPhaseStyles[] = {
    {"load", "#7F7F7F", 0.20}, {"prefill", "#0072B2", 0.14}, {"decode", "#E69F00", 0.22}};

std::string signed_pct(double fraction) {
    if (!std::isfinite(fraction)) return "";
    const double p = fraction * 100.0;
    if (std::abs(p) < 0.05) return "\u00b10 %";
    std::string s = fmt::format("{:+.{}f} %", p, std::abs(p) < 10 ? 1 : 0);
    if (s[0] == '-') s.replace(0, 1, "\u2212");  // a real minus sign
    return s;
}

// The report's one convention for "vs the reference": the energy saving, 1 - E / E(reference),
// positive when the scheme uses less energy (docs/metrics.md; the tables' "energy saving vs ..." columns).
double energy_saving(double value, double reference_value) {
    return std::isfinite(value) && std::isfinite(reference_value) && reference_value > 0 ? 1.0 - value / reference_value
                                                                                        : NAN;
}

std::string saving_caption(const std::string & reference, const std::string & over) {
    return fmt::format("Labels: energy saving per token vs {} on {} (1 \u2212 J/token \u00f7 J/token of {}; "
                       "positive = less energy).",
                       reference, over, reference);
}

std::string sig(double v, int digits = 3) {
    return std::isfinite(v) ? fmt::format("{:.{}g}", v, digits) : "n/a";
}

// A phase's base name: the sweep marks phases "task/prefill".
std::string phase_base(const std::string & phase) {
    const auto slash = phase.rfind('/');
    return slash == std::string::npos ? phase : phase.substr(slash + 1);
}

const std::string & color_of(const std::vector<std::string> & order, const std::string & scheme) {
    const auto & p = svg::palette();
    const auto it = std::find(order.begin(), order.end(), scheme);
    return p[size_t(it - order.begin()) % p.size()];
}

// One host and model, and the task set every compared scheme ran there.
struct SchemePoint {
    std::string scheme;
    double score_pct = 0.0;  // mean over the common tasks
    double energy_wh = 0.0;  // sum over them (means over repeats)
    // Standard errors: of the mean score (the tasks' item-level errors, independent tasks:
    // sqrt(sum se^2) / tasks) and of the summed energy (each task's sd over repeats / sqrt(n);
    // 0 where every task ran once).
    double score_se_pct = 0.0;
    double energy_se_wh = 0.0;
    double prefill_j = 0.0, prefill_tokens = 0.0, decode_j = 0.0, decode_tokens = 0.0;  // totals, all repeats
};

struct GroupView {
    std::string host, host_name, device, model, model_name;
    bool estimated = false, synthetic = false, projected = false;
    std::vector<std::string> tasks;  // the common tasks
    std::vector<SchemePoint> points;  // in scheme order
    std::vector<std::string> left_out;  // schemes sharing no task with the others
};

std::vector<GroupView> group_views(const ReportInput & in, const Analysis & a) {
    using Key = std::pair<std::string, std::string>;  // (task, workload)
    std::vector<GroupView> out;
    std::map<std::pair<std::string, std::string>, size_t> index;
    std::vector<std::map<std::string, std::map<Key, const metrics::Summary *>>> by_scheme;
    for (const auto & s : a.summaries) {
        auto [it, inserted] = index.emplace(std::make_pair(s.host, s.model), out.size());
        if (inserted) {
            GroupView g;
            g.host = s.host;
            g.host_name = s.host_name;
            g.device = s.device;
            g.model = s.model;
            g.model_name = s.model_name;
            out.push_back(g);
            by_scheme.emplace_back();
        }
        GroupView & g = out[it->second];
        g.estimated = g.estimated || s.estimated;
        g.synthetic = g.synthetic || s.synthetic;
        g.projected = g.projected || s.projected;
        if (std::isfinite(s.score.mean) && std::isfinite(s.energy_wh) && s.energy_wh > 0) {
            by_scheme[it->second][s.scheme][{s.task, s.workload}] = &s;
        }
    }
    for (size_t gi = 0; gi < out.size(); ++gi) {
        GroupView & g = out[gi];
        auto & schemes = by_scheme[gi];
        // The schemes with the most tasks first; each further one narrows the common set, unless
        // it shares nothing with it (then it is left out and named).
        std::vector<std::string> names;
        for (const auto & s : a.scheme_order) {
            if (schemes.count(s)) names.push_back(s);
        }
        std::stable_sort(names.begin(), names.end(), [&](const std::string & x, const std::string & y) {
            return schemes[x].size() > schemes[y].size();
        });
        std::set<Key> common;
        std::vector<std::string> kept;
        for (const auto & name : names) {
            std::set<Key> keys;
            for (const auto & [k, s] : schemes[name]) keys.insert(k);
            if (kept.empty()) {
                common = keys;
                kept.push_back(name);
                continue;
            }
            std::set<Key> both;
            std::set_intersection(common.begin(), common.end(), keys.begin(), keys.end(),
                                  std::inserter(both, both.begin()));
            if (both.empty()) {
                g.left_out.push_back(name);
            } else {
                common = std::move(both);
                kept.push_back(name);
            }
        }
        std::set<std::string> task_names;
        for (const auto & k : common) task_names.insert(k.first);
        g.tasks.assign(task_names.begin(), task_names.end());
        for (const auto & name : a.scheme_order) {
            if (std::find(kept.begin(), kept.end(), name) == kept.end()) continue;
            SchemePoint p;
            p.scheme = name;
            double score_var = 0.0, energy_var = 0.0;
            for (const auto & k : common) {
                const metrics::Summary * s = schemes[name].at(k);
                p.score_pct += s->score.mean * 100.0;
                p.energy_wh += s->energy_wh;
                if (std::isfinite(s->score_stderr.mean)) score_var += std::pow(s->score_stderr.mean * 100.0, 2);
                if (s->energy_j.n > 1 && std::isfinite(s->energy_j.sd)) {
                    energy_var += std::pow(s->energy_j.sd / std::sqrt(double(s->energy_j.n)) / 3600.0, 2);
                }
            }
            p.score_pct /= double(common.size());
            p.score_se_pct = std::sqrt(score_var) / double(common.size());
            p.energy_se_wh = std::sqrt(energy_var);
            for (const auto & r : in.rows) {
                if (!r.ok || r.host != g.host || r.model != g.model || r.scheme != name ||
                    !common.count({r.task, r.workload})) {
                    continue;
                }
                if (std::isfinite(r.prefill_j) && r.prefill_tokens > 0) {
                    p.prefill_j += r.prefill_j;
                    p.prefill_tokens += double(r.prefill_tokens);
                }
                if (std::isfinite(r.decode_j) && r.decode_tokens > 0) {
                    p.decode_j += r.decode_j;
                    p.decode_tokens += double(r.decode_tokens);
                }
            }
            g.points.push_back(p);
        }
    }
    return out;
}

// The unscored summaries (synthetic workloads) of each host and model, in order of appearance.
struct UnscoredGroup {
    std::string host, host_name, device, model, model_name;
    bool estimated = false, synthetic = false;
    std::vector<std::string> workloads;               // task names, sorted
    std::vector<const metrics::Summary *> summaries;  // in scheme order within each workload
};

std::vector<UnscoredGroup> unscored_groups(const Analysis & a) {
    std::vector<UnscoredGroup> out;
    std::map<std::pair<std::string, std::string>, size_t> index;
    for (const auto & s : a.summaries) {
        if (s.scored) continue;
        auto [it, inserted] = index.emplace(std::make_pair(s.host, s.model), out.size());
        if (inserted) out.push_back({s.host, s.host_name, s.device, s.model, s.model_name, false, false, {}, {}});
        UnscoredGroup & g = out[it->second];
        g.estimated = g.estimated || s.estimated;
        g.synthetic = g.synthetic || s.synthetic;
        if (std::find(g.workloads.begin(), g.workloads.end(), s.task) == g.workloads.end()) g.workloads.push_back(s.task);
        g.summaries.push_back(&s);
    }
    for (auto & g : out) {
        std::sort(g.workloads.begin(), g.workloads.end());
        auto rank = [&](const std::string & scheme) {
            return std::find(a.scheme_order.begin(), a.scheme_order.end(), scheme) - a.scheme_order.begin();
        };
        std::stable_sort(g.summaries.begin(), g.summaries.end(), [&](const auto * x, const auto * y) {
            return std::make_tuple(x->task, rank(x->scheme)) < std::make_tuple(y->task, rank(y->scheme));
        });
    }
    return out;
}

// "tg256r5, pp2048r30": the unscored workload names, for the sentences that explain their absence.
std::string unscored_names(const Analysis & a) {
    std::set<std::string> names;
    for (const auto & s : a.summaries) {
        if (!s.scored) names.insert(s.task);
    }
    return join(names, ", ");
}

std::string group_title(const std::string & what, const GroupView & g) {
    return fmt::format("{}: {} on {}", what, g.model_name, metrics::hardware_label(g.device, g.host_name));
}

std::string group_subtitle(const GroupView & g) {
    std::string s = fmt::format("{} task{}: {}", g.tasks.size(), g.tasks.size() == 1 ? "" : "s", join(g.tasks, ", "));
    if (g.estimated) s += " \u00b7 energy ESTIMATED";
    if (g.synthetic) s += " \u00b7 synthetic model";
    if (g.projected) s += " \u00b7 PROJECTED, not measured";
    return s;
}

std::string figure(const std::string & svg_text, const std::string & css_class, const std::string & caption) {
    std::string out = fmt::format("<figure class=\"chart {}\">\n{}", css_class, svg_text);
    if (!caption.empty()) out += fmt::format("<figcaption>{}</figcaption>\n", escape(caption));
    return out + "</figure>\n";
}

std::string empty_note(const std::string & text) {
    return fmt::format("<p class=\"empty-note\">{}</p>\n", escape(text));
}

// (1) Accuracy vs energy, one chart per host and model, the Pareto frontier drawn through the
// points no other scheme beats on both.
std::string pareto_charts(const std::vector<GroupView> & groups, const Analysis & a) {
    std::string out;
    // A chart alone in its section spans the page, drawn wider rather than scaled up.
    const bool alone = std::count_if(groups.begin(), groups.end(), [](const GroupView & g) { return !g.points.empty(); }) == 1;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const GroupView & g = groups[gi];
        if (g.points.empty()) continue;
        std::vector<metrics::ParetoPoint> pts;
        double e_min = INFINITY, e_max = 0.0;
        for (const auto & p : g.points) {
            pts.push_back({p.score_pct, p.energy_wh});
            e_min = std::min(e_min, p.energy_wh);
            e_max = std::max(e_max, p.energy_wh);
        }
        const std::vector<size_t> front = metrics::pareto_frontier(pts);
        std::set<size_t> on_front(front.begin(), front.end());

        svg::XyChart c;
        c.id = fmt::format("chart-pareto-{}", gi);
        c.title = fmt::format("{} on {}", g.model_name, metrics::hardware_label(g.device, g.host_name));
        c.subtitle = group_subtitle(g);
        // Both axes start at zero, so that distances read as proportions and a difference inside
        // the error bars looks as small as it is; energies more than an order of magnitude apart
        // would crowd the cheap schemes together at zero: then a log axis, said in its title.
        const bool log_x = e_max > 20 * e_min;
        c.x = {fmt::format("Energy, sum over {} task{}{}", g.tasks.size(), g.tasks.size() == 1 ? "" : "s",
                           log_x ? ", log scale" : ""),
               "Wh", log_x, true, !log_x, std::nullopt, std::nullopt, 6, 0.08};
        c.y = {"Mean score", "%", false, false, true, std::nullopt, std::nullopt, 6, 0.12};
        c.width = alone ? 1100 : 640;
        c.height = alone ? 420 : 380;

        svg::Series frontier;
        frontier.name = "Pareto frontier";
        frontier.color = "#57606a";
        frontier.markers = false;
        frontier.line = true;
        frontier.step = true;
        frontier.frontier = true;
        frontier.line_width = 1.8;
        frontier.css_class = "pareto-frontier";
        for (size_t i : front) {
            frontier.x.push_back(g.points[i].energy_wh);
            frontier.y.push_back(g.points[i].score_pct);
        }
        c.series.push_back(frontier);
        for (size_t i = 0; i < g.points.size(); ++i) {
            const auto & p = g.points[i];
            svg::Series s;
            s.color = color_of(a.scheme_order, p.scheme);
            s.x = {p.energy_wh};
            s.y = {p.score_pct};
            s.x_err = {p.energy_se_wh};
            s.y_err = {p.score_se_pct};
            s.labels = {p.scheme};
            s.tips = {fmt::format("{}: mean score {:.2f} \u00b1 {:.2f} %, energy {} Wh{}{}", p.scheme, p.score_pct,
                                  p.score_se_pct, sig(p.energy_wh, 4),
                                  p.energy_se_wh > 0 ? fmt::format(" \u00b1 {}", sig(p.energy_se_wh, 2)) : "",
                                  on_front.count(i) ? " (on the Pareto frontier)" : " (dominated)")};
            s.hollow = !on_front.count(i);
            s.marker_r = 6.0;
            s.css_class = on_front.count(i) ? "scheme-point on-frontier" : "scheme-point dominated";
            c.series.push_back(s);
        }
        // Legend-only entries explaining the marker styles.
        svg::Series filled;
        filled.name = "on the frontier";
        filled.color = "#57606a";
        c.series.push_back(filled);
        if (on_front.size() < g.points.size()) {
            svg::Series ring = filled;
            ring.name = "dominated (another scheme is as accurate for less energy)";
            ring.hollow = true;
            c.series.push_back(ring);
        }
        const bool energy_bars = std::any_of(g.points.begin(), g.points.end(), [](const SchemePoint & p) {
            return p.energy_se_wh > 0;
        });
        std::string caption = fmt::format(
            "Up and to the left is better. Error bars: \u00b1 one standard error of the mean score (from the tasks' "
            "items){}; points whose bars overlap are not distinguishable at this sample size.",
            energy_bars ? " and of the energy (over repeats)" : "; one repeat per cell, so no energy error bar");
        if (!g.left_out.empty()) {
            caption += fmt::format(" Not shown (no task in common with the others): {}.", join(g.left_out, ", "));
        }
        if (g.synthetic) caption += " Synthetic model: the scores are chance.";
        out += figure(svg::render(c), alone ? "chart-pareto wide" : "chart-pareto", caption);
    }
    if (out.empty() && a.any_unscored) {
        return empty_note(fmt::format(
            "No scheme has both a score and an energy: the synthetic workloads measured here ({}) have no accuracy, "
            "only speed and energy (see Speed and energy per token).",
            unscored_names(a)));
    }
    return out.empty() ? empty_note("No scheme has both a score and an energy.") : out;
}

// (2) EOR and TWEOR per scheme: from the candidates (the same numbers the decision matrix
// ranks); hosts side by side where there are several.
std::string efficiency_charts(const std::vector<GroupView> & groups, const Analysis & a) {
    std::string out;
    std::vector<std::pair<std::string, std::string>> models;
    for (const auto & g : groups) {
        if (std::none_of(models.begin(), models.end(), [&](const auto & m) { return m.first == g.model; })) {
            models.emplace_back(g.model, g.model_name);
        }
    }
    for (size_t mi = 0; mi < models.size(); ++mi) {
        const auto & [model, model_name] = models[mi];
        // Rank one workload set only, as recommend does: the largest group of candidates.
        std::map<std::string, std::vector<const metrics::Candidate *>> by_workloads;
        for (const auto & c : a.candidates) {
            if (c.model == model) by_workloads[c.workloads].push_back(&c);
        }
        const std::vector<const metrics::Candidate *> * cands = nullptr;
        for (const auto & [k, v] : by_workloads) {
            if (!cands || v.size() > cands->size()) cands = &v;
        }
        if (!cands) {
            const bool model_scored = std::any_of(a.summaries.begin(), a.summaries.end(), [&](const auto & s) {
                return s.model == model && s.scored;
            });
            if (!model_scored) {
                out += empty_note(fmt::format(
                    "{}: no EOR: EOR is score / energy, and the synthetic workloads it ran ({}) have no accuracy "
                    "score (see Speed and energy per token).",
                    model_name, unscored_names(a)));
            } else {
                out += empty_note(fmt::format("{}: no EOR gain without the reference scheme ({}).", model_name,
                                              "see the warnings above"));
            }
            continue;
        }
        std::vector<std::string> hosts, host_names, schemes;
        bool estimated = false;
        for (const auto * c : *cands) {
            if (std::find(hosts.begin(), hosts.end(), c->host) == hosts.end()) {
                hosts.push_back(c->host);
                host_names.push_back(metrics::candidate_hardware(*c));
            }
            estimated = estimated || c->estimated;
        }
        for (const auto & s : a.scheme_order) {
            for (const auto * c : *cands) {
                if (c->scheme == s) {
                    schemes.push_back(s);
                    break;
                }
            }
        }
        auto find = [&](const std::string & host, const std::string & scheme) -> const metrics::Candidate * {
            for (const auto * c : *cands) {
                if (c->host == host && c->scheme == scheme) return c;
            }
            return nullptr;
        };
        auto reference_of = [&](const std::string & host) -> const metrics::Candidate * {
            for (const auto * c : *cands) {
                if (c->host == host && c->is_reference) return c;
            }
            return nullptr;
        };
        const size_t n_tasks = cands->front()->n_tasks;
        std::string subtitle = fmt::format("{} task{}: {}{}", n_tasks, n_tasks == 1 ? "" : "s",
                                           join(cands->front()->tasks, ", "), estimated ? " \u00b7 energy ESTIMATED" : "");
        const std::string caption =
            "Labels: EOR gain and TWEOR gain against the reference on the same host (EOR / EOR of the reference "
            "\u2212 1; positive = more accuracy per energy). EOR = score (%) / energy (Wh); TWEOR divides further by "
            "the time relative to the reference, so a scheme that saves energy by running slower gains less.";
        if (hosts.size() == 1) {
            svg::BarChart c;
            c.id = fmt::format("chart-eor-{}", mi);
            c.title = fmt::format("EOR and TWEOR: {} on {}", model_name, host_names[0]);
            c.subtitle = subtitle;
            c.categories = schemes;
            c.y = {"Efficiency", "%/Wh", false, false, true, std::nullopt, std::nullopt, 6};
            svg::BarSeries eor{"EOR", "#0072B2", {}, {}, {}, {}}, tw{"TWEOR", "#E69F00", {}, {}, {}, {}};
            const auto * ref = reference_of(hosts[0]);
            for (const auto & s : schemes) {
                const auto * c1 = find(hosts[0], s);
                eor.values.push_back(c1 ? c1->eor : NAN);
                tw.values.push_back(c1 ? c1->tweor : NAN);
                eor.labels.push_back(c1 ? (c1->is_reference ? "ref" : signed_pct(c1->gain)) : "");
                tw.labels.push_back(c1 && ref ? (c1->is_reference ? "ref" : signed_pct(c1->tweor / ref->tweor - 1)) : "");
            }
            c.series = {eor, tw};
            const bool alone = models.size() == 1;
            c.width = alone ? 1100 : 640;
            c.height = alone ? 380 : 360;
            out += figure(svg::render(c), alone ? "chart-eor wide" : "chart-eor", caption);
        } else {
            for (int which = 0; which < 2; ++which) {
                svg::BarChart c;
                c.id = fmt::format("chart-{}-{}", which == 0 ? "eor" : "tweor", mi);
                c.title = fmt::format("{} per scheme and host: {}", which == 0 ? "EOR" : "TWEOR", model_name);
                c.subtitle = subtitle;
                c.categories = schemes;
                c.y = {which == 0 ? "EOR" : "TWEOR", "%/Wh", false, false, true, std::nullopt, std::nullopt, 6};
                for (size_t h = 0; h < hosts.size(); ++h) {
                    svg::BarSeries ser{host_names[h], svg::palette()[h % svg::palette().size()], {}, {}, {}, {}};
                    const auto * ref = reference_of(hosts[h]);
                    for (const auto & s : schemes) {
                        const auto * c1 = find(hosts[h], s);
                        const double v = c1 ? (which == 0 ? c1->eor : c1->tweor) : NAN;
                        ser.values.push_back(v);
                        std::string label;
                        if (c1 && c1->is_reference) {
                            label = "ref";
                        } else if (c1 && which == 0) {
                            label = signed_pct(c1->gain);
                        } else if (c1 && ref) {
                            label = signed_pct(c1->tweor / ref->tweor - 1);
                        }
                        ser.labels.push_back(label);
                    }
                    c.series.push_back(ser);
                }
                out += figure(svg::render(c), which == 0 ? "chart-eor" : "chart-tweor", caption);
            }
        }
        if (by_workloads.size() > 1) {
            out += empty_note(fmt::format("{}: candidates with other task sets are in the tables below.", model_name));
        }
    }
    return out.empty() ? empty_note("No scheme could be compared with the reference.") : out;
}

// (3) A run's power over time with its phases shaded.
std::string power_chart(const ReportInput & in) {
    if (!in.timeline || in.timeline->timeline.t_s.empty()) {
        return empty_note(
            "No power timeline is stored for any successful cell (cells measured without a sampling sensor keep "
            "none).");
    }
    const TimelineCell & cell = *in.timeline;
    const PowerTimeline & tl = cell.timeline;
    svg::XyChart c;
    c.id = "chart-power";
    c.title = fmt::format("Power over time: {} {} on {}", cell.scheme, cell.task, cell.model_name);
    c.subtitle = fmt::format("cell {} \u00b7 host {} \u00b7 {} samples over {} s{}", cell.cell_id, cell.host_name,
                             tl.t_s.size(), sig(tl.t_s.back() - tl.t_s.front(), 4),
                             cell.estimated ? " \u00b7 power ESTIMATED (TDP per CPU x CPU time)" : "");
    c.x = {"Time", "s", false, false, true, std::nullopt, std::nullopt, 8};
    c.y = {"Power", "W", false, false, true, std::nullopt, std::nullopt, 6, 0.05};
    c.width = 1100;
    c.height = 340;

    // Adjacent intervals of one phase become one band (generation alternates prefill and decode
    // per request; the sweep marks them "task/phase").
    std::vector<PhaseInterval> merged;
    for (const auto & p : tl.phases) {
        const std::string name = phase_base(p.phase);
        if (!merged.empty() && merged.back().phase == name && std::abs(merged.back().t1_s - p.t0_s) < 1e-6) {
            merged.back().t1_s = p.t1_s;
        } else {
            merged.push_back({name, p.t0_s, p.t1_s});
        }
    }
    double phase_s[std::size(kPhaseStyles)] = {};
    for (const auto & p : merged) {
        for (size_t k = 0; k < std::size(kPhaseStyles); ++k) {
            if (p.phase != kPhaseStyles[k].name || !(p.t1_s > p.t0_s)) continue;
            c.bands.push_back({p.t0_s, p.t1_s, p.phase, kPhaseStyles[k].color, kPhaseStyles[k].opacity});
            phase_s[k] += p.t1_s - p.t0_s;
        }
    }

    // Long runs: each of ~900 buckets keeps its min and max sample, in time order, so the line
    // keeps its spikes (plain striding would drop them) and the SVG stays small.
    const size_t n = tl.t_s.size();
    const size_t buckets = 900;
    auto decimate = [&](const std::vector<double> & y, std::vector<double> & ox, std::vector<double> & oy) {
        const size_t m = std::min(n, y.size());  // a column shorter than the clock: plot what there is
        if (m <= 2 * buckets) {
            ox.assign(tl.t_s.begin(), tl.t_s.begin() + long(m));
            oy.assign(y.begin(), y.begin() + long(m));
            return;
        }
        for (size_t b = 0; b < buckets; ++b) {
            const size_t i0 = b * m / buckets, i1 = std::max(i0 + 1, (b + 1) * m / buckets);
            size_t lo = i0, hi = i0;
            for (size_t i = i0; i < i1 && i < m; ++i) {
                if (!std::isfinite(y[i])) continue;
                if (!std::isfinite(y[lo]) || y[i] < y[lo]) lo = i;
                if (!std::isfinite(y[hi]) || y[i] > y[hi]) hi = i;
            }
            for (size_t i : {std::min(lo, hi), std::max(lo, hi)}) {
                ox.push_back(tl.t_s[i]);
                oy.push_back(y[i]);
                if (lo == hi) break;
            }
        }
    };
    static const char * kLineColors[] = {"#1f2328", "#D55E00", "#009E73", "#CC79A7", "#332288", "#8C6D31"};
    std::vector<std::vector<double>> columns = tl.power_w;
    std::vector<std::string> names = tl.domains;
    names.resize(columns.size());
    for (size_t d = 0; d < names.size(); ++d) {
        if (names[d].empty()) names[d] = fmt::format("domain {}", d);
    }
    // A modelled domain (the CPU estimate beside a GPU's counter) is drawn dashed, named as an
    // estimate and left out of the total, as it is left out of the measured energy.
    std::vector<bool> modelled(columns.size(), false);
    size_t n_measured = 0;
    for (size_t d = 0; d < columns.size(); ++d) {
        modelled[d] = !cell.estimated && cell.estimate_domains.count(names[d]) > 0;
        if (modelled[d]) names[d] += " (estimate)";
        n_measured += modelled[d] ? 0 : 1;
    }
    const bool with_total = n_measured > 1;
    if (with_total) {
        std::vector<double> total(n, 0.0);
        for (size_t d = 0; d < columns.size(); ++d) {
            if (modelled[d]) continue;
            for (size_t i = 0; i < n && i < columns[d].size(); ++i) {
                total[i] += std::isfinite(columns[d][i]) ? columns[d][i] : 0.0;
            }
        }
        columns.push_back(std::move(total));
        names.push_back(n_measured < tl.power_w.size() ? "total measured" : "total");
    }
    for (size_t d = 0; d < columns.size(); ++d) {
        svg::Series s;
        s.name = names[d];
        s.color = kLineColors[d % std::size(kLineColors)];
        s.markers = false;
        s.line = true;
        s.step = true;  // a sample holds until the next one (the meter's timeline does the same)
        const bool total = with_total && d + 1 == columns.size();
        const bool estimate = d < modelled.size() && modelled[d];
        s.line_width = total ? 1.8 : estimate ? 1.0 : 1.3;
        s.dashed = total || estimate;
        s.css_class = "power-series";
        decimate(columns[d], s.x, s.y);
        c.series.push_back(std::move(s));
    }
    std::string caption = "Shaded: the run's phases.";
    for (size_t k = 0; k < std::size(kPhaseStyles); ++k) {
        if (phase_s[k] > 0) caption += fmt::format(" {} {} s;", kPhaseStyles[k].name, sig(phase_s[k], 3));
    }
    if (caption.back() == ';') caption.back() = '.';
    caption += " Another cell: joulebench report --timeline-cell ID (the id of the cells table).";
    return figure(svg::render(c), "chart-power", caption);
}

// (4) J/token by phase and scheme: prefill and decode side by side, since quantization saves
// energy in memory-bound decode and can cost it in compute-bound prefill (docs/design.md).
std::string unscored_jtoken_charts(const std::vector<UnscoredGroup> & groups, const Analysis & a,
                                   const std::string & reference, double si_basis);

std::string jtoken_charts(const std::vector<GroupView> & groups, const std::vector<UnscoredGroup> & unscored,
                          const Analysis & a, const std::string & reference) {
    auto value = [](const SchemePoint & p, int phase) {
        return phase == 0 ? metrics::j_per_token(p.prefill_j, p.prefill_tokens)
                          : metrics::j_per_token(p.decode_j, p.decode_tokens);
    };
    // The charts of this section sit side by side: one unit for all of them (the largest value's),
    // so that J/token never stands beside mJ/token.
    double largest = 0.0;
    auto widen = [&](double v) {
        if (std::isfinite(v)) largest = std::max(largest, v);
    };
    for (const auto & g : groups) {
        for (const auto & p : g.points) {
            for (int phase = 0; phase < 2; ++phase) widen(value(p, phase));
        }
    }
    for (const auto & g : unscored) {
        for (const auto * s : g.summaries) {
            widen(s->prefill_j_per_token);
            widen(s->decode_j_per_token);
        }
    }
    std::string out = unscored_jtoken_charts(unscored, a, reference, largest);
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const GroupView & g = groups[gi];
        if (g.points.empty()) continue;
        for (int phase = 0; phase < 2; ++phase) {
            const char * name = phase == 0 ? "prefill" : "decode";
            svg::BarChart c;
            c.id = fmt::format("chart-jtok-{}-{}", name, gi);
            c.title = group_title(phase == 0 ? "Prefill J/token" : "Decode J/token", g);
            c.subtitle = group_subtitle(g);
            c.y = {phase == 0 ? "Prefill" : "Decode", "J/token", false, true, true, std::nullopt, std::nullopt, 6};
            if (largest > 0) c.y.si_basis = largest;
            c.legend = false;
            c.height = 320;
            svg::BarSeries s{name, "#0072B2", {}, {}, {}, {}};
            double ref_value = NAN;
            for (const auto & p : g.points) {
                if (p.scheme == reference) ref_value = value(p, phase);
            }
            bool any = false;
            for (const auto & p : g.points) {
                const double v = value(p, phase);
                any = any || std::isfinite(v);
                c.categories.push_back(p.scheme);
                s.values.push_back(v);
                s.colors.push_back(color_of(a.scheme_order, p.scheme));
                s.labels.push_back(!std::isfinite(v)           ? ""
                                   : p.scheme == reference    ? "ref"
                                   : std::isfinite(ref_value) ? signed_pct(energy_saving(v, ref_value))
                                                              : sig(v));
            }
            if (!any) {
                out += figure(fmt::format("<p class=\"empty-note\" id=\"{}\">{}: no {} tokens in these tasks "
                                          "(log-likelihood tasks have no decode phase).</p>\n",
                                          escape(c.id), escape(c.title), name),
                              "chart-jtok chart-empty", "");
                continue;
            }
            c.series = {s};
            out += figure(svg::render(c), "chart-jtok", saving_caption(reference, "the same tasks"));
        }
    }
    return out.empty() ? empty_note("No phase energies recorded.") : out;
}

// (4, synthetic workloads) J/token per workload and phase, one chart each: workloads differ by
// orders of magnitude (one sequence vs a batch of 32), so they do not share an axis.
std::string unscored_jtoken_charts(const std::vector<UnscoredGroup> & groups, const Analysis & a,
                                   const std::string & reference, double si_basis) {
    std::string out;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const UnscoredGroup & g = groups[gi];
        for (size_t wi = 0; wi < g.workloads.size(); ++wi) {
            const std::string & workload = g.workloads[wi];
            for (int phase = 0; phase < 2; ++phase) {
                const char * name = phase == 0 ? "prefill" : "decode";
                svg::BarChart c;
                c.id = fmt::format("chart-jtok-workload-{}-{}-{}", name, gi, wi);
                c.title = fmt::format("{} J/token: {}", phase == 0 ? "Prefill" : "Decode", workload);
                c.subtitle = fmt::format("{} on {} \u00b7 synthetic workload (no accuracy)", g.model_name,
                                         metrics::hardware_label(g.device, g.host_name)) +
                             (g.estimated ? " \u00b7 energy ESTIMATED" : "") + (g.synthetic ? " \u00b7 synthetic model" : "");
                c.y = {phase == 0 ? "Prefill" : "Decode", "J/token", false, true, true, std::nullopt, std::nullopt, 6};
                if (si_basis > 0) c.y.si_basis = si_basis;
                c.legend = false;
                c.height = 300;
                svg::BarSeries ser{name, "#0072B2", {}, {}, {}, {}};
                double ref_value = NAN;
                bool any = false;
                for (const auto * s : g.summaries) {
                    if (s->task != workload) continue;
                    const double v = phase == 0 ? s->prefill_j_per_token : s->decode_j_per_token;
                    if (metrics::is_reference(*s, reference)) ref_value = v;
                    any = any || std::isfinite(v);
                }
                if (!any) continue;  // a decode-only workload has no prefill chart, and the reverse
                for (const auto * s : g.summaries) {
                    if (s->task != workload) continue;
                    const double v = phase == 0 ? s->prefill_j_per_token : s->decode_j_per_token;
                    c.categories.push_back(s->scheme);
                    ser.values.push_back(v);
                    ser.colors.push_back(color_of(a.scheme_order, s->scheme));
                    ser.labels.push_back(!std::isfinite(v)                       ? ""
                                         : metrics::is_reference(*s, reference) ? "ref"
                                         : std::isfinite(ref_value)             ? signed_pct(energy_saving(v, ref_value))
                                                                                : sig(v));
                }
                c.series = {ser};
                out += figure(svg::render(c), "chart-jtok chart-jtok-workload",
                              saving_caption(reference, "the same workload"));
            }
        }
    }
    return out;
}

// (5) Speed and energy per token of the synthetic workloads: each scheme relative to the
// reference on the same workload (the absolute numbers are the labels and the table), so
// workloads of very different sizes share one chart.
std::string token_charts(const std::vector<UnscoredGroup> & groups, const Analysis & a, const std::string & reference) {
    std::string out;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const UnscoredGroup & g = groups[gi];
        std::vector<std::string> schemes;
        for (const auto & name : a.scheme_order) {
            if (std::any_of(g.summaries.begin(), g.summaries.end(), [&](const auto * s) { return s->scheme == name; })) {
                schemes.push_back(name);
            }
        }
        auto find = [&](const std::string & workload, const std::string & scheme) -> const metrics::Summary * {
            for (const auto * s : g.summaries) {
                if (s->task == workload && s->scheme == scheme) return s;
            }
            return nullptr;
        };
        for (int which = 0; which < 2; ++which) {
            svg::BarChart c;
            c.id = fmt::format("chart-{}-{}", which == 0 ? "token-energy" : "token-speed", gi);
            c.title = fmt::format("{} vs {}: {} on {}", which == 0 ? "Energy per token" : "Tokens per second",
                                  reference, g.model_name, metrics::hardware_label(g.device, g.host_name));
            c.subtitle = fmt::format("{} synthetic workload{} (no accuracy){}", g.workloads.size(),
                                     g.workloads.size() == 1 ? "" : "s", g.estimated ? " \u00b7 energy ESTIMATED" : "");
            c.categories = g.workloads;
            c.y = {which == 0 ? "J/token" : "tok/s", fmt::format("% of {}", reference), false, false, true,
                   std::nullopt, std::nullopt, 6};
            c.x_label = "workload";
            c.width = 1100;
            c.height = 360;
            bool any = false;
            for (const auto & scheme : schemes) {
                svg::BarSeries ser{scheme, color_of(a.scheme_order, scheme), {}, {}, {}, {}};
                for (const auto & w : g.workloads) {
                    const auto * s = find(w, scheme);
                    const auto * r = find(w, reference);
                    const double v = s ? (which == 0 ? s->j_per_token : s->tok_s) : NAN;
                    const double rv = r ? (which == 0 ? r->j_per_token : r->tok_s) : NAN;
                    const double rel = std::isfinite(v) && std::isfinite(rv) && rv > 0 ? 100.0 * v / rv : NAN;
                    any = any || std::isfinite(rel);
                    ser.values.push_back(rel);
                    ser.labels.push_back(!std::isfinite(v) ? "" : v >= 1000 ? fmt::format("{:.0f}", v) : sig(v));
                }
                c.series.push_back(std::move(ser));
            }
            if (!any) continue;
            out += figure(svg::render(c), which == 0 ? "chart-token-energy wide" : "chart-token-speed wide",
                          which == 0 ? "Bars: J/token as % of the reference on the same workload (lower saves "
                                       "energy); labels: J/token."
                                     : "Bars: tokens/s as % of the reference on the same workload (higher is "
                                       "faster); labels: tokens/s.");
        }
    }
    if (out.empty() && !groups.empty()) {
        out = empty_note(fmt::format("No synthetic workload has both its own and the {} scheme's J/token.", reference));
    }
    return out;
}

// Drops the columns that hold one value in every row and says that value once instead (one
// host and one model: no need to repeat them on every line of the page).
std::string collapse_constant_columns(Table & t, const std::vector<std::string> & names) {
    std::vector<std::string> said;
    for (const auto & name : names) {
        size_t c;
        try {
            c = t.column_index(name);
        } catch (const std::out_of_range &) {
            continue;
        }
        if (t.rows.size() < 2) continue;
        const std::string first = format_value(t.rows.front()[c], 0);
        bool constant = true;
        for (const auto & r : t.rows) constant = constant && format_value(r[c], 0) == first;
        if (!constant) continue;
        if (name == "energy_estimated") {
            said.push_back(first == "1" ? "all energies estimated" : "all energies measured");
        } else if (name == "projected") {
            said.push_back(first == "1" ? "all rows PROJECTED (not measured)" : "no projected rows");
        } else if (name == "repeats") {
            said.push_back(fmt::format("{} repeat{} per cell", first, first == "1" ? "" : "s"));
        } else if (!first.empty()) {
            said.push_back(fmt::format("{}: {}", t.columns[c].header, first));
        }
        t.columns.erase(t.columns.begin() + long(c));
        for (auto & r : t.rows) r.erase(r.begin() + long(c));
    }
    return join(said, " \u00b7 ");
}

std::string table_block(const Table & t, const std::string & id, const std::string & caption = "",
                        const std::vector<std::string> & subrow_columns = {"note", "why", "goal", "error"}) {
    std::string out;
    if (!caption.empty()) out += fmt::format("<p class=\"caption\">{}</p>\n", escape(caption));
    return out + html_table(t, id, subrow_columns);
}

std::string provenance(const ReportInput & in, const std::vector<NamedTable> & tables) {
    std::string out;
    out += "<dl class=\"defs\">\n";
    out += fmt::format("<dt>database</dt><dd><code>{}</code></dd>\n", escape(in.source));
    out += fmt::format("<dt>report</dt><dd>joulebench {} (llama.cpp {}), generated {}</dd>\n",
                       escape(JOULEBENCH_VERSION), escape(JOULEBENCH_LLAMA_COMMIT), escape(in.generated_at));
    std::set<std::string> commits, versions;
    for (const auto & h : in.hosts) {
        if (!h.llama_commit.empty()) commits.insert(h.llama_commit);
        if (!h.joulebench_version.empty()) versions.insert(h.joulebench_version);
    }
    out += fmt::format("<dt>measured with</dt><dd>joulebench {}; llama.cpp {}</dd>\n",
                       escape(versions.empty() ? "?" : join(versions, ", ")),
                       escape(commits.empty() ? "?" : join(commits, ", ")));
    std::vector<std::string> synthetic;
    for (const auto & m : in.models) {
        if (m.synthetic) synthetic.push_back(m.file_name);
    }
    out += fmt::format("<dt>synthetic models</dt><dd>{}</dd>\n",
                       escape(synthetic.empty() ? "none" : join(synthetic, ", ") + " (random weights: accuracy is chance)"));
    out += "</dl>\n";
    for (const auto & t : tables) {
        if (t.name == "summary" || t.name == "overall" || t.name == "tokens" || t.name == "decision" ||
            t.name == "hardware" || t.name == "hardware_tokens" || t.name == "families") {
            continue;  // shown in their own sections
        }
        if ((t.name == "failed" || t.name == "tuned" || t.name == "host_spread") && t.table.rows.empty()) continue;
        out += fmt::format("<h3 id=\"prov-{}\">{}</h3>\n", escape(t.name), escape(t.table.title));
        if (t.table.rows.empty()) {
            out += empty_note("none recorded");
            if (!t.table.notes.empty()) {
                out += "<ul class=\"notes\">\n";
                for (const auto & n : t.table.notes) out += fmt::format("<li>{}</li>\n", escape(n));
                out += "</ul>\n";
            }
            continue;
        }
        out += table_block(t.table, "table-" + t.name);
    }
    return out;
}

}  // namespace

std::string html_table(const Table & t, const std::string & id, const std::vector<std::string> & subrow_columns) {
    static const std::set<std::string> wrapped = {"note", "why", "error", "goal", "runner_up"};
    std::vector<bool> in_subrow(t.columns.size());
    size_t n_main = 0;
    for (size_t i = 0; i < t.columns.size(); ++i) {
        in_subrow[i] = std::find(subrow_columns.begin(), subrow_columns.end(), t.columns[i].name) != subrow_columns.end();
        n_main += in_subrow[i] ? 0 : 1;
    }
    std::string out = fmt::format("<div class=\"table-wrap\"><table class=\"data\" id=\"{}\">\n<thead><tr>", escape(id));
    for (size_t i = 0; i < t.columns.size(); ++i) {
        const Column & c = t.columns[i];
        if (in_subrow[i]) continue;
        out += fmt::format("<th{} title=\"{}\">{}</th>", c.right_align ? " class=\"num\"" : "", escape(c.name),
                           escape(c.header));
    }
    out += "</tr></thead>\n<tbody>\n";
    for (const auto & row : t.rows) {
        std::string cells, sub;
        for (size_t i = 0; i < row.size(); ++i) {
            const Column & c = t.columns[i];
            const std::string v = format_cell(c, row[i]);
            if (in_subrow[i]) {
                // Long text under its row, across the table: the numbers stay on one screen.
                if (!v.empty()) {
                    sub += fmt::format("{}<b>{}:</b> {}", sub.empty() ? "" : " \u00b7 ", escape(c.header), escape(v));
                }
                continue;
            }
            std::string cls = c.right_align ? "num" : "";
            if (wrapped.count(c.name)) cls += cls.empty() ? "wrap" : " wrap";
            if (v.empty()) cls += cls.empty() ? "none" : " none";
            cells += fmt::format("<td{}>{}</td>", cls.empty() ? "" : fmt::format(" class=\"{}\"", cls),
                                 v.empty() ? "\u2013" : escape(v));
        }
        out += fmt::format("<tr{}>{}</tr>\n", sub.empty() ? "" : " class=\"main\"", cells);
        if (!sub.empty()) out += fmt::format("<tr class=\"sub\"><td colspan=\"{}\">{}</td></tr>\n", n_main, sub);
    }
    out += "</tbody></table></div>\n";
    if (!t.notes.empty()) {
        out += "<ul class=\"notes\">\n";
        for (const auto & n : t.notes) out += fmt::format("<li>{}</li>\n", escape(n));
        out += "</ul>\n";
    }
    return out;
}

std::string render_html(const ReportInput & in) {
    const Analysis a = analyze(in);
    const std::vector<GroupView> groups = group_views(in, a);
    const std::vector<UnscoredGroup> unscored = unscored_groups(a);
    std::vector<NamedTable> tables = report_tables(in, a);
    auto table_named = [&](const std::string & name) -> Table & {
        for (auto & t : tables) {
            if (t.name == name) return t.table;
        }
        throw std::logic_error("no table " + name);
    };

    std::set<std::string> hosts, models, schemes, tasks;
    size_t n_ok = 0;
    for (const auto & r : in.rows) {
        if (!r.ok) continue;
        ++n_ok;
        hosts.insert(r.host);
        models.insert(r.model);
        schemes.insert(r.scheme);
        tasks.insert(r.task);
    }
    // Served levels count their hosts, models and schemes too (a database of serve runs only has no cells).
    for (const auto & l : in.serve_levels) {
        hosts.insert(l.host_fingerprint);
        models.insert(l.model_hash);
        schemes.insert(l.scheme_name.empty() ? l.scheme_canonical : l.scheme_name);
    }
    auto count = [](size_t n, const char * what) { return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s"); };
    const std::string served =
        in.serve_levels.empty() ? "" : " \u00b7 " + count(in.serve_levels.size(), "served level");

    std::string h;
    h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
    h += fmt::format("<meta name=\"generator\" content=\"joulebench {}\"/>\n", escape(JOULEBENCH_VERSION));
    h += fmt::format("<title>{} \u2014 {}</title>\n", escape(in.title), escape(in.source));
    h += fmt::format("<style>{}</style>\n</head>\n<body>\n<main>\n", kCss);

    h += "<header>\n";
    h += fmt::format("<h1>{}</h1>\n", escape(in.title));
    h += fmt::format(
        "<p class=\"meta\"><code>{}</code> \u00b7 generated {} \u00b7 {} ({} failed){} \u00b7 {} \u00b7 {} \u00b7 {} "
        "\u00b7 {} \u00b7 reference scheme <code>{}</code></p>\n",
        escape(in.source), escape(in.generated_at), count(n_ok + in.failed.size(), "cell"), in.failed.size(), served,
        count(hosts.size(), "host"), count(models.size(), "model"), count(schemes.size(), "scheme"),
        count(tasks.size(), "task"), escape(in.options.reference));
    h += "</header>\n";

    if (!a.warnings.empty()) h += "<div class=\"banners\" id=\"warnings\">\n";
    for (const auto & w : a.warnings) {
        // Estimates and synthetic models change what every number means: they stand out.
        const bool severe = w.kind == "estimated" || w.kind == "synthetic";
        const char * lead = w.kind == "estimated"   ? "Estimated energy."
                            : w.kind == "synthetic" ? "Synthetic model."
                            : w.kind == "failed"    ? "Failed cells."
                            : w.kind == "reference" ? "Missing reference."
                            : w.kind == "projected" ? "Projected rows."
                            : w.kind == "load"      ? "Other load."
                                                    : "Note.";
        h += fmt::format("<div class=\"banner{}\" id=\"warning-{}\" role=\"note\"><strong>{}</strong> {}</div>\n",
                         severe ? " severe" : "", escape(w.kind), lead, escape(w.text));
    }
    if (!a.warnings.empty()) h += "</div>\n";

    h += "<nav class=\"toc\">";
    for (const auto & [id, name] : std::vector<std::pair<const char *, const char *>>{
             {"pareto", "Accuracy vs energy"},
             {"efficiency", "EOR and TWEOR"},
             {"power", "Power over time"},
             {"jtoken", "J/token by phase"},
             {"tokens", "Speed and energy per token"},
             {"decision", "Decision matrix"},
             {"hardware", "Hardware side by side"},
             {"families", "Distillation"},
             {"serving", "Serving"},
             {"tables", "Tables"},
             {"provenance", "Provenance"}}) {
        h += fmt::format("\n<a href=\"#{}\">{}</a>", id, name);  // a line break between links: they wrap
    }
    h += "\n</nav>\n";

    h += "<section id=\"pareto\">\n<h2>1. Accuracy vs energy</h2>\n";
    h += "<p class=\"lead\">Each scheme's mean score over the tasks every scheme ran on that host and model, against "
         "the energy of running them all. Filled points are on the Pareto frontier: no other scheme is at least as "
         "accurate for less energy.</p>\n";
    {
        // Without any chart the section's note says why; with some, one line says where the rest went.
        const std::string charts = pareto_charts(groups, a);
        if (a.any_unscored && a.any_scored) {
            h += fmt::format("<p class=\"lead\">The synthetic workloads ({}) have no accuracy: they are measured for "
                             "speed and energy only, in sections 4 and 5.</p>\n",
                             escape(unscored_names(a)));
        }
        h += "<div class=\"charts\">\n" + charts + "</div>\n</section>\n";
    }

    h += "<section id=\"efficiency\">\n<h2>2. Energy efficiency: EOR and TWEOR</h2>\n";
    h += "<dl class=\"defs\"><dt>EOR</dt><dd>score (%) / energy (Wh), for one fixed workload</dd>"
         "<dt>TWEOR</dt><dd>score (%) / (energy (Wh) \u00d7 T / T<sub>ref</sub>): EOR penalised for running slower "
         "than the reference</dd><dt>gain</dt><dd>EOR / EOR(reference) \u2212 1, same host, model and "
         "workload</dd></dl>\n";
    if (a.any_unscored && a.any_scored) {
        h += "<p class=\"lead\">EOR needs a score, so the synthetic workloads (no accuracy) have none; their "
             "energy is compared per token in section 5.</p>\n";
    }
    h += "<div class=\"charts\">\n" + efficiency_charts(groups, a) + "</div>\n</section>\n";

    h += "<section id=\"power\">\n<h2>3. Power over time</h2>\n";
    h += "<p class=\"lead\">One run's power as the meter sampled it, with its load, prefill and decode phases "
         "shaded.</p>\n";
    h += power_chart(in) + "</section>\n";

    h += "<section id=\"jtoken\">\n<h2>4. Energy per token by phase</h2>\n";
    h += "<p class=\"lead\">Joules per prompt token (prefill) and per generated token (decode), over the same "
         "tasks as above. Quantization tends to save energy in memory-bound decode and may cost energy in "
         "compute-bound prefill, so the two are shown apart.</p>\n";
    h += "<div class=\"charts\">\n" + jtoken_charts(groups, unscored, a, in.options.reference) +
         "</div>\n</section>\n";

    h += "<section id=\"tokens\">\n<h2>5. Speed and energy per token</h2>\n";
    if (unscored.empty() && !a.any_scored && !in.serve_levels.empty()) {
        h += empty_note("No synthetic workloads (tg256r5, pp2048r30, ...) in this database, only served levels.");
    } else if (unscored.empty()) {
        h += empty_note("No synthetic workloads (tg256r5, pp2048r30, ...) in this database: every task is scored.");
    } else {
        h += fmt::format(
            "<p class=\"lead\">Synthetic workloads (llama-bench style: <code>tg256r5</code> decodes 256 tokens 5 "
            "times, <code>pp2048r30</code> prefills 2048 tokens 30 times, <code>x8</code> runs 8 sequences) have no "
            "accuracy. Every scheme does the same work for one name, so they compare on energy per token and "
            "speed, against <code>{}</code>.</p>\n",
            escape(in.options.reference));
        h += "<div class=\"charts\">\n" + token_charts(unscored, a, in.options.reference) + "</div>\n";
        Table tokens = table_named("tokens");
        const std::string said = collapse_constant_columns(tokens, {"host_name", "model_name", "repeats", "energy_estimated", "device", "projected"});
        h += "<h3>Per workload and scheme</h3>\n" + table_block(tokens, "table-tokens", said);
    }
    h += "</section>\n";

    h += "<section id=\"decision\">\n<h2>6. Decision matrix</h2>\n";
    if (a.any_scored) {
        h += "<p class=\"lead\">For each use-case profile, the hardware and scheme that best meet its constraints "
             "(<code>joulebench recommend</code> gives the same answer for one profile).</p>\n";
    } else if (!unscored.empty()) {
        h += "<p class=\"lead\">Recommendations rank accuracy per energy, so they need scored tasks (mmlu, "
             "hellaswag, ...); this database holds only synthetic workloads with no accuracy. Their energy and "
             "speed are in section 5.</p>\n";
    } else {
        h += empty_note(in.serve_levels.empty()
                            ? "No scored task in this database: recommendations rank accuracy per energy."
                            : "No scored task in this database, only served levels: each scheme's operating "
                              "point under load is in \u201cServing under load\u201d below.");
    }
    if (Table decision = table_named("decision"); !decision.rows.empty() || a.any_scored) {
        const std::string said = collapse_constant_columns(decision, {"model_name", "origin"});
        h += table_block(decision, "table-decision", said);
    }
    h += "<h3 id=\"hardware\">Hardware side by side</h3>\n";
    {
        Table hardware = table_named("hardware");
        Table tokens = table_named("hardware_tokens");
        if (!tokens.rows.empty()) {
            h += "<p class=\"lead\">The same synthetic workload, model and scheme on each host: speed, energy per "
                 "token by phase, and J/token against the most frugal host.</p>\n";
            const std::string said =
                collapse_constant_columns(tokens, {"model_name", "host_name", "projected", "energy_estimated"});
            h += table_block(tokens, "table-hardware-tokens", said);
        }
        if (hardware.rows.empty() && tokens.rows.empty()) {
            h += fmt::format("<div id=\"table-hardware\">{}</div>\n",
                             empty_note(a.n_hosts > 1
                                            ? "The hosts share no model, scheme and task set, so none compare side "
                                              "by side."
                                            : "One host: measure on another (or project to a catalogue GPU) and "
                                              "joulebench merge the databases to compare hardware side by side."));
        } else if (!hardware.rows.empty()) {
            h += "<p class=\"lead\">The same model, scheme and tasks on each host: the device, its energy against "
                 "the most frugal host, speed and cost.</p>\n";
            const std::string said = collapse_constant_columns(hardware, {"model_name", "projected", "energy_estimated"});
            h += table_block(hardware, "table-hardware", said);
        }
    }
    h += "<h3 id=\"families\">Distillation: distilled vs base model</h3>\n";
    {
        Table families = table_named("families");
        if (families.rows.empty()) {
            h += fmt::format("<div id=\"table-families\">{}</div>\n",
                             empty_note(a.family_notes.empty()
                                            ? "No model family in this database (joulebench sweep --family "
                                              "base=teacher.gguf,distilled=student.gguf records one)."
                                            : join(a.family_notes, "; ")));
        } else {
            h += "<p class=\"lead\">";
            for (const auto & line : family_headlines(a.families, in.options.reference)) h += escape(line) + " ";
            h += "</p>\n";
            const std::string said =
                collapse_constant_columns(families, {"family", "host_name", "device", "projected", "energy_estimated"});
            h += table_block(families, "table-families", said);
        }
    }
    h += "</section>\n";

    h += serving_html_section(in);  // report/html_serving.cpp
    h += "<section id=\"tables\">\n<h2>7. Results</h2>\n";
    {
        Table overall = table_named("overall");
        const std::string said = collapse_constant_columns(
            overall, {"host_name", "device", "model_name", "energy_estimated", "projected", "cost_tier", "usd_per_mtok"});
        // A database of served levels only has no cell to tabulate here.
        const std::string no_cells = "No cells in this database, only served levels: their tables are in "
                                     "\u201cServing under load\u201d above.";
        h += "<h3>Schemes over all their tasks</h3>\n";
        if (overall.rows.empty() && !a.any_scored) {
            h += fmt::format("<div id=\"table-overall\">{}</div>\n",
                             empty_note(!unscored.empty() || in.serve_levels.empty()
                                            ? "No scored task: the synthetic workloads are compared in section 5."
                                            : no_cells));
        } else {
            h += table_block(overall, "table-overall", said);
        }
        Table summary = table_named("summary");
        const std::string said2 = collapse_constant_columns(
            summary, {"host_name", "model_name", "repeats", "energy_sd_j", "energy_estimated", "device", "projected"});
        h += "<h3>By scheme and task</h3>\n";
        if (summary.rows.empty() && !in.serve_levels.empty()) {
            h += fmt::format("<div id=\"table-summary\">{}</div>\n", empty_note(no_cells));
        } else {
            h += table_block(summary, "table-summary", said2);
        }
    }
    h += "</section>\n";

    h += "<section id=\"provenance\">\n<h2>8. Provenance</h2>\n";
    h += provenance(in, tables);
    h += "</section>\n";

    h += fmt::format(
        "<footer>Generated by joulebench {} from <code>{}</code>. Self-contained: no scripts, fonts or network "
        "requests.</footer>\n",
        escape(JOULEBENCH_VERSION), escape(in.source));
    h += "</main>\n</body>\n</html>\n";
    return h;
}

}  // namespace jb::report
