// Candidates (a scheme on a host over the tasks it shares with fp16) and the use-case profiles:
// each profile picks the row its definition says, with the right runner-up.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "joulebench/metrics.hpp"
#include "joulebench/error.hpp"

using namespace jb::metrics;

namespace {

constexpr double kEps = 1e-12;
constexpr int64_t kGiB = int64_t(1) << 30;

Row make_row(const std::string & scheme, const std::string & task, const std::string & workload, double score,
             double energy_j, double wall_s, int64_t prefill_tokens) {
    Row r;
    r.host = "h1";
    r.host_name = "node1";
    r.device = "NVIDIA A100-SXM4-80GB";
    r.model = "m1";
    r.model_name = "llama.gguf";
    r.scheme = scheme;
    r.scheme_canonical = "canon-" + scheme;
    r.task = task;
    r.workload = workload;
    r.score = score;
    r.score_stderr = 0.01;
    r.energy_j = energy_j;
    r.wall_s = wall_s;
    r.prefill_tokens = prefill_tokens;
    r.n_items = 50;
    r.ttft_s = NAN;
    return r;
}

// Two tasks; int8 ran both, q4_k_m only arc.
std::vector<Row> two_task_rows() {
    return {
        make_row("fp16", "arc", "w1", 0.60, 3600.0, 10.0, 1000),
        make_row("fp16", "hs", "w2", 0.40, 7200.0, 20.0, 2000),
        make_row("int8", "arc", "w1", 0.57, 1800.0, 10.0, 1000),
        make_row("int8", "hs", "w2", 0.40, 5400.0, 30.0, 2000),
        make_row("q4_k_m", "arc", "w1", 0.60, 1800.0, 5.0, 1000),
    };
}

const Candidate & by_scheme(const std::vector<Candidate> & all, const std::string & scheme) {
    for (const Candidate & c : all) {
        if (c.scheme == scheme) return c;
    }
    throw std::runtime_error("no candidate " + scheme);
}

Candidate make_cand(const std::string & scheme, const std::string & host, double retention, double eor_value,
                    double latency_s, double energy_wh, int64_t model_bytes, double ttft_s = NAN,
                    double j_per_token = NAN) {
    Candidate c;
    c.host = host;
    c.host_name = host;
    c.device = "GPU-" + host;
    c.model = "m1";
    c.model_name = "llama.gguf";
    c.scheme = scheme;
    c.scheme_canonical = scheme;
    c.workloads = "arc@w1,hs@w2";
    c.n_tasks = c.n_reference_tasks = 2;
    c.retention = retention;
    c.eor = eor_value;
    c.gain = eor_value / 30.0 - 1.0;
    c.latency_s = latency_s;
    c.seconds_per_item = latency_s / 100.0;
    c.energy_wh = energy_wh;
    c.energy_saving = 1.0 - energy_wh / 2.0;
    c.model_bytes = model_bytes;
    c.ttft_s = ttft_s;
    c.j_per_token = j_per_token;
    c.is_reference = scheme == "fp16";
    return c;
}

// A table where every built-in profile picks a different row:
//   scheme  host  retention  EOR  latency  energy  file    TTFT
//   fp16    a100  1.000      30   10       2.0     14 GiB  0.4
//   int8    a100  0.995      38    9       1.6     7.5GiB  0.3   <- enterprise
//   fp8     h100  0.985      45    8       1.3     9 GiB   0.8   <- datacenter
//   q4      h100  0.960      50   12       1.0     4 GiB   0.5   <- edge
//   q6      l4    0.975      20    5       2.5     10 GiB  0.6   <- research
//   q3      l4    0.945      60   11       0.5     3 GiB   0.7   <- budget
std::vector<Candidate> matrix() {
    return {
        make_cand("fp16", "a100", 1.000, 30.0, 10.0, 2.0, 14 * kGiB, 0.4, 0.020),
        make_cand("int8", "a100", 0.995, 38.0, 9.0, 1.6, 15 * kGiB / 2, 0.3, 0.016),
        make_cand("fp8", "h100", 0.985, 45.0, 8.0, 1.3, 9 * kGiB, 0.8, 0.013),
        make_cand("q4", "h100", 0.960, 50.0, 12.0, 1.0, 4 * kGiB, 0.5, 0.010),
        make_cand("q6", "l4", 0.975, 20.0, 5.0, 2.5, 10 * kGiB, 0.6, 0.025),
        make_cand("q3", "l4", 0.945, 60.0, 11.0, 0.5, 3 * kGiB, 0.7, 0.005),
    };
}

std::string pick(const Recommendation & r) {
    return r.best ? r.best->scheme + "@" + r.best->host : "none";
}
std::string second(const Recommendation & r) {
    return r.runner_up ? r.runner_up->scheme + "@" + r.runner_up->host : "none";
}

}  // namespace

// --- candidates ------------------------------------------------------------------------------

TEST(Candidates, aggregate_over_the_tasks_both_ran) {
    const auto all = candidates(summarize(two_task_rows()));
    ASSERT_EQ(all.size(), 3u);
    const Candidate & c = by_scheme(all, "int8");
    EXPECT_EQ(c.n_tasks, 2);
    EXPECT_EQ(c.n_reference_tasks, 2);
    EXPECT_EQ(c.tasks, (std::vector<std::string>{"arc", "hs"}));
    EXPECT_EQ(c.workloads, "arc@w1,hs@w2");
    EXPECT_NEAR(c.retention, (0.57 + 0.40) / (0.60 + 0.40), kEps);  // the ratio of mean scores
    EXPECT_NEAR(1.0 + c.gain, c.retention / (1.0 - c.energy_saving), kEps);  // one definition for both
    EXPECT_NEAR(c.score, 0.485, kEps);
    EXPECT_NEAR(c.ref_score, 0.5, kEps);
    EXPECT_NEAR(c.energy_wh, 2.0, kEps);  // 0.5 + 1.5
    EXPECT_NEAR(c.ref_energy_wh, 3.0, kEps);
    EXPECT_NEAR(c.energy_saving, 1.0 / 3.0, kEps);
    EXPECT_NEAR(c.eor, 48.5 / 2.0, kEps);
    EXPECT_NEAR(c.gain, (48.5 / 2.0) / (50.0 / 3.0) - 1.0, kEps);
    EXPECT_NEAR(c.latency_s, 40.0, kEps);
    EXPECT_NEAR(c.ref_latency_s, 30.0, kEps);
    EXPECT_NEAR(c.tweor, 48.5 / (2.0 * 40.0 / 30.0), kEps);
    EXPECT_NEAR(c.j_per_token, 7200.0 / 3000.0, kEps);
    EXPECT_NEAR(c.seconds_per_item, 0.4, kEps);
    EXPECT_NEAR(c.score_stderr, std::sqrt(2.0) * 0.01 / 2.0, kEps);
    EXPECT_TRUE(std::isnan(c.ttft_s));
    EXPECT_FALSE(c.is_reference);
    EXPECT_EQ(c.note, "");

    const Candidate & f = by_scheme(all, "fp16");
    EXPECT_TRUE(f.is_reference);
    EXPECT_DOUBLE_EQ(f.retention, 1.0);
    EXPECT_DOUBLE_EQ(f.gain, 0.0);
    EXPECT_DOUBLE_EQ(f.energy_saving, 0.0);
    EXPECT_DOUBLE_EQ(f.tweor, f.eor);
    // fp16 (more accurate) and int8 (cheaper) are both on the frontier of these workloads.
    EXPECT_TRUE(f.pareto);
    EXPECT_TRUE(c.pareto);
}

TEST(Candidates, partial_coverage_is_said_and_not_ranked_with_full_coverage) {
    const auto all = candidates(summarize(two_task_rows()));
    const Candidate & q = by_scheme(all, "q4_k_m");
    EXPECT_EQ(q.n_tasks, 1);
    EXPECT_EQ(q.workloads, "arc@w1");
    EXPECT_EQ(q.note, "compared on 1 of the 2 tasks fp16 ran (missing: hs)");
    EXPECT_TRUE(q.partial());
    EXPECT_DOUBLE_EQ(q.retention, 1.0);
    EXPECT_DOUBLE_EQ(q.energy_saving, 0.5);  // vs fp16's arc only
    EXPECT_TRUE(q.pareto);                   // alone on its workloads

    // q4_k_m would win budget on its one task, but it did not run the same workloads.
    const Recommendation r = recommend(all, find_profile("budget"));
    EXPECT_EQ(r.n_compared, 2);
    ASSERT_TRUE(r.best);
    EXPECT_EQ(r.best->scheme, "int8");
    bool said = false;
    for (const auto & n : r.notes) said = said || n.find("not compared") != std::string::npos;
    EXPECT_TRUE(said);
}

// --- profiles --------------------------------------------------------------------------------

TEST(Profiles, builtins_are_the_documented_ones) {
    const auto p = builtin_profiles();
    ASSERT_EQ(p.size(), 5u);
    EXPECT_EQ(p[0].name, "datacenter");
    EXPECT_DOUBLE_EQ(p[0].min_retention, 0.98);
    EXPECT_EQ(p[0].objective, Objective::max_eor);
    EXPECT_EQ(p[1].name, "enterprise");
    EXPECT_DOUBLE_EQ(p[1].min_retention, 0.99);
    EXPECT_EQ(p[2].name, "research");
    EXPECT_DOUBLE_EQ(p[2].min_retention, 0.97);
    EXPECT_EQ(p[2].objective, Objective::min_latency);
    EXPECT_EQ(p[3].name, "edge");
    EXPECT_DOUBLE_EQ(p[3].min_retention, 0.95);
    ASSERT_TRUE(p[3].max_memory_bytes);
    EXPECT_EQ(*p[3].max_memory_bytes, 8 * kGiB);
    EXPECT_EQ(p[4].name, "budget");
    EXPECT_DOUBLE_EQ(p[4].min_retention, 0.94);
    EXPECT_EQ(p[4].objective, Objective::min_energy);
    EXPECT_EQ(describe_constraints(p[3]), "retention >= 95 %, model file <= 8 GiB");
}

TEST(Profiles, unknown_name_lists_the_valid_ones) {
    EXPECT_EQ(find_profile("edge").name, "edge");
    EXPECT_EQ(find_profile("custom").min_retention, 0.0);
    try {
        find_profile("cloud");
        FAIL() << "expected UsageError";
    } catch (const jb::UsageError & e) {
        EXPECT_EQ(std::string(e.what()),
                  "unknown profile 'cloud' (expected datacenter, enterprise, research, edge, budget, custom or all)");
    }
}

// --- recommend -------------------------------------------------------------------------------

TEST(Recommend, each_profile_picks_its_row_and_runner_up) {
    const auto m = matrix();
    const Recommendation dc = recommend(m, find_profile("datacenter"));
    EXPECT_EQ(pick(dc), "fp8@h100");
    EXPECT_EQ(second(dc), "int8@a100");
    EXPECT_EQ(dc.n_compared, 6);
    EXPECT_EQ(dc.n_feasible, 3);  // fp16, int8, fp8

    const Recommendation ent = recommend(m, find_profile("enterprise"));
    EXPECT_EQ(pick(ent), "int8@a100");
    EXPECT_EQ(second(ent), "fp16@a100");

    const Recommendation res = recommend(m, find_profile("research"));
    EXPECT_EQ(pick(res), "q6@l4");
    EXPECT_EQ(second(res), "fp8@h100");

    const Recommendation edge = recommend(m, find_profile("edge"));
    EXPECT_EQ(pick(edge), "q4@h100");
    EXPECT_EQ(second(edge), "int8@a100");  // fp8 (45) is over 8 GiB

    const Recommendation bud = recommend(m, find_profile("budget"));
    EXPECT_EQ(pick(bud), "q3@l4");
    EXPECT_EQ(second(bud), "q4@h100");
}

TEST(Recommend, why_is_one_sentence_with_the_numbers) {
    const Recommendation dc = recommend(matrix(), find_profile("datacenter"));
    EXPECT_EQ(dc.why,
              "fp8 on GPU-h100 (h100) has the highest EOR (45 %/Wh, +50.0 % vs the reference) of the 3 of 6 "
              "candidates that meet retention >= 98 %; runner-up int8 on GPU-a100 (a100) has 15.6 % lower EOR.");
    const Recommendation bud = recommend(matrix(), find_profile("budget"));
    EXPECT_EQ(bud.why,
              "q3 on GPU-l4 (l4) uses the least energy (0.5 Wh, 75.0 % less than the reference) of the 6 of 6 "
              "candidates that meet retention >= 94 %; runner-up q4 on GPU-h100 (h100) uses 100.0 % more energy.");
}

TEST(Recommend, custom_constraint_excludes_the_otherwise_best) {
    Profile p = find_profile("custom");
    p.min_retention = 0.98;
    EXPECT_EQ(pick(recommend(matrix(), p)), "fp8@h100");  // datacenter's choice
    p.max_ttft_s = 0.5;                                   // fp8's TTFT is 0.8 s
    const Recommendation r = recommend(matrix(), p);
    EXPECT_EQ(pick(r), "int8@a100");
    EXPECT_EQ(second(r), "fp16@a100");
    EXPECT_EQ(describe_constraints(p), "retention >= 98 %, TTFT <= 0.5 s");

    Profile lat = find_profile("custom");
    lat.max_latency_s = 9.5;  // fp8 8 s, int8 9 s, q6 5 s: q6 has the lowest EOR of them
    EXPECT_EQ(pick(recommend(matrix(), lat)), "fp8@h100");
    Profile joules = find_profile("custom");
    joules.max_j_per_token = 0.012;  // only q4 (0.010) and q3 (0.005)
    EXPECT_EQ(pick(recommend(matrix(), joules)), "q3@l4");
    EXPECT_EQ(second(recommend(matrix(), joules)), "q4@h100");
    Profile mem = find_profile("custom");
    mem.max_memory_bytes = 3 * kGiB;
    EXPECT_EQ(pick(recommend(matrix(), mem)), "q3@l4");
    EXPECT_EQ(second(recommend(matrix(), mem)), "none");
}

TEST(Recommend, unmeasured_constraint_values_exclude) {
    auto m = matrix();
    m[2].ttft_s = NAN;  // fp8 without a generation task
    Profile p = find_profile("custom");
    p.max_ttft_s = 10.0;
    const Recommendation r = recommend(m, p);
    EXPECT_EQ(r.n_feasible, 5);
    EXPECT_EQ(pick(r), "q3@l4");
    m[5].model_bytes = 0;  // q3's size unknown: not within any cap
    EXPECT_EQ(pick(recommend(m, find_profile("edge"))), "q4@h100");
    Profile mem = find_profile("custom");
    mem.max_memory_bytes = 3 * kGiB;
    EXPECT_EQ(pick(recommend(m, mem)), "none");
}

TEST(Recommend, nothing_feasible_says_what_comes_closest) {
    auto m = matrix();
    for (auto & c : m) c.retention = c.scheme == "fp16" ? 1.0 : 0.90;
    m.erase(m.begin());  // no fp16 candidate either
    const Recommendation r = recommend(m, find_profile("enterprise"));
    EXPECT_FALSE(r.best);
    EXPECT_FALSE(r.runner_up);
    EXPECT_EQ(r.n_feasible, 0);
    EXPECT_EQ(r.why.rfind("No candidate meets retention >= 99 %; ", 0), 0u) << r.why;
    EXPECT_NE(r.why.find("(retention 90.0 % < 99 %)"), std::string::npos) << r.why;
    EXPECT_FALSE(recommend({}, find_profile("edge")).best);
}

// Equal EOR is a tie: the documented tie-break takes the least energy (a), then the objective's
// order (retention, then energy: c before b).
TEST(Recommend, ties_are_broken_by_energy_then_the_objective_order) {
    std::vector<Candidate> m = {make_cand("a", "x", 0.99, 40.0, 10.0, 1.0, kGiB),
                                make_cand("b", "x", 0.995, 40.0, 10.0, 1.2, kGiB),
                                make_cand("c", "x", 0.995, 40.0, 10.0, 1.1, kGiB)};
    const Recommendation r = recommend(m, find_profile("datacenter"));
    EXPECT_TRUE(r.tie);
    EXPECT_EQ(r.tied, (std::vector<std::string>{"a", "c", "b"}));
    EXPECT_EQ(pick(r), "a@x");
    EXPECT_EQ(second(r), "c@x");
    EXPECT_NE(r.why.find("Tie-break: a uses less energy than c beyond noise"), std::string::npos) << r.why;
}

// Two candidates inside each other's noise and at the same energy: the simpler scheme, the
// reference first, then more bits per weight.
TEST(Recommend, ties_at_equal_energy_go_to_the_simpler_scheme) {
    std::vector<Candidate> m = {make_cand("q4", "x", 0.99, 40.0, 10.0, 1.0, kGiB),
                                make_cand("int8", "x", 0.99, 40.0, 10.0, 1.0, kGiB)};
    m[0].bpw = 4.9;
    m[1].bpw = 8.5;
    Recommendation r = recommend(m, find_profile("datacenter"));
    EXPECT_TRUE(r.tie);
    EXPECT_EQ(pick(r), "int8@x");
    EXPECT_NE(r.why.find("the simpler scheme: int8 keeps more bits per weight (8.5 vs 4.9)"), std::string::npos)
        << r.why;
    m.push_back(make_cand("fp16", "x", 1.0, 40.0, 10.0, 1.0, kGiB));
    m.back().bpw = 4.0;  // the reference wins whatever its recorded size
    r = recommend(m, find_profile("datacenter"));
    EXPECT_EQ(pick(r), "fp16@x");
    EXPECT_EQ(r.tied.size(), 3u);
}

TEST(Recommend, synthetic_model_is_marked_and_retention_not_used) {
    auto m = matrix();
    for (auto & c : m) c.synthetic = true;
    const Recommendation r = recommend(m, find_profile("enterprise"));
    EXPECT_EQ(pick(r), "q3@l4");  // highest EOR: retention (chance) is not a constraint
    ASSERT_FALSE(r.notes.empty());
    EXPECT_NE(r.notes.back().find("llama.gguf is synthetic"), std::string::npos) << r.notes.back();
}

TEST(Recommend, end_to_end_from_rows) {
    // int8 keeps 97 % (0.97 / 1.00) at a third less energy; fp16 keeps 100 %.
    const auto cands = candidates(summarize(two_task_rows()));
    EXPECT_EQ(recommend(cands, find_profile("datacenter")).best->scheme, "fp16");  // 97 % < 98 %
    const Recommendation res = recommend(cands, find_profile("research"));
    EXPECT_EQ(res.best->scheme, "fp16");  // 30 s vs int8's 40 s
    EXPECT_EQ(res.runner_up->scheme, "int8");
    const Recommendation edge = recommend(cands, find_profile("edge"));
    EXPECT_FALSE(edge.best);  // no model file size known
    EXPECT_NE(edge.why.find("model file size unknown"), std::string::npos) << edge.why;
    EXPECT_EQ(recommend(cands, find_profile("budget")).best->scheme, "int8");
}
