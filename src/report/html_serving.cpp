// The HTML report's "Serving" section (report/serving.hpp): one chart per host, model and workload
// of J/request against requests/s per scheme (levels joined in order of load; hollow markers miss
// the SLO, the operating point is labelled), then the level, latency and operating-point tables.

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <tuple>

#include "report/serving.hpp"
#include "report/svg.hpp"

namespace jb::report {

namespace {

std::string esc(const std::string & s) {
    return svg::escape(s);
}

std::string chart_for(const std::vector<ServeLevelRecord> & levels,
                      const std::vector<const metrics::SchemeFrontier *> & fs, const metrics::Slo & slo, int n) {
    svg::XyChart c;
    c.id = fmt::format("serving-chart-{}", n);
    c.title = fmt::format("{} on {}: energy per request vs throughput", fs.front()->model_name, fs.front()->host_name);
    c.subtitle = fmt::format("steady-state window where the level has one; hollow: misses {}", slo.str());
    c.x.label = "Throughput";
    c.x.unit = "requests/s";
    c.x.include_zero = true;
    c.y.label = "Energy per request";
    c.y.unit = "J";
    c.y.si_prefix = true;
    c.y.include_zero = true;
    c.x.pad = 0.05;
    c.y.pad = 0.05;
    const auto & colors = svg::palette();
    for (size_t k = 0; k < fs.size(); ++k) {
        const metrics::SchemeFrontier & f = *fs[k];
        // One line per load mode: closed-loop levels (c=) and Poisson arrivals (r=, dashed) are two
        // curves, not one.
        svg::Series line, open_line, hit, miss;
        line.name = f.label + (f.chosen ? " (choose)" : "");
        line.color = open_line.color = hit.color = miss.color = colors[k % colors.size()];
        line.line = open_line.line = true;
        line.markers = open_line.markers = false;
        open_line.dashed = true;
        miss.hollow = true;
        for (size_t i = 0; i < f.levels.size(); ++i) {
            const ServeLevelRecord & l = levels[f.levels[i]];
            const double x = l.best_requests_per_s(), y = l.best_j_per_request();
            if (!std::isfinite(x) || !std::isfinite(y)) continue;
            svg::Series & curve = l.mode == "open" ? open_line : line;
            curve.x.push_back(x);
            curve.y.push_back(y);
            svg::Series & s = f.violations[i].empty() ? hit : miss;
            s.x.push_back(x);
            s.y.push_back(y);
            s.y_err.push_back(l.runs > 1 ? l.j_per_request_ci95 : 0.0);  // repeated runs: the mean's 95 % interval
            const bool op = f.operating_point && *f.operating_point == f.levels[i];
            s.labels.push_back(op ? l.level + " \u2605" : l.level);
            s.tips.push_back(
                fmt::format("{} {}: {:.4g} J/request{}, {:.4g} J/output token, {:.3g} req/s, TTFT p99 "
                            "{:.0f} ms{}",
                            f.label, l.level, y,
                            l.runs > 1 && std::isfinite(l.j_per_request_ci95)
                                ? fmt::format(" ± {:.3g} ({} runs)", l.j_per_request_ci95, l.runs)
                                : std::string(),
                            l.best_j_per_output_token(), x, l.ttft_p99_ms,
                            f.violations[i].empty() ? "" : "; " + f.violations[i]));
        }
        if (!line.x.empty() && !open_line.x.empty()) open_line.name = line.name + ", Poisson arrivals";
        if (line.x.empty()) std::swap(line.name, open_line.name);  // open loop only: its line carries the name
        c.series.push_back(std::move(line));
        c.series.push_back(std::move(open_line));
        c.series.push_back(std::move(hit));
        c.series.push_back(std::move(miss));
    }
    return fmt::format("<figure class=\"chart serving\">\n{}<figcaption>{}</figcaption>\n</figure>\n", svg::render(c),
                       esc("Each point is one load level (c = concurrent clients, solid; r = requests/s of Poisson "
                           "arrivals, dashed); \u2605 marks the scheme's operating point: its lowest J/request that "
                           "meets the SLO. Where a level was run repeatedly (serve --repeats), a bar spans the 95 % "
                           "interval of its mean."));
}

}  // namespace

std::string serving_html_section(const ReportInput & in) {
    std::string h = "<section id=\"serving\">\n<h2>Serving under load</h2>\n";
    if (in.serve_levels.empty()) {
        return h +
               "<p class=\"empty-note\">No served levels in this database (joulebench serve -m MODEL --schemes "
               "fp16,q4_k_m --concurrency 1,4,16 measures them).</p>\n</section>\n";
    }
    const metrics::Slo slo = report_slo(in);
    const auto frontiers = metrics::serving_frontier(in.serve_levels, slo);
    h += "<p class=\"lead\">The model served by llama-server (or an endpoint) on this host, driven by concurrent "
         "streamed requests at each load level. Energy per request falls as more requests share the hardware, until "
         "latency targets are missed; the operating point of a scheme is its lowest energy per request that meets "
         "the SLO (<code>" +
         esc(slo.str()) + "</code>).</p>\n";
    h += "<p class=\"lead\">";
    for (const auto & line : metrics::frontier_headlines(frontiers, in.serve_levels, slo)) h += esc(line) + " ";
    h += "</p>\n<div class=\"charts\">\n";
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<const metrics::SchemeFrontier *>> groups;
    std::vector<std::tuple<std::string, std::string, std::string>> order;
    for (const auto & f : frontiers) {
        const auto k = std::make_tuple(f.host, f.model, f.workload_fp);
        if (!groups.count(k)) order.push_back(k);
        groups[k].push_back(&f);
    }
    int n = 0;
    for (const auto & k : order) h += chart_for(in.serve_levels, groups[k], slo, n++);
    h += "</div>\n";
    h += "<h3>Operating point per scheme</h3>\n" +
         html_table(serve_frontier_table(in.serve_levels, slo), "table-serving-frontier", {"note"});
    h += "<h3>Energy and throughput per level</h3>\n" +
         html_table(serve_levels_table(in.serve_levels), "table-serving", {"note"});
    h += "<h3>Latency percentiles per level</h3>\n" +
         html_table(serve_latency_table(in.serve_levels, slo), "table-serving-latency");
    return h + "</section>\n";
}

}  // namespace jb::report
