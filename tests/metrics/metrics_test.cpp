// Metric arithmetic against hand-computed values, statistics over repeats, the Pareto frontier,
// and the rules of comparison: same host, model and workload only; estimates flagged.

#include "joulebench/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "joulebench/error.hpp"

using namespace jb::metrics;

namespace {

constexpr double kEps = 1e-12;

Row make_row(const std::string & scheme, double score, double energy_j, double wall_s, const std::string & task = "arc",
             const std::string & workload = "w1", const std::string & host = "h1") {
    Row r;
    r.host = host;
    r.host_name = host + "-name";
    r.device = "NVIDIA H100 80GB HBM3";
    r.model = "m1";
    r.model_name = "qwen.gguf";
    r.scheme = scheme;
    r.scheme_canonical = "canon-" + scheme;
    r.task = task;
    r.workload = workload;
    r.score = score;
    r.score_stderr = 0.01;
    r.energy_j = energy_j;
    r.energy_net_j = energy_j / 2;
    r.wall_s = wall_s;
    r.prefill_j = NAN;
    r.decode_j = NAN;
    r.prefill_s = NAN;
    r.decode_s = NAN;
    r.ttft_s = NAN;
    return r;
}

const Summary & find(const std::vector<Summary> & all, const std::string & scheme, const std::string & task = "arc",
                     const std::string & host = "h1") {
    for (const Summary & s : all) {
        if (s.scheme == scheme && s.task == task && s.host == host) return s;
    }
    throw std::runtime_error("no summary for " + scheme + " " + task + " " + host);
}

}  // namespace

// --- the formulas -----------------------------------------------------------------------------

TEST(Formulas, eor_is_score_percent_per_watt_hour) {
    EXPECT_DOUBLE_EQ(eor(60.0, 2.0), 30.0);
    EXPECT_DOUBLE_EQ(eor(57.0, 1.5), 38.0);
    EXPECT_TRUE(std::isnan(eor(60.0, 0.0)));  // no division by zero
    EXPECT_TRUE(std::isnan(eor(60.0, NAN)));
}

TEST(Formulas, tweor_penalises_a_scheme_that_saves_energy_by_running_slower) {
    // Reference: 60 % at 2 Wh in 10 s. The slower scheme: 60 % at 1.5 Wh in 20 s.
    const double ref = tweor(60.0, 2.0, 10.0, 10.0);
    EXPECT_DOUBLE_EQ(ref, 30.0);                           // T = T_ref: TWEOR = EOR
    EXPECT_DOUBLE_EQ(eor(60.0, 1.5), 40.0);                // EOR says the slow scheme is better...
    EXPECT_DOUBLE_EQ(tweor(60.0, 1.5, 20.0, 10.0), 20.0);  // ...TWEOR: 60 / (1.5 x 2) = 20 < 30
    EXPECT_DOUBLE_EQ(tweor(60.0, 1.5, 5.0, 10.0), 80.0);   // twice as fast: rewarded
    EXPECT_TRUE(std::isnan(tweor(60.0, 1.5, 20.0, NAN)));  // no reference time, no TWEOR
}

TEST(Formulas, gain_retention_and_saving_are_ratios_to_the_reference) {
    EXPECT_NEAR(gain(40.0, 30.0), 1.0 / 3.0, kEps);
    EXPECT_DOUBLE_EQ(gain(30.0, 30.0), 0.0);
    EXPECT_NEAR(gain(24.0, 30.0), -0.2, kEps);
    EXPECT_NEAR(retention(0.57, 0.60), 0.95, kEps);
    EXPECT_TRUE(std::isnan(retention(0.5, 0.0)));
    EXPECT_DOUBLE_EQ(energy_saving(1.5, 2.0), 0.25);
    EXPECT_DOUBLE_EQ(energy_saving(3.0, 2.0), -0.5);  // uses more energy: a negative saving
}

TEST(Formulas, energy_delay_product_carbon_and_cost) {
    EXPECT_DOUBLE_EQ(edp(7200.0, 10.0), 72000.0);
    EXPECT_DOUBLE_EQ(joules_to_wh(7200.0), 2.0);
    EXPECT_DOUBLE_EQ(carbon_g(3.6e6, 445.0), 445.0);        // 1 kWh at 445 g/kWh
    EXPECT_NEAR(carbon_g(7200.0, 445.0), 0.89, kEps);       // 2 Wh
    EXPECT_NEAR(energy_cost_usd(7.2e6, 0.15), 0.30, kEps);  // 2 kWh at 0.15 USD/kWh
    EXPECT_DOUBLE_EQ(energy_cost_usd(7.2e6, 0.0), 0.0);
    EXPECT_DOUBLE_EQ(kWorldGridGPerKwh, 445.0);
    EXPECT_DOUBLE_EQ(Options{}.grid_g_per_kwh, 445.0);
}

TEST(Formulas, per_token_and_per_second) {
    EXPECT_DOUBLE_EQ(j_per_token(10.0, 4.0), 2.5);
    EXPECT_TRUE(std::isnan(j_per_token(10.0, 0.0)));
    EXPECT_DOUBLE_EQ(tokens_per_s(300.0, 1.5), 200.0);
    EXPECT_TRUE(std::isnan(tokens_per_s(300.0, 0.0)));
}

// --- statistics ------------------------------------------------------------------------------

TEST(StatOf, mean_and_sample_standard_deviation) {
    const Stat s = stat_of({1.0, 2.0, 3.0, 4.0});
    EXPECT_EQ(s.n, 4);
    EXPECT_DOUBLE_EQ(s.mean, 2.5);
    EXPECT_NEAR(s.sd, std::sqrt(5.0 / 3.0), kEps);  // sum of squares 5 over n - 1 = 3
    EXPECT_DOUBLE_EQ(s.min, 1.0);
    EXPECT_DOUBLE_EQ(s.max, 4.0);
}

TEST(StatOf, skips_nan_and_has_no_spread_from_one_value) {
    const Stat s = stat_of({NAN, 7.0, NAN, 9.0});
    EXPECT_EQ(s.n, 2);
    EXPECT_DOUBLE_EQ(s.mean, 8.0);
    EXPECT_NEAR(s.sd, std::sqrt(2.0), kEps);
    const Stat one = stat_of({5.0});
    EXPECT_EQ(one.n, 1);
    EXPECT_DOUBLE_EQ(one.mean, 5.0);
    EXPECT_TRUE(std::isnan(one.sd));
    const Stat none = stat_of({NAN});
    EXPECT_EQ(none.n, 0);
    EXPECT_TRUE(std::isnan(none.mean));
}

// --- Pareto ----------------------------------------------------------------------------------

TEST(Pareto, keeps_ties_drops_dominated_points_in_energy_order) {
    const std::vector<ParetoPoint> pts = {
        {0.60, 2.0},  // 0: frontier
        {0.50, 1.5},  // 1: dominated by 3 (same accuracy, less energy)
        {0.60, 2.0},  // 2: tie with 0: also on the frontier
        {0.50, 1.0},  // 3: frontier (cheapest)
        {0.55, 2.5},  // 4: dominated by 0
        {0.70, 3.0},  // 5: frontier (most accurate)
        {NAN, 0.5},   // 6: not measured: never on it
        {0.60, 3.0},  // 7: dominated by 0 (same accuracy, more energy)
    };
    EXPECT_EQ(pareto_frontier(pts), (std::vector<size_t>{3, 0, 2, 5}));
}

TEST(Pareto, single_and_empty) {
    EXPECT_EQ(pareto_frontier({}), std::vector<size_t>{});
    EXPECT_EQ(pareto_frontier({{0.1, 9.0}}), std::vector<size_t>{0});
}

// --- summaries -------------------------------------------------------------------------------

TEST(Summarize, averages_repeats_and_computes_ratios_to_fp16) {
    std::vector<Row> rows;
    Row f0 = make_row("fp16", 0.60, 7000.0, 10.0);
    Row f1 = make_row("fp16", 0.60, 7400.0, 10.0);
    f1.repeat = 1;
    Row q = make_row("int8", 0.57, 5400.0, 20.0);
    Row failed = make_row("int8", 0.0, 1e9, 1e9);
    failed.repeat = 1;
    failed.ok = false;  // kept out of every metric
    rows = {f0, f1, q, failed};
    Options opt;
    opt.usd_per_kwh = 0.25;
    const auto all = summarize(rows, opt);
    ASSERT_EQ(all.size(), 2u);

    const Summary & f = find(all, "fp16");
    EXPECT_EQ(f.energy_j.n, 2);
    EXPECT_DOUBLE_EQ(f.energy_j.mean, 7200.0);
    EXPECT_NEAR(f.energy_j.sd, std::sqrt(2 * 200.0 * 200.0), 1e-9);
    EXPECT_DOUBLE_EQ(f.energy_wh, 2.0);
    EXPECT_DOUBLE_EQ(f.eor, 30.0);
    EXPECT_DOUBLE_EQ(f.tweor, 30.0);  // the reference: TWEOR = EOR
    EXPECT_DOUBLE_EQ(f.edp_js, 72000.0);
    EXPECT_NEAR(f.gco2e, 0.89, kEps);
    EXPECT_NEAR(f.usd, 0.0005, kEps);  // 0.002 kWh x 0.25
    ASSERT_TRUE(f.retention && f.gain && f.energy_saving);
    EXPECT_DOUBLE_EQ(*f.retention, 1.0);
    EXPECT_DOUBLE_EQ(*f.gain, 0.0);
    EXPECT_DOUBLE_EQ(*f.energy_saving, 0.0);

    const Summary & s = find(all, "int8");
    EXPECT_EQ(s.energy_j.n, 1);  // the failed repeat is not counted
    EXPECT_DOUBLE_EQ(s.energy_wh, 1.5);
    EXPECT_DOUBLE_EQ(s.eor, 38.0);
    EXPECT_DOUBLE_EQ(s.tweor, 19.0);  // 57 / (1.5 x 20 / 10)
    EXPECT_DOUBLE_EQ(s.ref_wall_s, 10.0);
    ASSERT_TRUE(s.retention && s.gain && s.energy_saving);
    EXPECT_NEAR(*s.retention, 0.95, kEps);
    EXPECT_NEAR(*s.gain, 38.0 / 30.0 - 1.0, kEps);
    EXPECT_DOUBLE_EQ(*s.energy_saving, 0.25);
    EXPECT_FALSE(s.mixed_estimate);
    EXPECT_EQ(s.note, "");
    EXPECT_DOUBLE_EQ(retention_against_reference(all, s), s.retention.value());
    // Both are on the (score, energy) frontier: fp16 is more accurate, int8 cheaper.
    EXPECT_TRUE(f.pareto);
    EXPECT_TRUE(s.pareto);
}

TEST(Summarize, phase_figures_are_ratios_of_totals_over_repeats) {
    Row a = make_row("fp16", 0.5, 100.0, 2.0);
    a.prefill_j = 30.0;
    a.prefill_tokens = 1000;
    a.prefill_s = 0.5;
    a.decode_j = 60.0;
    a.decode_tokens = 20;
    a.decode_s = 1.0;
    a.ttft_s = 0.2;
    Row b = a;
    b.repeat = 1;
    b.prefill_j = 50.0;
    b.prefill_s = 1.5;
    b.ttft_s = 0.4;
    const auto all = summarize({a, b});
    ASSERT_EQ(all.size(), 1u);
    const Summary & s = all[0];
    EXPECT_DOUBLE_EQ(s.prefill_j_per_token, 80.0 / 2000.0);
    EXPECT_DOUBLE_EQ(s.decode_j_per_token, 120.0 / 40.0);
    EXPECT_DOUBLE_EQ(s.prefill_tok_s, 2000.0 / 2.0);
    EXPECT_DOUBLE_EQ(s.decode_tok_s, 40.0 / 2.0);
    EXPECT_DOUBLE_EQ(s.ttft_s, 0.3);
    EXPECT_DOUBLE_EQ(s.prefill_tokens, 1000.0);
    // Without tokens there is no J/token (NaN, not 0).
    const auto none = summarize({make_row("fp16", 0.5, 100.0, 2.0)});
    EXPECT_TRUE(std::isnan(none[0].prefill_j_per_token));
    EXPECT_TRUE(std::isnan(none[0].decode_tok_s));
    EXPECT_TRUE(std::isnan(none[0].ttft_s));
}

TEST(Summarize, missing_fp16_row_gives_a_clear_message) {
    const auto all = summarize({make_row("int8", 0.57, 5400.0, 20.0), make_row("q4_k_m", 0.5, 4000.0, 20.0)});
    const Summary & s = find(all, "int8");
    EXPECT_FALSE(s.retention);
    EXPECT_FALSE(s.gain);
    EXPECT_FALSE(s.energy_saving);
    EXPECT_TRUE(std::isnan(s.tweor));
    EXPECT_NE(s.note.find("no fp16 cell for host h1-name, model qwen.gguf"), std::string::npos) << s.note;
    try {
        retention_against_reference(all, s);
        FAIL() << "expected jb::Error";
    } catch (const jb::Error & e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("cannot compute accuracy retention of int8 on task arc"), std::string::npos) << msg;
        EXPECT_NE(msg.find("no fp16 cell for host h1-name, model qwen.gguf"), std::string::npos) << msg;
        EXPECT_NE(msg.find("--schemes fp16"), std::string::npos) << msg;
    }
    const auto missing = missing_references(all);
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0],
              "host h1-name, model qwen.gguf: no successful fp16 cell, so no retention, gain or saving for int8, "
              "q4_k_m (run `joulebench sweep` with --schemes fp16,int8)");
    EXPECT_TRUE(candidates(all).empty());
}

TEST(Summarize, a_failed_fp16_cell_is_a_missing_one) {
    Row f = make_row("fp16", 0.6, 7200.0, 10.0);
    f.ok = false;
    const auto all = summarize({f, make_row("int8", 0.57, 5400.0, 20.0)});
    ASSERT_EQ(all.size(), 1u);
    EXPECT_THROW(retention_against_reference(all, all[0]), jb::Error);
    EXPECT_EQ(missing_references(all).size(), 1u);
}

TEST(Summarize, different_workload_fingerprints_are_never_compared) {
    const auto all = summarize(
        {make_row("fp16", 0.60, 7200.0, 10.0, "arc", "w1"), make_row("int8", 0.57, 5400.0, 20.0, "arc", "w2")});
    const Summary & s = find(all, "int8");
    EXPECT_FALSE(s.retention);
    EXPECT_FALSE(s.gain);
    EXPECT_FALSE(s.energy_saving);
    EXPECT_NE(s.note.find("fp16 ran task arc with a different workload"), std::string::npos) << s.note;
    try {
        retention_against_reference(all, s);
        FAIL() << "expected jb::Error";
    } catch (const jb::Error & e) {
        EXPECT_NE(std::string(e.what()).find("different workload"), std::string::npos) << e.what();
    }
    const auto missing = missing_references(all);
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_NE(missing[0].find("different workload"), std::string::npos);
    const auto cands = candidates(all);  // fp16 against itself only: int8 has nothing to compare with
    ASSERT_EQ(cands.size(), 1u);
    EXPECT_EQ(cands[0].scheme, "fp16");
    // Each is alone on its own workload's frontier.
    EXPECT_TRUE(find(all, "fp16").pareto);
    EXPECT_TRUE(s.pareto);
}

TEST(Summarize, other_hosts_are_never_the_reference) {
    const auto all = summarize({make_row("fp16", 0.60, 7200.0, 10.0, "arc", "w1", "h1"),
                                make_row("int8", 0.57, 5400.0, 20.0, "arc", "w1", "h2")});
    EXPECT_FALSE(find(all, "int8", "arc", "h2").retention);
    EXPECT_THROW(retention_against_reference(all, find(all, "int8", "arc", "h2")), jb::Error);
}

TEST(Summarize, estimated_energy_against_a_measured_reference_is_flagged) {
    Row f = make_row("fp16", 0.60, 7200.0, 10.0);
    Row q = make_row("int8", 0.57, 5400.0, 20.0);
    q.estimated = true;
    const auto all = summarize({f, q});
    const Summary & s = find(all, "int8");
    EXPECT_TRUE(s.estimated);
    EXPECT_TRUE(s.mixed_estimate);
    ASSERT_TRUE(s.gain);  // computed, and said
    EXPECT_NE(s.note.find("energy is estimated, fp16's is measured"), std::string::npos) << s.note;
    EXPECT_FALSE(find(all, "fp16").mixed_estimate);

    const auto cands = candidates(all);
    ASSERT_EQ(cands.size(), 2u);
    EXPECT_TRUE(cands[1].mixed_estimate);
    EXPECT_NE(cands[1].note.find("estimated energy with a measured one"), std::string::npos);
    const Recommendation rec = recommend(cands, find_profile("datacenter"));
    bool said = false;
    for (const auto & n : rec.notes) said = said || n.find("estimated") != std::string::npos;
    EXPECT_TRUE(said);
}

TEST(Summarize, estimated_and_measured_repeats_are_flagged) {
    Row a = make_row("fp16", 0.6, 7000.0, 10.0);
    Row b = make_row("fp16", 0.6, 7400.0, 10.0);
    b.repeat = 1;
    b.estimated = true;
    const auto all = summarize({a, b});
    EXPECT_TRUE(all[0].estimated);
    EXPECT_TRUE(all[0].mixed_estimate);
    EXPECT_NE(all[0].note.find("1 of 2 repeats have estimated energy"), std::string::npos) << all[0].note;
}

TEST(Summarize, reference_that_scored_zero_gives_no_retention) {
    const auto all = summarize({make_row("fp16", 0.0, 7200.0, 10.0), make_row("int8", 0.2, 5400.0, 10.0)});
    const Summary & s = find(all, "int8");
    EXPECT_FALSE(s.retention);
    EXPECT_NE(s.note.find("fp16 scored 0 on arc"), std::string::npos) << s.note;
    EXPECT_THROW(retention_against_reference(all, s), jb::Error);
}

TEST(Summarize, reference_can_be_named_by_option) {
    Options opt;
    opt.reference = "bf16";
    const auto all = summarize({make_row("bf16", 0.6, 7200.0, 10.0), make_row("int8", 0.57, 5400.0, 20.0)}, opt);
    ASSERT_TRUE(find(all, "int8").retention);
    EXPECT_NEAR(*find(all, "int8").retention, 0.95, kEps);
    EXPECT_NEAR(retention_against_reference(all, find(all, "int8"), "bf16"), 0.95, kEps);
}

namespace {

// A synthetic decode workload (tg256r5): no score, decode energy and tokens only.
Row make_unscored(const std::string & scheme, double energy_j, int64_t decode_tokens, double wall_s) {
    Row r = make_row(scheme, NAN, energy_j, wall_s, "tg256r5", "bench-tg");
    r.score_stderr = NAN;
    r.energy_net_j = energy_j - 100.0;
    r.decode_j = energy_j - 4.0;
    r.decode_tokens = decode_tokens;
    r.decode_s = wall_s - 0.1;
    r.avg_w = energy_j / wall_s;
    r.peak_w = 600.0;
    return r;
}

}  // namespace

TEST(Summarize, unscored_workload_compares_energy_per_token) {
    // fp16: 1800 J for 512 tokens; int8 (say, run twice as often by an old sweep): 2300 J for 1024.
    Row f = make_unscored("fp16", 1800.0, 512, 3.2);
    Row q = make_unscored("int8", 2300.0, 1024, 4.6);
    q.peak_w = 650.0;
    Row q1 = q;
    q1.repeat = 1;
    q1.energy_j = 2200.0;
    q1.energy_net_j = 2100.0;
    q1.peak_w = 700.0;
    q1.avg_w = 500.0;
    q.domain_j = {{"gpu:0", 1200.0}, {"gpu:1", 1100.0}};  // a two-GPU run: per-GPU sums over repeats
    q1.domain_j = {{"gpu:0", 1150.0}, {"gpu:1", 1050.0}};
    const auto all = summarize({f, q, q1});
    ASSERT_EQ(all.size(), 2u);

    const Summary & fs = find(all, "fp16", "tg256r5");
    EXPECT_FALSE(fs.scored);
    EXPECT_DOUBLE_EQ(fs.j_per_token, 1800.0 / 512.0);
    EXPECT_DOUBLE_EQ(fs.net_j_per_token, 1700.0 / 512.0);
    EXPECT_DOUBLE_EQ(fs.tok_s, 512.0 / 3.2);
    EXPECT_DOUBLE_EQ(fs.decode_j_per_token, 1796.0 / 512.0);
    ASSERT_TRUE(fs.energy_saving);
    EXPECT_DOUBLE_EQ(*fs.energy_saving, 0.0);

    const Summary & s = find(all, "int8", "tg256r5");
    EXPECT_FALSE(s.scored);
    // Totals over repeats: (2300 + 2200) J / 2048 tokens.
    EXPECT_DOUBLE_EQ(s.j_per_token, 4500.0 / 2048.0);
    EXPECT_DOUBLE_EQ(s.net_j_per_token, (2200.0 + 2100.0) / 2048.0);
    EXPECT_DOUBLE_EQ(s.tok_s, 2048.0 / 9.2);
    EXPECT_DOUBLE_EQ(s.avg_w, (2300.0 / 4.6 + 500.0) / 2.0);
    EXPECT_DOUBLE_EQ(s.peak_w, 700.0);
    using Split = std::vector<std::pair<std::string, double>>;
    EXPECT_EQ(s.domain_j, (Split{{"gpu:0", 2350.0}, {"gpu:1", 2150.0}}));
    EXPECT_TRUE(fs.domain_j.empty());
    // Per token, not per cell: 1 - (4500 / 2048) / (1800 / 512) = 0.375; per cell it would be -25 %.
    ASSERT_TRUE(s.energy_saving);
    EXPECT_NEAR(*s.energy_saving, 0.375, kEps);
    // No accuracy: no EOR, TWEOR, gain or retention, and no per-row note saying so.
    EXPECT_TRUE(std::isnan(s.eor));
    EXPECT_TRUE(std::isnan(s.tweor));
    EXPECT_FALSE(s.gain);
    EXPECT_FALSE(s.retention);
    EXPECT_FALSE(s.pareto);
    EXPECT_EQ(s.note, "");
    EXPECT_EQ(fs.note, "");
    // Recommendations rank accuracy: unscored workloads give no candidate.
    EXPECT_TRUE(candidates(all).empty());
}

TEST(Summarize, unscored_workloads_leave_scored_results_unchanged) {
    const std::vector<Row> scored = {make_row("fp16", 0.60, 7200.0, 10.0), make_row("int8", 0.57, 5400.0, 20.0)};
    std::vector<Row> mixed = scored;
    mixed.push_back(make_unscored("fp16", 1800.0, 512, 3.2));
    mixed.push_back(make_unscored("int8", 1100.0, 512, 2.3));
    const auto alone = summarize(scored);
    const auto both = summarize(mixed);
    ASSERT_EQ(both.size(), 4u);
    for (const char * scheme : {"fp16", "int8"}) {
        const Summary & a = find(alone, scheme);
        const Summary * b = nullptr;
        for (const auto & s : both) {
            if (s.scheme == scheme && s.task == "arc") b = &s;
        }
        ASSERT_NE(b, nullptr);
        EXPECT_TRUE(b->scored);
        EXPECT_DOUBLE_EQ(b->eor, a.eor);
        EXPECT_DOUBLE_EQ(b->tweor, a.tweor);
        EXPECT_EQ(b->retention, a.retention);
        EXPECT_EQ(b->gain, a.gain);
        EXPECT_EQ(b->energy_saving, a.energy_saving);  // per cell for a scored task
        EXPECT_EQ(b->note, a.note);
    }
    // The candidates compare the scored task only, with no note about the unscored one.
    const auto c_alone = candidates(alone), c_both = candidates(both);
    ASSERT_EQ(c_both.size(), c_alone.size());
    for (size_t i = 0; i < c_both.size(); ++i) {
        EXPECT_EQ(c_both[i].workloads, c_alone[i].workloads);
        EXPECT_DOUBLE_EQ(c_both[i].eor, c_alone[i].eor);
        EXPECT_DOUBLE_EQ(c_both[i].energy_saving, c_alone[i].energy_saving);
        EXPECT_EQ(c_both[i].note, c_alone[i].note);
    }
}
