// What the report's labels say (issue 21, items 5, 8 and 9): the decision matrix's origin, one
// name and sign for "vs the reference" in every table and chart, one energy unit across the J/token
// charts, error bars on zero-based axes in the accuracy-vs-energy chart, each section once, and the
// cells measured beside other load. Expectations are hand-computed from report_fixture.hpp.

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "report/report.hpp"
#include "report/svg.hpp"
#include "report_fixture.hpp"
#include "xml_check.hpp"

namespace {

using namespace jb::report;

size_t count(const std::string & haystack, const std::string & needle) {
    size_t n = 0;
    for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}

// The SVG of one chart.
std::string chart(const std::string & html, const std::string & id) {
    const size_t begin = html.find("id=\"" + id + "\"");
    if (begin == std::string::npos) return "";
    return html.substr(begin, html.find("</svg>", begin) - begin);
}

// The figure (chart and caption) holding one chart.
std::string figure_of(const std::string & html, const std::string & id) {
    const size_t at = html.find("id=\"" + id + "\"");
    if (at == std::string::npos) return "";
    const size_t begin = html.rfind("<figure", at);
    return html.substr(begin, html.find("</figure>", at) - begin);
}

const jb::Table & table(const std::vector<NamedTable> & tables, const std::string & name) {
    for (const auto & t : tables) {
        if (t.name == name) return t.table;
    }
    throw std::logic_error("no table " + name);
}

std::string text_at(const jb::Table & t, size_t row, const std::string & column) {
    const auto & v = t.rows.at(row).at(t.column_index(column));
    return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
}

double number_at(const jb::Table & t, size_t row, const std::string & column) {
    const auto & v = t.rows.at(row).at(t.column_index(column));
    return std::holds_alternative<double>(v) ? std::get<double>(v) : NAN;
}

// Only the rows of one host: "hostgpu" (measured, NVML) or "hostcpu" (estimated).
ReportInput only_host(const std::string & host) {
    ReportInput in = jb_test::make_report_input();
    std::erase_if(in.rows, [&](const jb::metrics::Row & r) { return r.host != host || !r.ok; });
    in.failed.clear();
    return in;
}

}  // namespace

TEST(DecisionOrigin, says_estimated_for_estimated_cells_and_measured_for_measured_ones) {
    for (const auto & [host, origin] : {std::pair<std::string, std::string>{"hostcpu", "estimated"},
                                        std::pair<std::string, std::string>{"hostgpu", "measured"}}) {
        const ReportInput in = only_host(host);
        const Analysis a = analyze(in);
        const jb::Table t = decision_table(a, in.options);
        size_t with_best = 0;
        for (size_t r = 0; r < t.rows.size(); ++r) {
            if (text_at(t, r, "scheme").empty()) continue;
            ++with_best;
            EXPECT_EQ(text_at(t, r, "origin"), origin) << host << " row " << r;
        }
        EXPECT_GT(with_best, 0u) << host;
        bool noted = false;
        for (const auto & n : t.notes) noted = noted || n.rfind("origin estimated:", 0) == 0;
        EXPECT_EQ(noted, origin == "estimated") << host;
    }
}

TEST(SavingConvention, every_table_names_it_and_positive_means_less_energy) {
    // int8 uses 0.8 x fp16's energy on every task of the fixture, q4_k_m 0.6 x: savings +20 % and +40 %.
    const ReportInput in = only_host("hostgpu");
    const Analysis a = analyze(in);
    const auto tables = report_tables(in, a);
    for (const char * name : {"summary", "overall", "decision"}) {
        const jb::Table & t = table(tables, name);
        const auto & col = t.columns.at(t.column_index("energy_saving_pct"));
        EXPECT_EQ(col.header, "energy saving vs fp16 (%)") << name;
    }
    const jb::Table & summary = table(tables, "summary");
    size_t checked = 0;
    for (size_t r = 0; r < summary.rows.size(); ++r) {
        const std::string scheme = text_at(summary, r, "scheme");
        const double want = scheme == "fp16" ? 0.0 : scheme == "int8" ? 20.0 : 40.0;
        EXPECT_NEAR(number_at(summary, r, "energy_saving_pct"), want, 1e-9) << scheme;
        ++checked;
    }
    EXPECT_EQ(checked, 12u);  // 2 models x 3 schemes x 2 tasks
    bool defined = false;
    for (const auto & n : summary.notes) defined = defined || n.find("energy saving vs fp16 = 1 - E / E(fp16), positive "
                                                                     "when the scheme uses less energy") != std::string::npos;
    EXPECT_TRUE(defined);
    // Hosts side by side: named as the extra energy over the most frugal host.
    const jb::Table hw = hardware_table(analyze(jb_test::make_report_input()));
    EXPECT_EQ(hw.columns.at(hw.column_index("energy_vs_best_pct")).header, "extra energy vs best host (%)");
}

TEST(SavingConvention, jtoken_chart_labels_are_savings_not_changes) {
    // Prefill: fp16 spends 400 + 0.3 x 900 = 670 J on 40000 tokens, int8 0.8 x that, q4_k_m 0.6 x:
    // labels +20 % and +40 % (the old labels were the change in J/token, -20 % and -40 %).
    const std::string html = render_html(only_host("hostgpu"));
    for (const char * id : {"chart-jtok-prefill-0", "chart-jtok-decode-0"}) {
        const std::string svg = chart(html, id);
        ASSERT_FALSE(svg.empty()) << id;
        EXPECT_NE(svg.find(">+20 %<"), std::string::npos) << id;
        EXPECT_NE(svg.find(">+40 %<"), std::string::npos) << id;
        EXPECT_EQ(svg.find("\u221220 %"), std::string::npos) << id;
        EXPECT_NE(figure_of(html, id).find("Labels: energy saving per token vs fp16"), std::string::npos) << id;
    }
}

TEST(Units, neighbouring_jtoken_charts_share_one_unit) {
    // Decode at 10 x the fixture's energy: 6300 J / 3000 tokens = 2.1 J/token, prefill 0.0168 J/token.
    // On their own the charts would read J/token and mJ/token; side by side they share the larger.
    ReportInput in = only_host("hostgpu");
    for (auto & r : in.rows) {
        if (std::isfinite(r.decode_j)) r.decode_j *= 10;
    }
    const std::string html = render_html(in);
    for (const char * id : {"chart-jtok-prefill-0", "chart-jtok-decode-0", "chart-jtok-prefill-1", "chart-jtok-decode-1"}) {
        const std::string svg = chart(html, id);
        ASSERT_FALSE(svg.empty()) << id;
        EXPECT_NE(svg.find("(J/token)"), std::string::npos) << id;
        EXPECT_EQ(svg.find("(mJ/token)"), std::string::npos) << id;
    }
}

TEST(ParetoChart, has_error_bars_and_axes_from_zero) {
    // fp16 on node1: scores 60 % and 30 % (mean 45.00), each task +-2 points: the mean's standard
    // error is sqrt(2^2 + 2^2) / 2 = 1.41 points. One repeat: no energy error bar.
    const std::string html = render_html(only_host("hostgpu"));
    const std::string svg = chart(html, "chart-pareto-0");
    ASSERT_FALSE(svg.empty());
    EXPECT_EQ(count(svg, "class=\"error-bar\""), 3u);  // one per scheme, vertical only
    EXPECT_NE(svg.find("fp16: mean score 45.00 \u00b1 1.41 %"), std::string::npos);
    // Both axes start at zero: a "0" tick on each (the energies are within 20 x, so x is linear).
    EXPECT_GE(count(svg, ">0<"), 2u) << svg;
    EXPECT_NE(figure_of(html, "chart-pareto-0").find("no energy error bar"), std::string::npos);
    EXPECT_EQ(jb_test::xml_error(html), "");
}

TEST(Svg, xy_error_bars_widen_the_axes) {
    jb::svg::XyChart c;
    c.id = "e";
    c.y = {"y", "", false, false, false, std::nullopt, std::nullopt, 6, 0.0};
    jb::svg::Series s;
    s.x = {1, 2};
    s.y = {50, 52};
    s.y_err = {7, 0};  // the second point has none
    s.x_err = {0.5, NAN};
    c.series = {s};
    const std::string svg = jb::svg::render(c);
    EXPECT_EQ(jb_test::xml_error(svg), "") << svg;
    EXPECT_EQ(count(svg, "class=\"error-bar\""), 2u);  // the first point's vertical and horizontal bars
    // 43..59 with the bars (50..52 without): nice ticks from 40 to 60.
    EXPECT_NE(svg.find(">40<"), std::string::npos) << svg;
    EXPECT_NE(svg.find(">60<"), std::string::npos) << svg;
}

TEST(Sections, hardware_side_by_side_appears_once) {
    for (const ReportInput & in : {jb_test::make_report_input(), only_host("hostgpu")}) {
        const std::string html = render_html(in);
        EXPECT_EQ(count(html, "<h3 id=\"hardware\">Hardware side by side</h3>"), 1u);
        EXPECT_EQ(count(html, ">Hardware side by side"), 2u);  // that heading and its link in the navigation
        EXPECT_EQ(html.find("id=\"prov-hardware_tokens\""), std::string::npos);
    }
}

TEST(OtherLoad, busy_cells_are_counted_and_warned_about) {
    ReportInput in = jb_test::make_report_input();
    const std::string quiet = R"({"domains":[],"cpu_load":{"busy":false,"other_cpus":0.01},"idle_cpu_load":{"busy":false}})";
    const std::string busy = R"({"domains":[],"cpu_load":{"busy":true,"other_cpus":1.9},"idle_cpu_load":{"busy":true,"other_cpus":2.0}})";
    add_cell_provenance(in, "node1", "{}", quiet);
    add_cell_provenance(in, "node1", "{}", busy);
    add_cell_provenance(in, "node1", "{}", busy);
    add_cell_provenance(in, "node1", "{}", "not json");
    EXPECT_EQ(in.load.busy_cells, 2u);
    EXPECT_EQ(in.load.busy_idle_cells, 2u);
    EXPECT_DOUBLE_EQ(in.load.max_other_cpus, 2.0);
    const auto notes = cpu_load_notes(in.load, 24);
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_EQ(notes[0].rfind("2 of 24 cells ran beside other load (other processes kept up to 2.0 CPUs busy", 0), 0u)
        << notes[0];
    EXPECT_EQ(notes[1].rfind("The idle baseline of 2 of 24 cells was measured beside other load", 0), 0u) << notes[1];
    const std::string html = render_html(in);
    EXPECT_NE(html.find("id=\"warning-load\""), std::string::npos);
    EXPECT_NE(html.find("<strong>Other load.</strong>"), std::string::npos);
    EXPECT_TRUE(cpu_load_notes(CpuLoadCounts{}, 24).empty());
}
