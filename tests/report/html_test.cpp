// The HTML report is one self-contained, well-formed file with its charts and tables; the text
// formats carry the same tables.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "report/report.hpp"
#include "report/serving.hpp"
#include "report_fixture.hpp"
#include "joulebench/error.hpp"
#include "xml_check.hpp"

namespace {

using namespace jb::report;

size_t count(const std::string & haystack, const std::string & needle) {
    size_t n = 0;
    for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}

class HtmlReport : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        input_ = new ReportInput(jb_test::make_report_input());
        html_ = new std::string(render_html(*input_));
    }
    static void TearDownTestSuite() {
        delete html_;
        delete input_;
    }
    static ReportInput * input_;
    static std::string * html_;
};
ReportInput * HtmlReport::input_ = nullptr;
std::string * HtmlReport::html_ = nullptr;

TEST_F(HtmlReport, is_well_formed) {
    EXPECT_EQ(html_->rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0), 0u);
    EXPECT_EQ(jb_test::xml_error(*html_), "");
}

TEST_F(HtmlReport, is_self_contained) {
    const std::string & h = *html_;
    // The only URLs are the SVG namespace, once per chart, exactly as written.
    const std::string xmlns = "xmlns=\"http://www.w3.org/2000/svg\"";
    const size_t n_svg = count(h, "<svg ");
    EXPECT_GE(n_svg, 8u);
    EXPECT_EQ(count(h, xmlns), n_svg);
    EXPECT_EQ(count(h, "http://"), n_svg);
    EXPECT_EQ(count(h, "https://"), 0u);
    EXPECT_EQ(count(h, "//"), n_svg) << "a protocol-relative URL (//host/...) would load from the network";
    EXPECT_EQ(count(h, "<script"), 0u);
    EXPECT_EQ(count(h, "<link"), 0u);
    EXPECT_EQ(count(h, "<img"), 0u);
    EXPECT_EQ(count(h, "<iframe"), 0u);
    EXPECT_EQ(count(h, "url("), 0u);
    EXPECT_EQ(count(h, "@import"), 0u);
    EXPECT_EQ(count(h, "@font-face"), 0u);
    EXPECT_EQ(count(h, " src="), 0u);
    EXPECT_EQ(count(h, "href=\""), count(h, "href=\"#")) << "links are in-page anchors only";
    EXPECT_NE(h.find("<style>"), std::string::npos);
    EXPECT_NE(h.find("@media print"), std::string::npos);
    EXPECT_NE(h.find("system-ui"), std::string::npos);
}

TEST_F(HtmlReport, has_every_chart_and_section) {
    const std::string & h = *html_;
    for (const char * id :
         {"chart-pareto-0", "chart-pareto-1", "chart-pareto-2", "chart-pareto-3", "chart-eor-0", "chart-tweor-0",
          "chart-eor-1", "chart-tweor-1", "chart-power", "chart-jtok-prefill-0", "chart-jtok-decode-0",
          "table-decision", "table-summary", "table-overall", "table-hosts", "table-sensors", "table-energy",
          "table-models", "table-schemes", "table-failed", "pareto", "efficiency", "power", "jtoken", "decision",
          "tables", "provenance"}) {
        EXPECT_NE(h.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    // Every builtin profile has a row in the decision matrix, for each of the two models.
    for (const auto & p : jb::metrics::builtin_profiles()) {
        EXPECT_EQ(count(h, "<td>" + p.name + "</td>"), 2u) << p.name;
    }
}

TEST_F(HtmlReport, pareto_chart_marks_frontier_and_dominated_schemes) {
    const std::string & h = *html_;
    const size_t begin = h.find("id=\"chart-pareto-0\"");
    const std::string chart = h.substr(begin, h.find("</svg>", begin) - begin);
    // Fewer bits: less energy and a little less accuracy, so all three are on the frontier.
    EXPECT_EQ(count(chart, "scheme-point on-frontier"), 3u);
    EXPECT_EQ(count(chart, "class=\"series pareto-frontier\""), 1u);
    for (const char * s : {">fp16<", ">int8<", ">q4_k_m<"}) EXPECT_NE(chart.find(s), std::string::npos) << s;

    // A scheme that costs more and scores less is dominated.
    ReportInput in = jb_test::make_report_input();
    for (auto & r : in.rows) {
        if (r.scheme == "q4_k_m") r.energy_j *= 10;
    }
    const std::string h2 = render_html(in);
    const size_t b2 = h2.find("id=\"chart-pareto-0\"");
    const std::string c2 = h2.substr(b2, h2.find("</svg>", b2) - b2);
    EXPECT_EQ(count(c2, "scheme-point dominated"), 1u);
    EXPECT_EQ(count(c2, "scheme-point on-frontier"), 2u);
}

TEST_F(HtmlReport, escapes_every_name) {
    const std::string & h = *html_;
    EXPECT_EQ(h.find("tiny & \"real\" <model>"), std::string::npos);
    EXPECT_NE(h.find("tiny &amp; &quot;real&quot; &lt;model&gt;"), std::string::npos);
    EXPECT_EQ(h.find("laptop<1>"), std::string::npos);
    EXPECT_EQ(h.find("<oops>"), std::string::npos);
    EXPECT_NE(h.find("results &lt;&amp;&gt; &quot;test&quot;.db"), std::string::npos);
}

TEST_F(HtmlReport, warns_about_estimates_synthetic_models_and_failures) {
    const std::string & h = *html_;
    EXPECT_NE(h.find("id=\"warning-estimated\""), std::string::npos);
    EXPECT_NE(h.find("id=\"warning-mixed\""), std::string::npos);
    EXPECT_NE(h.find("id=\"warning-synthetic\""), std::string::npos);
    EXPECT_NE(h.find("id=\"warning-failed\""), std::string::npos);
    EXPECT_NE(h.find("qwen2.5-0.5b-synthetic.gguf (random weights"), std::string::npos);

    // A measured, real-model database has no banner.
    ReportInput in = jb_test::make_report_input();
    std::erase_if(in.rows, [](const jb::metrics::Row & r) { return r.estimated || r.synthetic || !r.ok; });
    in.failed.clear();
    const std::string clean = render_html(in);
    EXPECT_EQ(clean.find("class=\"banner"), std::string::npos);
    EXPECT_EQ(jb_test::xml_error(clean), "");
}

TEST_F(HtmlReport, power_chart_shades_phases_and_decimates_long_timelines) {
    const std::string & h = *html_;
    const size_t begin = h.find("id=\"chart-power\"");
    ASSERT_NE(begin, std::string::npos);
    const std::string chart = h.substr(begin, h.find("</svg>", begin) - begin);
    // load, prefill, decode, prefill, decode: idle is not shaded; phases "gsm8k/x" count as "x".
    EXPECT_EQ(count(chart, "class=\"band\""), 5u);
    EXPECT_EQ(count(chart, "class=\"series power-series\""), 3u);  // two domains and their total
    // 5000 samples become at most 2 x 900 per series.
    const size_t poly = chart.find("<polyline points=\"");
    const std::string points = chart.substr(poly, chart.find('"', poly + 18) - poly);
    EXPECT_LE(count(points, ","), 2 * 2 * 900u);
    EXPECT_NE(chart.find("Power (W)"), std::string::npos);

    // A column shorter than the clock, and a domain without a name, plot what there is.
    ReportInput odd = jb_test::make_report_input();
    odd.timeline->timeline.power_w[1].resize(10);
    odd.timeline->timeline.domains.pop_back();
    const std::string odd_html = render_html(odd);
    EXPECT_EQ(jb_test::xml_error(odd_html), "");
    EXPECT_NE(odd_html.find("domain 1"), std::string::npos);

    ReportInput in = jb_test::make_report_input();
    in.timeline.reset();
    const std::string none = render_html(in);
    EXPECT_EQ(none.find("id=\"chart-power\""), std::string::npos);
    EXPECT_NE(none.find("No power timeline"), std::string::npos);
}

// The CPU estimate beside a GPU's counter is a model: dashed, named as an estimate, and not in the
// total (with one measured domain left there is no total to draw).
TEST_F(HtmlReport, power_chart_keeps_an_estimated_domain_apart) {
    auto chart_of = [](const ReportInput & in) {
        const std::string h = render_html(in);
        const size_t begin = h.find("id=\"chart-power\"");
        return h.substr(begin, h.find("</svg>", begin) - begin);
    };
    ReportInput in = jb_test::make_report_input();
    in.timeline->estimate_domains = {"cpu-package:0"};
    std::string chart = chart_of(in);
    EXPECT_NE(chart.find("cpu-package:0 (estimate)"), std::string::npos);
    EXPECT_EQ(count(chart, "class=\"series power-series\""), 2u);  // gpu:0 and the estimate, no total
    EXPECT_EQ(chart.find(">total"), std::string::npos);

    // Two GPUs and the estimate: the total is of the GPUs, and says so.
    auto & tl = in.timeline->timeline;
    tl.domains = {"gpu:0", "gpu:1", "cpu-package:0"};
    tl.power_w.insert(tl.power_w.begin() + 1, tl.power_w[0]);
    chart = chart_of(in);
    EXPECT_EQ(count(chart, "class=\"series power-series\""), 4u);
    EXPECT_NE(chart.find("total measured"), std::string::npos);
}

TEST_F(HtmlReport, tables_have_one_schema_across_formats) {
    const Analysis a = analyze(*input_);
    const jb::Table t = summary_table(a.summaries, a.scheme_order);
    // scheme x task per host and model: 2 hosts x 2 models x 3 schemes x 2 tasks.
    EXPECT_EQ(t.rows.size(), 24u);
    for (const char * c : {"score_pct", "score_stderr_pct", "retention_pct", "energy_j", "prefill_j_per_token",
                           "decode_j_per_token", "prefill_tok_s", "decode_tok_s", "eor_pct_per_wh", "tweor_pct_per_wh",
                           "gain_pct"}) {
        EXPECT_NO_THROW(t.column_index(c)) << c;
    }
    // The reference comes first within each task.
    EXPECT_EQ(std::get<std::string>(t.rows[0][t.column_index("scheme")]), "fp16");

    std::ostringstream csv;
    print_report_tables(csv, *input_, jb::Format::csv);
    std::string header = csv.str().substr(0, csv.str().find('\n'));
    std::string want;
    for (const auto & c : t.columns) want += (want.empty() ? "" : ",") + c.name;
    EXPECT_EQ(header, want);
    EXPECT_EQ(count(csv.str(), "\n"), 25u);

    std::ostringstream json;
    print_report_tables(json, *input_, jb::Format::json, {"summary", "decision"});
    const auto doc = nlohmann::json::parse(json.str());
    ASSERT_EQ(doc["tables"].size(), 2u);
    EXPECT_EQ(doc["tables"][0]["name"], "summary");
    EXPECT_EQ(doc["tables"][0]["rows"].size(), 24u);
    EXPECT_EQ(doc["tables"][1]["name"], "decision");
    EXPECT_EQ(doc["tables"][1]["rows"].size(), 10u);  // 5 profiles x 2 models
    EXPECT_EQ(doc["source"], input_->source);
    EXPECT_GE(doc["warnings"].size(), 3u);

    std::ostringstream md;
    print_report_tables(md, *input_, jb::Format::md);
    EXPECT_NE(md.str().find("## Results by scheme and task"), std::string::npos);
    EXPECT_NE(md.str().find("## Decision matrix"), std::string::npos);
    EXPECT_NE(md.str().find("> **Warning:** Energies are ESTIMATED"), std::string::npos);
    EXPECT_NE(md.str().find("## Failed cells"), std::string::npos);
}

TEST_F(HtmlReport, text_formats_refuse_unknown_tables_and_several_csv_tables) {
    std::ostringstream out;
    EXPECT_THROW(print_report_tables(out, *input_, jb::Format::md, {"nope"}), jb::UsageError);
    EXPECT_THROW(print_report_tables(out, *input_, jb::Format::csv, {"summary", "decision"}), jb::UsageError);
    EXPECT_THROW(print_report_tables(out, *input_, jb::Format::csv, {"all"}), jb::UsageError);
    EXPECT_NO_THROW(print_report_tables(out, *input_, jb::Format::csv, {"decision"}));
}

TEST_F(HtmlReport, provenance_reads_both_sensor_json_forms) {
    const auto & in = *input_;
    ASSERT_EQ(in.sensors.size(), 2u);
    EXPECT_EQ(in.sensors[0].name, "NVML");
    EXPECT_EQ(in.sensors[0].method, "counter");
    EXPECT_DOUBLE_EQ(in.sensors[0].update_hz, 50);
    EXPECT_EQ(in.sensors[1].method, "estimate");
    EXPECT_EQ(in.sensors[1].host_name, "laptop<1>");
    ASSERT_EQ(in.unavailable.size(), 1u);
    EXPECT_EQ(in.unavailable[0], "node1: cpu-package (RAPL): no permission");
    ASSERT_EQ(in.energy_methods.size(), 2u);
    EXPECT_EQ(in.energy_methods[0].method, "counter");
    EXPECT_EQ(in.energy_methods[1].method, "estimate");

    ReportInput again = in;
    add_cell_provenance(again, "node1", "not json", "{");  // skipped, not fatal
    add_cell_provenance(again, "node1",
                        R"({"sensors":[{"domain":"gpu:0","kind":"counter","method":"counter","name":"NVML"}]})", "{}");
    EXPECT_EQ(again.sensors.size(), 2u);
    EXPECT_EQ(again.sensors[0].n_cells, 2);
}

TEST_F(HtmlReport, html_table_moves_long_text_under_its_row) {
    jb::Table t;
    t.add_column("a", "A", 1);
    t.add_column("note", "note", 0);
    t.add_row({1.5, std::string("x < y")});
    t.add_row({jb::Value(), std::string()});
    const std::string h = html_table(t, "t", {"note"});
    EXPECT_EQ(jb_test::xml_error(h.substr(h.find("<table"), h.find("</table>") + 8 - h.find("<table"))), "");
    EXPECT_EQ(count(h, "<tr class=\"sub\">"), 1u);  // only the row with a note
    EXPECT_NE(h.find("<b>note:</b> x &lt; y"), std::string::npos);
    EXPECT_NE(h.find("<td class=\"num\">1.5</td>"), std::string::npos);
    EXPECT_NE(h.find("<td class=\"num none\">\u2013</td>"), std::string::npos);
}

}  // namespace

namespace {

// Synthetic workloads only (tg256r5 decodes, pp2048r30 prefills): no score anywhere.
ReportInput make_unscored_input() {
    ReportInput in = jb_test::make_report_input();
    in.rows.clear();
    in.failed.clear();
    const char * schemes[] = {"fp16", "int8", "q4_k_m"};
    for (int s = 0; s < 3; ++s) {
        for (int w = 0; w < 2; ++w) {
            jb::metrics::Row r;
            r.host = "hostgpu";
            r.host_name = "node1";
            r.device = "NVIDIA H100 80GB HBM3";
            r.model = "m1";
            r.model_name = "tiny.gguf";
            r.scheme = schemes[s];
            r.scheme_canonical = std::string("w=") + schemes[s];
            r.bpw = 16.0 / (s + 1);
            r.task = w == 0 ? "tg256r5" : "pp2048r30";
            r.workload = w == 0 ? "bench-tg" : "bench-pp";
            r.score = NAN;
            r.score_stderr = NAN;
            r.energy_j = (w == 0 ? 1800.0 : 1200.0) * (1.0 - 0.2 * s);
            r.energy_net_j = r.energy_j * 0.85;
            r.wall_s = 3.0;
            r.prefill_tokens = w == 0 ? 0 : 61440;
            r.prefill_j = w == 0 ? 0.0 : r.energy_j - 5;
            r.prefill_s = w == 0 ? 0.0 : 2.9;
            r.decode_tokens = w == 0 ? 1280 : 0;
            r.decode_j = w == 0 ? r.energy_j - 5 : 0.0;
            r.decode_s = w == 0 ? 2.9 : 0.0;
            r.ttft_s = NAN;
            r.avg_w = r.energy_j / r.wall_s;
            r.peak_w = 650.0;
            in.rows.push_back(r);
        }
    }
    return in;
}

}  // namespace

TEST(HtmlReportUnscored, shows_jtoken_and_the_per_token_table) {
    const ReportInput in = make_unscored_input();
    const std::string h = render_html(in);
    EXPECT_EQ(jb_test::xml_error(h), "");
    EXPECT_EQ(h.find("No phase energies recorded"), std::string::npos);
    EXPECT_NE(h.find("id=\"chart-jtok-workload-decode-0-1\""), std::string::npos);   // tg256r5
    EXPECT_NE(h.find("id=\"chart-jtok-workload-prefill-0-0\""), std::string::npos);  // pp2048r30
    EXPECT_NE(h.find("id=\"chart-token-energy-0\""), std::string::npos);
    EXPECT_NE(h.find("id=\"chart-token-speed-0\""), std::string::npos);
    EXPECT_NE(h.find("id=\"table-tokens\""), std::string::npos);
    EXPECT_NE(h.find("Speed and energy per token"), std::string::npos);
    // The reasons are the missing accuracy, said once, not a missing reference on every row.
    EXPECT_EQ(h.find("scored nothing"), std::string::npos);
    EXPECT_EQ(h.find("without the reference scheme"), std::string::npos);
    EXPECT_EQ(h.find("no scheme has both its own and the reference"), std::string::npos);
    EXPECT_NE(h.find("need scored tasks"), std::string::npos);
    EXPECT_NE(h.find("have no accuracy"), std::string::npos);

    // The table: q4_k_m on tg256r5 uses 60 % of fp16's energy for the same tokens: saves 40 % per token.
    const Analysis a = analyze(in);
    const jb::Table t = token_table(a);
    ASSERT_EQ(t.rows.size(), 6u);
    bool found = false;
    for (const auto & row : t.rows) {
        if (std::get<std::string>(row[t.column_index("task")]) != "tg256r5" ||
            std::get<std::string>(row[t.column_index("scheme")]) != "q4_k_m") {
            continue;
        }
        found = true;
        EXPECT_NEAR(std::get<double>(row[t.column_index("token_saving_pct")]), 40.0, 1e-9);
        EXPECT_NEAR(std::get<double>(row[t.column_index("j_per_token")]), 1080.0 / 1280.0, 1e-12);
        EXPECT_NEAR(std::get<double>(row[t.column_index("tok_s")]), 1280.0 / 3.0, 1e-9);
        EXPECT_NEAR(std::get<double>(row[t.column_index("peak_w")]), 650.0, 1e-12);
    }
    EXPECT_TRUE(found);
    // The scored fixture has no per-token table.
    EXPECT_TRUE(token_table(analyze(jb_test::make_report_input())).rows.empty());
}

TEST(HtmlReportUnscored, two_hosts_of_the_same_workloads_compare_side_by_side) {
    ReportInput in = make_unscored_input();
    // One host: nothing to put side by side.
    EXPECT_TRUE(hardware_token_table(analyze(in)).rows.empty());
    // The same workloads on a second GPU at 80 % of the energy, in 2/3 of the time; one workload of
    // another definition (fingerprint) there, which must not be compared.
    const size_t n = in.rows.size();
    for (size_t i = 0; i < n; ++i) {
        jb::metrics::Row r = in.rows[i];
        r.host = "hostgpu2";
        r.host_name = "node2";
        r.device = "NVIDIA H200";
        r.energy_j *= 0.8;
        r.decode_j *= 0.8;
        r.prefill_j *= 0.8;
        r.wall_s = 2.0;
        if (r.task == "pp2048r30" && r.scheme == "int8") r.workload = "bench-pp-v2";
        in.rows.push_back(r);
    }
    const Analysis a = analyze(in);
    const jb::Table t = hardware_token_table(a);
    // 3 schemes x 2 workloads x 2 hosts, less the pair whose definitions differ
    ASSERT_EQ(t.rows.size(), 10u);
    auto cell = [&](size_t row, const char * col) { return t.rows[row][t.column_index(col)]; };
    int seen = 0;
    for (size_t i = 0; i < t.rows.size(); ++i) {
        if (std::get<std::string>(cell(i, "task")) != "tg256r5" || std::get<std::string>(cell(i, "scheme")) != "fp16")
            continue;
        ++seen;
        const bool h200 = std::get<std::string>(cell(i, "device")) == "NVIDIA H200";
        // fp16 tg256r5: 1800 J / 1280 tokens on node1, 1440 J on node2 (best): 1800 / 1440 - 1 = +25 %
        EXPECT_NEAR(std::get<double>(cell(i, "j_per_token")), (h200 ? 1440.0 : 1800.0) / 1280.0, 1e-12);
        EXPECT_NEAR(std::get<double>(cell(i, "j_per_token_vs_best_pct")), h200 ? 0.0 : 25.0, 1e-9);
        EXPECT_NEAR(std::get<double>(cell(i, "tok_s")), 1280.0 / (h200 ? 2.0 : 3.0), 1e-9);
    }
    EXPECT_EQ(seen, 2);
    const std::string h = render_html(in);
    EXPECT_EQ(jb_test::xml_error(h), "");
    EXPECT_NE(h.find("id=\"table-hardware-tokens\""), std::string::npos);
    EXPECT_EQ(h.find("share no model, scheme and task set"), std::string::npos);
}

namespace {

// An ok level of qwen.gguf served as fp16 on node1.
jb::ServeLevelRecord served_fp16(const std::string & level) {
    jb::ServeLevelRecord l;
    l.host_fingerprint = "h1";
    l.host_name = "node1";
    l.model_hash = "m";
    l.model_name = "qwen.gguf";
    l.scheme_canonical = "w=f16";
    l.scheme_name = "fp16";
    l.level = level;
    l.status = jb::kServeOk;
    return l;
}

}  // namespace

TEST(ServingTables, throughput_beside_joules_is_of_the_same_window_and_the_levels_beside_it) {
    // 40 requests in 20 s (2/s); the steady window: 8 s, 5120 of their 256-token outputs (2.5/s).
    jb::ServeLevelRecord l = served_fp16("r=2");
    l.mode = "open";
    l.rate_rps = 2.0;
    l.sent = l.completed = 40;
    l.completion_tokens = 256 * 40;
    l.requests_per_s = 2.0;
    l.output_tokens_per_s = 512.0;
    l.steady_s = 8.0;
    l.steady_output_tokens = 5120.0;
    l.steady_j_per_request = 100.0;
    l.steady_j_per_output_token = 100.0 / 256.0;
    l.j_per_request = 110.0;
    l.ttft_p99_ms = 100;
    l.tpot_p99_ms = 10;
    const jb::Table levels = serve_levels_table({l});
    ASSERT_EQ(levels.rows.size(), 1u);
    const auto cell = [](const jb::Table & t, const std::string & column) {
        return std::get<double>(t.rows[0][t.column_index(column)]);
    };
    EXPECT_DOUBLE_EQ(cell(levels, "requests_per_s"), 2.5);
    EXPECT_DOUBLE_EQ(cell(levels, "output_tok_s"), 640.0);
    EXPECT_DOUBLE_EQ(cell(levels, "j_per_request"), 100.0);
    EXPECT_DOUBLE_EQ(cell(levels, "level_requests_per_s"), 2.0);
    EXPECT_DOUBLE_EQ(cell(levels, "level_output_tok_s"), 512.0);
    EXPECT_DOUBLE_EQ(cell(levels, "level_j_per_request"), 110.0);
    const jb::Table frontier = serve_frontier_table({l}, jb::metrics::Slo{});
    ASSERT_EQ(frontier.rows.size(), 1u);
    EXPECT_DOUBLE_EQ(cell(frontier, "requests_per_s"), 2.5);
    // The chart's point: (2.5 req/s, 100 J), its tooltip saying so.
    ReportInput in;
    in.serve_levels = {l};
    const std::string h = serving_html_section(in);
    EXPECT_NE(h.find("100 J/request, 0.3906 J/output token, 2.5 req/s"), std::string::npos) << h;
    EXPECT_EQ(h.find("class=\"error-bar\""), std::string::npos) << "one run: no interval to draw";

    // Two runs of the level, 100 and 120 J: pooled, the point is their mean with its interval
    // (sd 14.14, t(1) 12.71: ± 127.1) as a bar, and the tooltip says so.
    jb::ServeLevelRecord second = l;
    second.workload_fp = l.workload_fp + "|repeat=2";
    second.steady_j_per_request = 120.0;
    in.serve_levels = jb::metrics::pool_repeats({l, second});
    ASSERT_EQ(in.serve_levels.size(), 1u);
    const std::string pooled = serving_html_section(in);
    EXPECT_NE(pooled.find("class=\"error-bar\""), std::string::npos) << pooled;
    EXPECT_NE(pooled.find("110 J/request \u00b1 127 (2 runs)"), std::string::npos) << pooled;
}

// A chart holding two frontiers of one scheme (levels run with other llama-server settings) names
// each by the settings that tell them apart, not "fp16" twice.
TEST(HtmlServing, two_frontiers_of_one_scheme_are_named_by_the_settings_that_differ) {
    auto level = [](const std::string & settings_fp, const std::string & server_json, int c, double j) {
        jb::ServeLevelRecord l = served_fp16("c=" + std::to_string(c));
        l.workload_fp = "wf";
        l.settings_fp = settings_fp;
        l.mode = "closed";
        l.concurrency = c;
        l.sent = l.completed = 4 * c;
        l.requests_per_s = c * 0.5;
        l.completion_tokens = 256 * l.completed;
        l.steady_s = 10.0;
        l.steady_output_tokens = l.requests_per_s * l.steady_s * 256.0;
        l.steady_j_per_request = j;
        l.j_per_request = j;
        l.ttft_p99_ms = 100;
        l.tpot_p99_ms = 10;
        l.server_json = server_json;
        return l;
    };
    const std::string plain = R"({"parallel": 4, "ctx_size": 4096, "extra_args": []})";
    const std::string cached = R"({"parallel": 4, "ctx_size": 4096, "extra_args": ["--cache-ram", "8192"]})";
    ReportInput in;
    in.serve_levels = {level("a", plain, 1, 50), level("a", plain, 4, 20), level("b", cached, 1, 52),
                       level("b", cached, 4, 21)};
    std::string h = serving_html_section(in);
    EXPECT_NE(h.find(">fp16 (--cache-ram 8192)<"), std::string::npos) << h;
    EXPECT_NE(h.find(">fp16 (choose)<"), std::string::npos) << "the other keeps the scheme's name";
    EXPECT_EQ(h.find("(settings "), std::string::npos);
    // The operating-point table shows the extra arguments as passed.
    EXPECT_NE(h.find("np 4, c 4096, --cache-ram 8192"), std::string::npos);

    // Settings that differ only where the label does not look (the binary, say): numbered.
    in.serve_levels[2].server_json = in.serve_levels[3].server_json = plain;
    h = serving_html_section(in);
    EXPECT_NE(h.find(">fp16 (settings 1) (choose)<"), std::string::npos) << h;
    EXPECT_NE(h.find(">fp16 (settings 2)<"), std::string::npos);
}
