// Cost per million tokens (energy + amortised hardware), model families (distilled vs base, and
// with quantization), and projected rows kept apart from measured ones. Every expected number is
// worked out by hand in the comments.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "metrics/cost.hpp"
#include "metrics/family.hpp"
#include "joulebench/metrics.hpp"

using namespace jb::metrics;

namespace {

constexpr double kEps = 1e-9;

Row row(const std::string& model, const std::string& scheme, const std::string& task, double score, double energy_j,
        int64_t tokens, double wall_s = 10.0) {
    Row r;
    r.host = "h1";
    r.host_name = "node1";
    r.device = "NVIDIA H100 80GB HBM3";
    r.model = model;
    r.model_name = model + ".gguf";
    r.scheme = scheme;
    r.scheme_canonical = "canon-" + model + "-" + scheme;  // canonicals may differ per model (dynamic)
    r.task = task;
    r.workload = "w-" + task;
    r.score = score;
    r.score_stderr = 0.01;
    r.energy_j = energy_j;
    r.wall_s = wall_s;
    r.prefill_tokens = tokens;
    r.n_items = 10;
    r.ttft_s = NAN;
    return r;
}

const FamilyComparison& find(const std::vector<FamilyComparison>& all, const std::string& scheme,
                             const std::string& task) {
    for (const auto& c : all) {
        if (c.scheme == scheme && c.task == task) return c;
    }
    throw std::runtime_error("no comparison " + scheme + " " + task);
}

}  // namespace

TEST(Cost, energy_cost_per_million_tokens) {
    // 0.5 J/token x 1e6 tokens = 5e5 J = 0.13889 kWh; x 0.15 USD/kWh = 0.0208333 USD.
    EXPECT_NEAR(energy_usd_per_mtok(0.5, 0.15), 0.0208333333, kEps);
    EXPECT_TRUE(std::isnan(energy_usd_per_mtok(0.5, 0.0)));  // no price, no cost
    EXPECT_TRUE(std::isnan(energy_usd_per_mtok(NAN, 0.15)));
}

TEST(Cost, hardware_amortised_over_useful_seconds) {
    // 3 years x 8766 h x 3600 s x 0.5 = 47,336,400 useful seconds; at 1000 tokens/s a million
    // tokens take 1000 s: 30,000 USD / 47,336,400 s x 1000 s = 0.633762 USD.
    EXPECT_NEAR(hardware_usd_per_mtok(30000.0, 3.0, 0.5, 1000.0), 0.6337618, 1e-6);
    // Twice the utilisation halves it; twice the throughput halves it.
    EXPECT_NEAR(hardware_usd_per_mtok(30000.0, 3.0, 1.0, 1000.0), 0.3168809, 1e-6);
    EXPECT_NEAR(hardware_usd_per_mtok(30000.0, 3.0, 0.5, 2000.0), 0.3168809, 1e-6);
    EXPECT_TRUE(std::isnan(hardware_usd_per_mtok(NAN, 3.0, 0.5, 1000.0)));      // price unknown
    EXPECT_TRUE(std::isnan(hardware_usd_per_mtok(30000.0, 3.0, 1.5, 1000.0)));  // utilisation > 1
    EXPECT_TRUE(std::isnan(hardware_usd_per_mtok(30000.0, 0.0, 0.5, 1000.0)));
}

TEST(Cost, candidates_are_priced_from_their_device) {
    // fp16: 3600 J for 7200 tokens in 7.2 s: 0.5 J/token, 1000 tokens/s.
    std::vector<Row> rows = {row("m", "fp16", "arc", 0.6, 3600.0, 7200, 7.2)};
    Row cpu = rows[0];
    cpu.host = "h2";
    cpu.host_name = "laptop";
    cpu.device = "Some CPU";
    rows.push_back(cpu);
    auto cands = candidates(summarize(rows));
    ASSERT_EQ(cands.size(), 2u);
    EXPECT_NEAR(cands[0].tok_s, 1000.0, kEps);
    CostModel cost;
    cost.usd_per_kwh = 0.15;
    cost.by_device["NVIDIA H100 80GB HBM3"] = {"datacenter", 30000.0, "test"};
    price_candidates(cands, cost);
    EXPECT_EQ(cands[0].cost_tier, "datacenter");
    EXPECT_NEAR(cands[0].energy_usd_per_mtok, 0.0208333333, kEps);
    EXPECT_NEAR(cands[0].hardware_usd_per_mtok, 0.6337618, 1e-6);
    EXPECT_NEAR(cands[0].usd_per_mtok, 0.6545951, 1e-6);
    EXPECT_EQ(cost_text(cands[0]), "datacenter, $0.655/Mtok");
    // The CPU is not in the map: energy cost only, no total, no tier.
    EXPECT_EQ(cands[1].cost_tier, "");
    EXPECT_NEAR(cands[1].energy_usd_per_mtok, 0.0208333333, kEps);
    EXPECT_TRUE(std::isnan(cands[1].usd_per_mtok));
    EXPECT_EQ(cost_text(cands[1]), "");
    // A tier without a price: the tier alone.
    cost.by_device["Some CPU"] = {"consumer", NAN, ""};
    price_candidates(cands, cost);
    EXPECT_EQ(cost_text(cands[1]), "consumer");
}

// Base (teacher) and distilled (student), fp16 and int8, tasks arc and hs.
//                 arc score / J / tokens    hs score / J / tokens
// base fp16       0.60 / 100 / 1000          0.40 / 200 / 2000
// base int8       0.60 /  80 / 1000          0.40 / 160 / 2000
// distilled fp16  0.54 /  60 / 1000          0.40 / 150 / 2000
// distilled int8  0.51 /  50 / 1000          0.38 / 120 / 2000
std::vector<Summary> family_summaries() {
    std::vector<Row> rows = {
        row("base", "fp16", "arc", 0.60, 100, 1000), row("base", "fp16", "hs", 0.40, 200, 2000),
        row("base", "int8", "arc", 0.60, 80, 1000),  row("base", "int8", "hs", 0.40, 160, 2000),
        row("dist", "fp16", "arc", 0.54, 60, 1000),  row("dist", "fp16", "hs", 0.40, 150, 2000),
        row("dist", "int8", "arc", 0.51, 50, 1000),  row("dist", "int8", "hs", 0.38, 120, 2000),
        row("other", "fp16", "arc", 0.10, 10, 1000),  // not in the family: ignored
    };
    return summarize(rows);
}

TEST(Family, distilled_vs_base_per_task) {
    const std::vector<FamilyMember> members = {{"fam", "base", "base"}, {"fam", "distilled", "dist"}};
    const auto rows = compare_families(family_summaries(), members);
    ASSERT_EQ(rows.size(), 6u);  // 2 schemes x 2 tasks + 2 "all" rows
    const auto& f_arc = find(rows, "fp16", "arc");
    EXPECT_EQ(f_arc.base_model_name, "base.gguf");
    EXPECT_EQ(f_arc.distilled_model_name, "dist.gguf");
    EXPECT_NEAR(f_arc.energy_reduction, 0.4, kEps);  // 1 - 60 / 100
    EXPECT_NEAR(f_arc.retention, 0.9, kEps);         // 0.54 / 0.60
    EXPECT_NEAR(f_arc.base_j_per_token, 0.1, kEps);
    EXPECT_NEAR(f_arc.distilled_j_per_token, 0.06, kEps);
    EXPECT_NEAR(f_arc.combined_energy_reduction, 0.4, kEps);  // the reference itself: same as its own
    const auto& i_arc = find(rows, "int8", "arc");
    EXPECT_NEAR(i_arc.energy_reduction, 0.375, kEps);         // 1 - 50 / 80
    EXPECT_NEAR(i_arc.retention, 0.85, kEps);                 // 0.51 / 0.60
    EXPECT_NEAR(i_arc.combined_energy_reduction, 0.5, kEps);  // 1 - 50 / 100 (base fp16)
    EXPECT_NEAR(i_arc.combined_retention, 0.85, kEps);        // 0.51 / 0.60 (base fp16)
}

TEST(Family, all_tasks_row_sums_energy_and_takes_the_ratio_of_mean_scores) {
    const std::vector<FamilyMember> members = {{"fam", "base", "base"}, {"fam", "distilled", "dist"}};
    const auto rows = compare_families(family_summaries(), members);
    const auto& f = find(rows, "fp16", "all");
    EXPECT_EQ(f.n_tasks, 2);
    EXPECT_NEAR(f.base_energy_j, 300.0, kEps);
    EXPECT_NEAR(f.distilled_energy_j, 210.0, kEps);
    EXPECT_NEAR(f.energy_reduction, 0.3, kEps);        // 1 - 210 / 300
    EXPECT_NEAR(f.retention, 0.94, kEps);              // (0.54 + 0.40) / (0.60 + 0.40), as candidates
    EXPECT_NEAR(f.base_j_per_token, 0.1, kEps);        // 300 J / 3000 tokens
    EXPECT_NEAR(f.distilled_j_per_token, 0.07, kEps);  // 210 J / 3000 tokens
    const auto& i = find(rows, "int8", "all");
    EXPECT_NEAR(i.energy_reduction, 1.0 - 170.0 / 240.0, kEps);           // 0.291667
    EXPECT_NEAR(i.combined_energy_reduction, 1.0 - 170.0 / 300.0, kEps);  // 0.433333: distilled int8 vs base fp16
    EXPECT_NEAR(i.retention, 0.89, kEps);                                 // (0.51 + 0.38) / (0.60 + 0.40)
    EXPECT_NEAR(i.combined_retention, 0.89, kEps);                        // same: base int8 scores what base fp16 does
    EXPECT_EQ(family_overall(rows, "fam", "h1", "int8"), &i);
}

TEST(Family, incomplete_family_gives_a_note_and_no_rows) {
    std::vector<std::string> notes;
    const auto rows = compare_families(family_summaries(), {{"solo", "base", "base"}}, "fp16", &notes);
    EXPECT_TRUE(rows.empty());
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("solo"), std::string::npos);
    EXPECT_NE(notes[0].find("no distilled"), std::string::npos);
}

TEST(Projected, never_on_a_measured_frontier_and_marked_in_the_recommendation) {
    // Measured int8 is dominated by a projected q4 (more accurate, less energy): measured and
    // projected have their own frontiers, so int8 stays on the measured one.
    std::vector<Row> rows = {row("m", "fp16", "arc", 0.60, 100, 1000), row("m", "int8", "arc", 0.59, 80, 1000)};
    Row proj = row("m", "q4", "arc", 0.60, 50, 1000);
    proj.projected = true;
    rows.push_back(proj);
    const auto sums = summarize(rows);
    for (const auto& s : sums) EXPECT_TRUE(s.pareto) << s.scheme;
    auto cands = candidates(sums);
    ASSERT_EQ(cands.size(), 3u);
    for (const auto& c : cands) EXPECT_TRUE(c.pareto) << c.scheme;
    const auto rec = recommend(cands, find_profile("budget"));
    ASSERT_TRUE(rec.best);
    EXPECT_EQ(rec.best->scheme, "q4");
    EXPECT_TRUE(rec.projected);
    EXPECT_NE(rec.why.find("PROJECTED"), std::string::npos) << rec.why;
    EXPECT_NE(rec.why.find("[projected]"), std::string::npos) << rec.why;
    bool mixed_note = false;
    for (const auto& n : rec.notes) mixed_note = mixed_note || n.find("projected candidates") != std::string::npos;
    EXPECT_TRUE(mixed_note);
    // The projected q4's ratios compare with a measured fp16: its note says so.
    for (const auto& s : sums) {
        if (s.scheme == "q4") {
            EXPECT_NE(s.note.find("projection"), std::string::npos) << s.note;
        }
    }
}
