// The report's cost, hardware-side-by-side, projected and distillation views, on the fixture's two
// hosts (an H100 node measured, a CPU laptop estimated) plus rows projected to an A100. Expected
// numbers are worked out by hand in the comments.

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>

#include "report/report.hpp"
#include "report_fixture.hpp"
#include "xml_check.hpp"

using namespace jb::report;

namespace {

const NamedTable& named(const std::vector<NamedTable>& all, const std::string& name) {
    for (const auto& t : all) {
        if (t.name == name) return t;
    }
    throw std::runtime_error("no table " + name);
}

double num(const jb::Table& t, size_t row, const std::string& col) {
    const auto& v = t.rows.at(row)[t.column_index(col)];
    return std::holds_alternative<double>(v) ? std::get<double>(v) : NAN;
}
std::string str(const jb::Table& t, size_t row, const std::string& col) {
    const auto& v = t.rows.at(row)[t.column_index(col)];
    return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
}
int64_t i64(const jb::Table& t, size_t row, const std::string& col) {
    return std::get<int64_t>(t.rows.at(row)[t.column_index(col)]);
}

// The fixture, with m2 as the distilled student of m1 using 80 % of its energy, an H100 price,
// and node1's m1 rows projected to an A100 at 90 % of the energy.
ReportInput input_with_families_cost_and_projection() {
    ReportInput in = jb_test::make_report_input();
    std::vector<jb::metrics::Row> projected;
    for (auto& r : in.rows) {
        if (!r.ok) continue;
        if (r.model == "m2") {
            r.energy_j *= 0.8;
            r.prefill_j *= 0.8;
            if (std::isfinite(r.decode_j)) r.decode_j *= 0.8;
        }
        if (r.host == "hostgpu" && r.model == "m1") {
            jb::metrics::Row p = r;
            p.host = "proj-a100";
            p.host_name = "projected";
            p.device = "NVIDIA A100-SXM4-80GB";
            p.projected = true;
            p.energy_j *= 0.9;
            projected.push_back(p);
        }
    }
    in.rows.insert(in.rows.end(), projected.begin(), projected.end());
    in.families = {{"fam", "base", "m1"}, {"fam", "distilled", "m2"}};
    in.options.usd_per_kwh = 0.15;
    in.cost.usd_per_kwh = 0.15;
    in.cost.by_device["NVIDIA H100 80GB HBM3"] = {"flagship-datacenter", 30000.0, "test"};
    in.cost_notes = {"cost: NVIDIA H100 80GB HBM3: tier flagship-datacenter, 30000 USD, test"};
    return in;
}

}  // namespace

TEST(CostReport, overall_rows_carry_throughput_tier_and_cost_per_mtok) {
    const ReportInput in = input_with_families_cost_and_projection();
    const Analysis a = analyze(in);
    const auto tables = report_tables(in, a);
    const jb::Table& t = named(tables, "overall").table;
    bool found = false;
    for (size_t i = 0; i < t.rows.size(); ++i) {
        if (str(t, i, "host_name") != "node1" || str(t, i, "scheme") != "fp16" ||
            str(t, i, "model_name") != in.models[0].file_name) {
            continue;
        }
        found = true;
        // arc 20000 tokens in 5 s + gsm8k 23000 tokens in 12 s: 43000 / 17 = 2529.41 tok/s;
        // 1300 J / 43000 tokens = 0.0302326 J/token -> 0.0302326 x 1e6 / 3.6e6 x 0.15 = 0.00125969 USD;
        // 30000 USD / (3 x 8766 x 3600 x 0.5 s) x 1e6 / 2529.41 s = 0.250557 USD; total 0.251817 USD/Mtok.
        EXPECT_NEAR(num(t, i, "tok_s"), 2529.4117647, 1e-6);
        EXPECT_EQ(str(t, i, "cost_tier"), "flagship-datacenter");
        EXPECT_NEAR(num(t, i, "usd_per_mtok"), 0.2518166633, 1e-9);
        EXPECT_EQ(i64(t, i, "projected"), 0);
    }
    EXPECT_TRUE(found);
    // The decision matrix says where prices came from.
    const jb::Table& d = named(tables, "decision").table;
    bool source_note = false;
    for (const auto& n : d.notes) source_note = source_note || n.find("tier flagship-datacenter") != std::string::npos;
    EXPECT_TRUE(source_note);
}

TEST(CostReport, hosts_side_by_side_with_energy_against_the_best_host) {
    const ReportInput in = input_with_families_cost_and_projection();
    const Analysis a = analyze(in);
    const jb::Table t = hardware_table(a);
    ASSERT_FALSE(t.rows.empty());
    // m1 fp16 over arc_easy + gsm8k: node1 1300 J, laptop 0.3 x 1300 = 390 J (best), projected A100
    // 0.9 x 1300 = 1170 J. node1: 1300 / 390 - 1 = +233.33 %; A100: 1170 / 390 - 1 = +200 %.
    int seen = 0;
    for (size_t i = 0; i < t.rows.size(); ++i) {
        if (str(t, i, "scheme") != "fp16" || str(t, i, "model_name") != in.models[0].file_name) continue;
        ++seen;
        const std::string host = str(t, i, "host_name");
        if (host == "node1") {
            EXPECT_EQ(str(t, i, "device"), "NVIDIA H100 80GB HBM3");
            EXPECT_NEAR(num(t, i, "energy_vs_best_pct"), 100.0 * (1.0 / 0.3 - 1.0), 1e-9);
        } else if (host == "laptop<1>") {
            EXPECT_NEAR(num(t, i, "energy_vs_best_pct"), 0.0, 1e-12);
            EXPECT_EQ(i64(t, i, "energy_estimated"), 1);
        } else {
            EXPECT_EQ(host, "projected");
            EXPECT_EQ(i64(t, i, "projected"), 1);
            EXPECT_NEAR(num(t, i, "energy_vs_best_pct"), 200.0, 1e-9);
        }
    }
    EXPECT_EQ(seen, 3);
    // Measured rows first, projected after, for each scheme.
    EXPECT_EQ(i64(t, 0, "projected"), 0);
}

TEST(CostReport, projected_rows_are_marked_everywhere) {
    const ReportInput in = input_with_families_cost_and_projection();
    const Analysis a = analyze(in);
    EXPECT_TRUE(a.any_projected);
    bool banner = false;
    for (const auto& w : a.warnings)
        banner = banner || (w.kind == "projected" && w.text.find("A100") != std::string::npos);
    EXPECT_TRUE(banner);
    const auto tables = report_tables(in, a);
    const jb::Table& s = named(tables, "summary").table;
    int projected_rows = 0;
    for (size_t i = 0; i < s.rows.size(); ++i) projected_rows += int(i64(s, i, "projected"));
    EXPECT_EQ(projected_rows, 6);  // 3 schemes x 2 tasks of m1 on the A100
    // A projected candidate that wins a profile is labelled as such in the matrix.
    const jb::Table& d = named(tables, "decision").table;
    for (size_t i = 0; i < d.rows.size(); ++i) {
        const std::string hw = str(d, i, "hardware");
        if (hw.find("A100") != std::string::npos) {
            EXPECT_NE(hw.find("[projected]"), std::string::npos) << hw;
            EXPECT_EQ(str(d, i, "origin"), "projected");
            EXPECT_NE(str(d, i, "why").find("PROJECTED"), std::string::npos);
        }
    }
    const std::string html = render_html(in);
    EXPECT_EQ(jb_test::xml_error(html), "");
    EXPECT_NE(html.find("Projected rows."), std::string::npos);
    // Once: in its own section, not again under Provenance.
    const std::string id = "id=\"table-hardware\"";
    const size_t first = html.find(id);
    ASSERT_NE(first, std::string::npos);
    EXPECT_EQ(html.find(id, first + 1), std::string::npos);
}

TEST(FamilyReport, distilled_vs_base_table_and_the_studys_claim) {
    const ReportInput in = input_with_families_cost_and_projection();
    const Analysis a = analyze(in);
    const jb::Table t = family_table(a.families, a.family_notes, "fp16");
    // On node1 and on laptop<1>: 3 schemes x (2 tasks + "all").
    ASSERT_EQ(t.rows.size(), 18u);
    bool checked = false;
    for (size_t i = 0; i < t.rows.size(); ++i) {
        if (str(t, i, "host_name") != "node1" || str(t, i, "task") != "all") continue;
        if (str(t, i, "scheme") == "fp16") {
            // m2 draws 80 % of m1's energy on every task: a 20 % reduction; retention, the ratio of
            // mean scores, (0.595 + 0.295) / (0.60 + 0.30) = 0.98889.
            EXPECT_NEAR(num(t, i, "energy_reduction_pct"), 20.0, 1e-9);
            EXPECT_NEAR(num(t, i, "retention_pct"), 0.89 / 0.90 * 100.0, 1e-9);
            checked = true;
        } else if (str(t, i, "scheme") == "int8") {
            // int8 draws 0.8 of fp16 in the fixture, times 0.8 for the student: 1 - 0.64 = 36 % vs base fp16.
            EXPECT_NEAR(num(t, i, "energy_reduction_pct"), 20.0, 1e-9);
            EXPECT_NEAR(num(t, i, "combined_energy_reduction_pct"), 36.0, 1e-9);
        }
    }
    EXPECT_TRUE(checked);
    bool claim = false;
    for (const auto& n : t.notes) {
        claim = claim || (n.find("19.8 %") != std::string::npos && n.find("saves 20.0 %") != std::string::npos &&
                          n.find("node1") != std::string::npos);
    }
    EXPECT_TRUE(claim);
    // Markdown and HTML both show it.
    std::ostringstream md;
    print_report_tables(md, in, jb::Format::md);
    EXPECT_NE(md.str().find("## Distilled vs base model"), std::string::npos);
    EXPECT_NE(md.str().find("19.8 %"), std::string::npos);
    EXPECT_NE(md.str().find("## Hardware side by side"), std::string::npos);
    const std::string html = render_html(in);
    EXPECT_NE(html.find("id=\"table-families\""), std::string::npos);
    EXPECT_NE(html.find("the study reports a further 19.8 %"), std::string::npos);
}

TEST(FamilyReport, without_families_the_tables_stay_out_of_the_text_formats) {
    ReportInput in = jb_test::make_report_input();
    std::ostringstream md;
    print_report_tables(md, in, jb::Format::md);
    EXPECT_EQ(md.str().find("## Distilled vs base model"), std::string::npos);
    const std::string html = render_html(in);
    EXPECT_NE(html.find("No model family in this database"), std::string::npos);
    EXPECT_EQ(jb_test::xml_error(html), "");
}
