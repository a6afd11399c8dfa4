// Serving metrics: SLO parsing and verdicts, the operating point per scheme (lowest J/request that
// meets the SLO) and the scheme to choose, and the traffic recommendation (served levels first,
// offline per-phase J/token otherwise). Expectations are computed by hand from the fixtures.

#include <gtest/gtest.h>

#include <cmath>

#include "joulebench/error.hpp"
#include "joulebench/serving.hpp"
#include "metrics/confidence.hpp"

using namespace jb;
using namespace jb::metrics;

namespace {

// A closed level of `scheme` at concurrency c: J/request over the steady window, TTFT and TPOT p99.
ServeLevelRecord level(const std::string & scheme, int c, double j_per_request, double ttft_p99_ms,
                       double tpot_p99_ms, const std::string & host = "h1") {
    ServeLevelRecord l;
    l.host_fingerprint = host;
    l.host_name = host == "h1" ? "node1" : "node2";
    l.model_hash = "m";
    l.model_name = "qwen.gguf";
    l.scheme_canonical = "w=" + scheme;
    l.scheme_name = scheme;
    l.level = "c=" + std::to_string(c);
    l.workload_fp = "wf";
    l.settings_fp = "sf";
    l.mode = "closed";
    l.concurrency = c;
    l.status = kServeOk;
    l.sent = l.completed = 4 * c;
    l.prompt_tokens = 512 * l.completed;  // 512-token prompts
    l.completion_tokens = 256 * l.completed;  // 256-token outputs
    l.requests_per_s = c * 0.5;
    l.steady_s = 10.0;  // a window as fast as the level: c x 0.5 requests/s in it too
    l.steady_output_tokens = l.requests_per_s * l.steady_s * 256.0;
    l.steady_j_per_request = j_per_request;
    l.steady_j_per_output_token = j_per_request / 256.0;
    l.steady_wh_per_1000_requests = j_per_request * 1000.0 / 3600.0;
    l.j_per_request = j_per_request * 1.1;  // the whole level's, ramps included
    l.ttft_p50_ms = ttft_p99_ms / 2;
    l.ttft_p90_ms = ttft_p99_ms * 0.8;
    l.ttft_p99_ms = ttft_p99_ms;
    l.tpot_p50_ms = tpot_p99_ms / 2;
    l.tpot_p90_ms = tpot_p99_ms * 0.8;
    l.tpot_p99_ms = tpot_p99_ms;
    return l;
}

}  // namespace

TEST(ServingSlo, parses_seconds_and_milliseconds_and_refuses_the_rest) {
    const Slo slo = parse_slo("ttft_p99=2s, tpot_p99=50ms,itl_p90=120");
    ASSERT_EQ(slo.targets.size(), 3u);
    EXPECT_EQ(slo.targets[0].metric, "ttft");
    EXPECT_EQ(slo.targets[0].percentile, 99);
    EXPECT_DOUBLE_EQ(slo.targets[0].limit_ms, 2000.0);
    EXPECT_DOUBLE_EQ(slo.targets[1].limit_ms, 50.0);
    EXPECT_DOUBLE_EQ(slo.targets[2].limit_ms, 120.0) << "a bare number is milliseconds";
    EXPECT_EQ(slo.str(), "ttft_p99=2s,tpot_p99=50ms,itl_p90=120ms");
    EXPECT_TRUE(parse_slo("none").empty());
    EXPECT_TRUE(parse_slo("").empty());
    EXPECT_THROW(parse_slo("ttft_p95=2s"), UsageError);
    EXPECT_THROW(parse_slo("ttft_p99"), UsageError);
    EXPECT_THROW(parse_slo("ttft_p99=fast"), UsageError);
    EXPECT_THROW(parse_slo("ttft_p99=2s,ttft_p99=3s"), UsageError);
    try {
        parse_slo("latency_p99=2s", "--slo");
        FAIL();
    } catch (const UsageError & e) {
        EXPECT_NE(std::string(e.what()).find("--slo: 'latency_p99' is not a latency target"), std::string::npos)
            << e.what();
    }
}

TEST(ServingSlo, a_level_meets_it_only_when_ok_and_within_every_target) {
    const Slo slo = parse_slo("ttft_p99=2s,tpot_p99=50ms");
    EXPECT_EQ(slo_violation(level("fp16", 4, 100, 1999, 50), slo), "");
    EXPECT_EQ(slo_violation(level("fp16", 4, 100, 2410, 20), slo), "TTFT p99 2.41 s > 2 s");
    EXPECT_EQ(slo_violation(level("fp16", 4, 100, 100, 51.5), slo), "TPOT p99 51.5 ms > 50 ms");
    ServeLevelRecord partial = level("fp16", 4, 100, 100, 20);
    partial.status = kServePartial;
    partial.completed = 14;
    partial.failed = 1;
    partial.timed_out = 1;
    EXPECT_EQ(slo_violation(partial, slo), "2 of 16 requests failed or timed out");
    ServeLevelRecord none = level("fp16", 4, 100, NAN, 20);
    EXPECT_EQ(slo_violation(none, slo), "no TTFT p99");
}

// The tuner's latency constraint: the worst target's value over its limit.
TEST(ServingSlo, ratio_is_the_worst_targets_value_over_its_limit) {
    const Slo slo = parse_slo("ttft_p99=2s,tpot_p99=50ms");
    EXPECT_DOUBLE_EQ(slo_ratio(level("fp16", 4, 100, 1500, 60), slo), 1.2);   // TPOT 60 / 50
    EXPECT_DOUBLE_EQ(slo_ratio(level("fp16", 4, 100, 1000, 20), slo), 0.5);   // TTFT 1000 / 2000
    EXPECT_TRUE(std::isnan(slo_ratio(level("fp16", 4, 100, NAN, 20), slo)));  // no TTFT
    EXPECT_EQ(slo_ratio(level("fp16", 4, 100, 1000, 20), Slo{}), 0.0);
}

TEST(ServingFrontier, operating_point_is_the_cheapest_level_within_the_slo_and_the_cheapest_scheme_is_chosen) {
    // fp16: c=1 90 J (fast), c=4 40 J, c=16 25 J but TTFT 2.5 s: its operating point is c=4.
    // q4_k_m: c=1 70 J, c=4 30 J, c=16 20 J with TPOT 60 ms (misses 50 ms): c=4 at 30 J.
    // int8: every level misses TTFT: no operating point.
    std::vector<ServeLevelRecord> levels = {
        level("fp16", 1, 90, 100, 10),   level("fp16", 16, 25, 2500, 30), level("fp16", 4, 40, 400, 20),
        level("q4_k_m", 1, 70, 120, 12), level("q4_k_m", 4, 30, 500, 25), level("q4_k_m", 16, 20, 1500, 60),
        level("int8", 1, 50, 3000, 10),
    };
    const Slo slo = parse_slo("ttft_p99=2s,tpot_p99=50ms");
    const auto fs = serving_frontier(levels, slo);
    ASSERT_EQ(fs.size(), 3u);
    const SchemeFrontier & fp16 = fs[0];
    EXPECT_EQ(fp16.scheme, "fp16");
    ASSERT_EQ(fp16.levels.size(), 3u);
    EXPECT_EQ(levels[fp16.levels[0]].level, "c=1") << "levels ordered by concurrency";
    EXPECT_EQ(levels[fp16.levels[1]].level, "c=4");
    EXPECT_EQ(levels[fp16.levels[2]].level, "c=16");
    ASSERT_TRUE(fp16.operating_point);
    EXPECT_EQ(levels[*fp16.operating_point].level, "c=4");
    EXPECT_FALSE(fp16.chosen);
    EXPECT_DOUBLE_EQ(fp16.saving_vs_reference, 0.0);
    const SchemeFrontier & q4 = fs[1];
    ASSERT_TRUE(q4.operating_point);
    EXPECT_EQ(levels[*q4.operating_point].level, "c=4");
    EXPECT_TRUE(q4.chosen);
    EXPECT_NEAR(q4.saving_vs_reference, 1.0 - 30.0 / 40.0, 1e-12);
    EXPECT_EQ(q4.violations[2], "TPOT p99 60 ms > 50 ms");
    const SchemeFrontier & int8 = fs[2];
    EXPECT_FALSE(int8.operating_point);
    EXPECT_FALSE(int8.chosen);
    EXPECT_EQ(int8.note, "no level meets ttft_p99=2s,tpot_p99=50ms (TTFT p99 3 s > 2 s at c=1)");

    const auto lines = frontier_headlines(fs, levels, slo);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("choose q4_k_m at c=4: 30 J per request"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("fp16 at c=4: 40 J (+33.3 %)"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("int8: none"), std::string::npos) << lines[0];

    // Without a target every ok level qualifies: the cheapest overall.
    const auto open = serving_frontier(levels, Slo{});
    EXPECT_EQ(levels[*open[0].operating_point].level, "c=16");
    EXPECT_EQ(levels[*open[1].operating_point].level, "c=16");
    EXPECT_TRUE(open[1].chosen);
}

TEST(ServingFrontier, frontiers_of_one_scheme_are_labelled_by_the_server_settings_that_differ) {
    std::vector<ServeLevelRecord> levels = {level("fp16", 1, 90, 100, 10), level("fp16", 1, 95, 3000, 10),
                                            level("fp16", 1, 80, 100, 10), level("int8", 1, 70, 100, 10)};
    levels[0].server_json = R"({"parallel": 1, "flash_attn": "on", "extra_args": []})";
    levels[1].settings_fp = "sf2";
    levels[1].server_json = R"({"parallel": 1, "flash_attn": "on", "extra_args": ["--cache-ram", "8192"]})";
    levels[2].workload_fp = "wf|server=tuned";  // serve --tuned: its own group
    EXPECT_EQ(server_settings(levels[1]), (std::vector<std::string>{"np 1", "fa on", "--cache-ram 8192"}));
    const auto fs = serving_frontier(levels, Slo{});
    ASSERT_EQ(fs.size(), 4u);
    EXPECT_EQ(fs[0].label, "fp16");
    EXPECT_EQ(fs[1].label, "fp16 (--cache-ram 8192)");
    EXPECT_EQ(fs[2].label, "fp16 (tuned server)");
    EXPECT_EQ(fs[3].label, "int8");
    const auto lines = frontier_headlines(fs, levels, Slo{});
    ASSERT_EQ(lines.size(), 2u);  // the tuned levels' workload differs: a group of their own
    EXPECT_NE(lines[0].find("fp16 (--cache-ram 8192) at c=1: 95 J"), std::string::npos) << lines[0];

    // Settings that differ where the label does not look: numbered in the order served.
    levels[1].server_json = levels[0].server_json;
    const auto same = serving_frontier(levels, Slo{});
    EXPECT_EQ(same[0].label, "fp16 (settings 1)");
    EXPECT_EQ(same[1].label, "fp16 (settings 2)");
    EXPECT_EQ(server_settings(levels[3]), std::vector<std::string>{}) << "no server_json: nothing named";
}

TEST(ServingCautions, an_open_level_off_its_rate_or_behind_its_arrivals_is_said_so) {
    ServeLevelRecord l = level("fp16", 16, 100, 100, 10);
    l.result_json = R"({"arrival_rate_rps": 0.625})";
    l.queue_p99_ms = 11790;
    EXPECT_TRUE(serve_cautions(l).empty()) << "a closed loop has neither";
    l.mode = "open";
    l.rate_rps = 1.0;
    l.sent = 5;
    l.requests_per_s = 2.385;
    auto c = serve_cautions(l);
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].rfind("the arrivals came at 0.625/s, not 1/s (-38 %, 5 requests): the level "
                         "measured a lighter load than its label", 0), 0u) << c[0];
    EXPECT_EQ(c[1].rfind("arrivals waited up to 11.8 s (queue p99) for one of the 16 places in flight: the server "
                         "fell behind (2.38 requests/s served)", 0), 0u) << c[1];
    // At the tolerances: -25 % and a 1 s wait are not said.
    l.result_json = R"({"arrival_rate_rps": 0.75})";
    l.queue_p99_ms = 1000;
    EXPECT_TRUE(serve_cautions(l).empty());
    l.result_json = R"({"arrival_rate_rps": 1.3})";  // +30 %: heavier
    c = serve_cautions(l);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_NE(c[0].find("a heavier load"), std::string::npos) << c[0];
    l.result_json = "{}";  // levels stored before the rate was recorded
    EXPECT_TRUE(serve_cautions(l).empty());
}

TEST(ServingThroughput, a_levels_requests_per_s_are_of_the_window_its_joules_are) {
    // 40 requests of 256 tokens in 20 s: 2 requests/s over the whole level. Its steady window: 8 s
    // holding 5120 output tokens = 20 request equivalents, so 2.5 requests/s and 640 tokens/s there,
    // the rate its 100 J/request was spent at (250 W).
    ServeLevelRecord l = level("fp16", 8, 100, 500, 20);
    l.sent = l.completed = 40;
    l.prompt_tokens = 512 * 40;
    l.completion_tokens = 256 * 40;
    l.requests_per_s = 2.0;
    l.output_tokens_per_s = 512.0;
    l.steady_s = 8.0;
    l.steady_output_tokens = 5120.0;
    EXPECT_DOUBLE_EQ(l.steady_requests_per_s(), 2.5);
    EXPECT_DOUBLE_EQ(l.best_requests_per_s(), 2.5);
    EXPECT_DOUBLE_EQ(l.best_output_tokens_per_s(), 640.0);

    const std::vector<ServeLevelRecord> levels = {l};
    const auto heads = frontier_headlines(serving_frontier(levels, Slo{}), levels, Slo{});
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_NE(heads[0].find("2.5 requests/s"), std::string::npos) << heads[0];
    const TrafficRecommendation rec =
        recommend_traffic(levels, {}, {}, parse_traffic("prompt=512,output=256,concurrency=8"));
    ASSERT_EQ(rec.answers.size(), 1u);
    EXPECT_DOUBLE_EQ(rec.answers[0].requests_per_s, 2.5);
    // A rate of 2.2/s: this closed level sustains it in its steady state, not over its whole level.
    const TrafficRecommendation rate =
        recommend_traffic(levels, {}, {}, parse_traffic("prompt=512,output=256,rate=2.2"));
    ASSERT_EQ(rate.answers.size(), 1u);
    EXPECT_NE(rate.answers[0].basis.find("the fewest clients that sustain 2.2"), std::string::npos)
        << rate.answers[0].basis;

    // Without a steady window, J/request and requests/s are both the whole level's.
    l.steady_j_per_request = kUnmeasured;
    EXPECT_TRUE(std::isnan(l.steady_requests_per_s()));
    EXPECT_DOUBLE_EQ(l.best_requests_per_s(), 2.0);
    EXPECT_DOUBLE_EQ(l.best_output_tokens_per_s(), 512.0);
}

TEST(ServingRepeats, runs_of_a_level_pool_into_their_mean_with_its_interval) {
    EXPECT_EQ(repeat_suffix(1), "");
    EXPECT_EQ(repeat_suffix(3), "|repeat=3");
    int run = 0;
    EXPECT_EQ(repeat_base("wf|repeat=3", &run), "wf");
    EXPECT_EQ(run, 3);
    EXPECT_EQ(repeat_base("wf", &run), "wf");
    EXPECT_EQ(run, 1);
    EXPECT_EQ(repeat_base("wf|repeat=x", &run), "wf|repeat=x") << "not a run number: part of the fingerprint";

    // fp16 c=8 run three times: 100, 110 and 120 J/request in windows of 2.0, 2.5 and 3.0 requests/s
    // (8 s, 256-token outputs), TTFT p99 300, 400, 500 ms; a fourth run failed; q4_k_m run once.
    auto run_of = [](int k, double j, double rps, double ttft) {
        ServeLevelRecord l = level("fp16", 8, j, ttft, 20);
        l.workload_fp = "wf" + repeat_suffix(k);
        l.steady_s = 8.0;
        l.steady_output_tokens = rps * 8.0 * 256.0;
        return l;
    };
    ServeLevelRecord failed = run_of(4, 90, 3.5, 100);
    failed.status = kServeFailed;
    failed.reason = "llama-server died";
    const std::vector<ServeLevelRecord> levels = {run_of(2, 110, 2.5, 400), level("q4_k_m", 8, 80, 700, 20),
                                                  failed, run_of(1, 100, 2.0, 300), run_of(3, 120, 3.0, 500)};
    const auto pooled = pool_repeats(levels);
    ASSERT_EQ(pooled.size(), 2u);
    const ServeLevelRecord & f = pooled[0];
    EXPECT_EQ(f.scheme_name, "fp16") << "each group where its first row was";
    EXPECT_EQ(f.workload_fp, "wf");
    EXPECT_EQ(f.status, kServeOk);
    EXPECT_EQ(f.runs, 3);
    EXPECT_DOUBLE_EQ(f.best_j_per_request(), 110.0);
    EXPECT_DOUBLE_EQ(f.best_requests_per_s(), 2.5);
    EXPECT_DOUBLE_EQ(f.ttft_p99_ms, 400.0);
    EXPECT_EQ(f.completed, 3 * 32) << "counts are summed";
    EXPECT_EQ(f.run_j_per_request, (std::vector<double>{100, 110, 120})) << "in run order";
    // sd 10, t(0.975, 2) = 4.303: 4.303 x 10 / sqrt(3) = 24.84.
    EXPECT_NEAR(f.j_per_request_ci95, 4.303 * 10 / std::sqrt(3.0), 0.01);
    EXPECT_EQ(f.reason, "1 of 4 runs not ok, left out: llama-server died");
    const ServeLevelRecord & q = pooled[1];
    EXPECT_EQ(q.runs, 1);
    EXPECT_TRUE(std::isnan(q.j_per_request_ci95));
    EXPECT_DOUBLE_EQ(q.best_j_per_request(), 80.0);

    // The frontier gives a saving's interval only where both operating points have runs.
    // A run without a steady window: the pooled level is of the whole levels, its runs' too.
    std::vector<ServeLevelRecord> unsteady = {run_of(1, 100, 2.0, 300), run_of(2, 110, 2.5, 400)};
    unsteady[1].steady_j_per_request = kUnmeasured;
    const ServeLevelRecord u = pool_repeats(unsteady)[0];
    EXPECT_TRUE(std::isnan(u.steady_j_per_request));
    ASSERT_EQ(u.run_j_per_request.size(), 2u);
    EXPECT_NEAR(u.run_j_per_request[0], 110.0, 1e-9) << "each run's whole-level J (1.1 x)";
    EXPECT_NEAR(u.run_j_per_request[1], 121.0, 1e-9);
    EXPECT_NEAR(u.best_j_per_request(), 115.5, 1e-9);

    const auto fs = serving_frontier(pooled, Slo{});
    ASSERT_EQ(fs.size(), 2u);
    for (const auto & fr : fs) EXPECT_TRUE(std::isnan(fr.saving_ci95_lo)) << fr.scheme;
    std::vector<ServeLevelRecord> both = levels;
    for (int k = 1; k <= 2; ++k) {
        ServeLevelRecord l = level("q4_k_m", 8, k == 1 ? 78 : 82, 700, 20);
        l.workload_fp = "wf" + repeat_suffix(k + 1);
        both.push_back(l);
    }
    const auto pooled_both = pool_repeats(both);
    EXPECT_EQ(pooled_both[0].run_numbers, (std::vector<int>{1, 2, 3})) << "run 4 failed";
    const auto fs2 = serving_frontier(pooled_both, Slo{});
    // Both ran rounds 1-3: paired. Log ratios log(80/100), log(78/110), log(82/120): mean -0.3159,
    // sd 0.08243, t(2) 4.303: spread 0.2048 around 80/110: saving 27.3 %, interval 10.7 to 40.7 %.
    const SavingInterval want = paired_saving_ci95({80, 78, 82}, {100, 110, 120});
    EXPECT_NEAR(want.lo, 0.1075, 0.0005);
    EXPECT_NEAR(want.hi, 0.4074, 0.0005);
    EXPECT_TRUE(std::isnan(paired_saving_ci95({80, 78}, {100, 110, 120}).lo)) << "pairs need equal lengths";
    EXPECT_TRUE(std::isnan(paired_saving_ci95({80}, {100}).lo)) << "and two of them";
    bool seen = false;
    for (const auto & fr : fs2) {
        if (fr.scheme != "q4_k_m") continue;
        seen = true;
        EXPECT_NEAR(fr.saving_vs_reference, 1 - 80.0 / 110.0, 1e-12);
        EXPECT_TRUE(fr.saving_paired);
        EXPECT_DOUBLE_EQ(fr.saving_ci95_lo, want.lo);
        EXPECT_DOUBLE_EQ(fr.saving_ci95_hi, want.hi);
        // Unpaired (Welch) the same runs give a wider interval: the rounds' drift stays in it.
        const SavingInterval welch = saving_ci95({80, 78, 82}, {100, 110, 120});
        EXPECT_LT(welch.lo, want.lo);
        EXPECT_GT(welch.hi, want.hi);
    }
    EXPECT_TRUE(seen);
    // Rounds that differ (q4_k_m's third run missing): Welch's interval.
    std::vector<ServeLevelRecord> two = both;
    two.pop_back();
    const auto fs3 = serving_frontier(pool_repeats(two), Slo{});
    for (const auto & fr : fs3) {
        if (fr.scheme != "q4_k_m") continue;
        EXPECT_FALSE(fr.saving_paired);
        EXPECT_DOUBLE_EQ(fr.saving_ci95_lo, saving_ci95({80, 78}, {100, 110, 120}).lo);
    }
    const auto heads = frontier_headlines(fs2, pooled_both, Slo{});
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_NE(heads[0].find("choose q4_k_m at c=8: 80 J ± 4.968 (3 runs) per request"), std::string::npos) << heads[0];
    EXPECT_NE(heads[0].find("fp16 at c=8: 110 J ± 24.84 (3 runs) (+37.5 %)"), std::string::npos) << heads[0];
}

TEST(ServingTraffic, parses_concurrency_or_rate_with_targets) {
    const Traffic t = parse_traffic("prompt=512,output=256,concurrency=8,ttft_p99=2s");
    EXPECT_EQ(t.prompt_tokens, 512);
    EXPECT_EQ(t.output_tokens, 256);
    EXPECT_EQ(t.concurrency, 8);
    EXPECT_EQ(t.rate_rps, 0.0);
    ASSERT_EQ(t.slo.targets.size(), 1u);
    EXPECT_EQ(t.str(), "prompt=512,output=256,concurrency=8,ttft_p99=2s");
    EXPECT_DOUBLE_EQ(parse_traffic("prompt=1,output=2,rate=2.5").rate_rps, 2.5);
    EXPECT_EQ(parse_traffic("prompt=1,output=2").concurrency, 1) << "one client unless told";
    EXPECT_EQ(parse_traffic("prompt=1,output=2").slo.str(), "ttft_p99=2s,tpot_p99=100ms") << "the serving profile's SLO";
    EXPECT_THROW(parse_traffic("prompt=512"), UsageError);
    EXPECT_THROW(parse_traffic("prompt=512,output=256,concurrency=8,rate=2"), UsageError);
    EXPECT_THROW(parse_traffic("prompt=512,output=256,clients=8"), UsageError);
    EXPECT_THROW(parse_traffic("prompt=-5,output=256"), UsageError);
}

TEST(ServingTraffic, served_levels_answer_when_their_lengths_match) {
    std::vector<ServeLevelRecord> levels = {level("fp16", 4, 40, 400, 20), level("fp16", 16, 25, 900, 30),
                                            level("q4_k_m", 4, 30, 500, 25), level("q4_k_m", 16, 20, 1500, 45)};
    const Traffic t = parse_traffic("prompt=512,output=256,concurrency=8,ttft_p99=1s");
    const TrafficRecommendation rec = recommend_traffic(levels, {}, {}, t);
    ASSERT_EQ(rec.answers.size(), 2u);
    // Concurrency 8: nearest levels are c=4 (distance 4) and c=16 (distance 8): c=4 for both.
    EXPECT_EQ(rec.answers[0].scheme, "q4_k_m");
    EXPECT_TRUE(rec.answers[0].served);
    EXPECT_DOUBLE_EQ(rec.answers[0].j_per_request, 30.0);
    EXPECT_NE(rec.answers[0].basis.find("served c=4 (nearest to concurrency 8)"), std::string::npos)
        << rec.answers[0].basis;
    EXPECT_TRUE(rec.answers[0].best);
    EXPECT_DOUBLE_EQ(rec.answers[1].j_per_request, 40.0);
    EXPECT_NE(rec.why.find("choose q4_k_m: 30 J per request"), std::string::npos) << rec.why;
    EXPECT_NE(rec.why.find("from served measurements"), std::string::npos) << rec.why;
    EXPECT_NE(rec.why.find("fp16 +33.3 %"), std::string::npos) << rec.why;

    // An accuracy loss below the retention floor keeps a scheme from being chosen.
    Candidate q4;
    q4.model = "m";
    q4.scheme = "q4_k_m";
    q4.retention = 0.95;
    const TrafficRecommendation strict = recommend_traffic(levels, {}, {q4}, t);
    ASSERT_EQ(strict.answers.size(), 2u);
    EXPECT_FALSE(strict.answers[0].best);
    EXPECT_TRUE(strict.answers[1].best);
    EXPECT_EQ(strict.answers[1].scheme, "fp16");
}

TEST(ServingTraffic, when_no_scheme_meets_the_slo_at_the_rate_it_says_how_much_load_each_takes_within_it) {
    // Poisson arrivals at 1, 2 and 3 requests/s; at 3 the server falls behind (2.5 served) and
    // TTFT p99 reads 6 s. int8 was measured at 3 only.
    auto open = [](const std::string & scheme, int rate, double rps, double j, double ttft_p99_ms) {
        ServeLevelRecord l = level(scheme, int(rps * 2), j, ttft_p99_ms, 30);  // rps = c x 0.5
        l.mode = "open";
        l.level = "r=" + std::to_string(rate);
        l.rate_rps = rate;
        l.concurrency = 16;
        return l;
    };
    const std::vector<ServeLevelRecord> levels = {
        open("q4_k_m", 1, 1.0, 340, 200),  open("q4_k_m", 2, 2.0, 160, 680), open("q4_k_m", 3, 2.5, 110, 6000),
        open("fp16", 1, 1.0, 380, 190),    open("fp16", 2, 2.0, 195, 140),   open("fp16", 3, 2.5, 130, 4000),
        open("int8", 3, 2.5, 120, 5000)};
    const TrafficRecommendation rec =
        recommend_traffic(levels, {}, {}, parse_traffic("prompt=512,output=256,rate=3,ttft_p99=2s"));
    ASSERT_EQ(rec.answers.size(), 3u);
    for (const auto & a : rec.answers) EXPECT_FALSE(a.best) << a.scheme;
    EXPECT_EQ(rec.answers[0].scheme, "q4_k_m");
    EXPECT_EQ(rec.answers[0].within_slo_level, "r=2");
    EXPECT_DOUBLE_EQ(rec.answers[0].within_slo_requests_per_s, 2.0);
    EXPECT_DOUBLE_EQ(rec.answers[0].within_slo_j_per_request, 160.0);
    EXPECT_EQ(rec.why,
              "qwen.gguf on node1: no scheme meets ttft_p99=2s (from served measurements); the most load measured "
              "within it: q4_k_m r=2 (2 requests/s, 160 J per request), int8 none, fp16 r=2 (2 requests/s, 195 J per "
              "request).");

    // Only the levels that miss: said so, not "none" per scheme.
    const std::vector<ServeLevelRecord> missing = {levels[2], levels[5], levels[6]};
    const TrafficRecommendation none =
        recommend_traffic(missing, {}, {}, parse_traffic("prompt=512,output=256,rate=3,ttft_p99=2s"));
    EXPECT_EQ(none.why, "qwen.gguf on node1: no scheme meets ttft_p99=2s (from served measurements); no measured "
                        "load of any scheme meets it.");

    // At 2 requests/s both meet it: the usual choice, without the sentence.
    const TrafficRecommendation two =
        recommend_traffic(levels, {}, {}, parse_traffic("prompt=512,output=256,rate=2,ttft_p99=2s"));
    EXPECT_EQ(two.why.find("the most load"), std::string::npos) << two.why;
    EXPECT_NE(two.why.find("choose q4_k_m: 160 J per request"), std::string::npos) << two.why;
}

TEST(ServingTraffic, offline_per_phase_j_per_token_answers_otherwise) {
    // No served level at 2048-token prompts: prefill from pp512 (0.02 J/token), decode from the
    // batched workload nearest 8 sequences (tg128x8: 0.5 J/token; tg128 single: 3 J/token).
    std::vector<ServeLevelRecord> levels = {level("fp16", 4, 40, 400, 20)};
    auto summary = [](const std::string & scheme, const std::string & task, double prefill, double decode) {
        Summary s;
        s.host = "h1";
        s.host_name = "node1";
        s.model = "m";
        s.model_name = "qwen.gguf";
        s.scheme = scheme;
        s.task = task;
        s.scored = false;
        s.prefill_j_per_token = prefill;
        s.decode_j_per_token = decode;
        s.prefill_tokens = std::isfinite(prefill) ? 512 : 0;
        s.decode_tokens = std::isfinite(decode) ? 128 : 0;
        return s;
    };
    std::vector<Summary> offline = {summary("fp16", "pp512r5", 0.02, NAN), summary("fp16", "tg128r5", 0.001, 3.0),
                                    summary("fp16", "tg128x8r5", 0.001, 0.5), summary("int8", "pp512r5", 0.03, NAN),
                                    summary("int8", "tg128x8r5", 0.001, 0.45)};
    const Traffic t = parse_traffic("prompt=2048,output=256,concurrency=8");
    const TrafficRecommendation rec = recommend_traffic(levels, offline, {}, t);
    ASSERT_EQ(rec.answers.size(), 2u);
    // fp16: 2048 x 0.02 + 256 x 0.5 = 40.96 + 128 = 168.96 J; int8: 61.44 + 115.2 = 176.64 J.
    EXPECT_EQ(rec.answers[0].scheme, "fp16");
    EXPECT_FALSE(rec.answers[0].served);
    EXPECT_NEAR(rec.answers[0].j_per_request, 168.96, 1e-9);
    EXPECT_NEAR(rec.answers[1].j_per_request, 176.64, 1e-9);
    EXPECT_TRUE(rec.answers[0].best);
    EXPECT_NE(rec.answers[0].basis.find("pp512r5 prefill"), std::string::npos) << rec.answers[0].basis;
    EXPECT_NE(rec.answers[0].basis.find("tg128x8r5 decode"), std::string::npos) << rec.answers[0].basis;
    EXPECT_NE(rec.why.find("offline per-phase J/token"), std::string::npos) << rec.why;
    EXPECT_FALSE(rec.notes.empty());
}
