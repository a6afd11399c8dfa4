// The dynamic scheme's sensitivity search on stories260K (5 layers: 10 layer groups plus
// token_embd and output, 3 candidates). Its 64-wide matrices cannot take 256-block K-quants,
// so llama.cpp gives q4_k -> q5_0 and q6_k -> q8_0 (docs/quantization.md); q6_k and q8_0
// are then the same level, and ffn_down (172 wide) is F16 under every candidate.
//
// One cache directory serves the whole suite: the sensitivity table is measured once and
// reused by every budget, as it is for a user.
//
// Evaluations run on one thread with flash attention off: stories260K's 8-wide heads make
// the CPU flash-attention kernel 2.5x slower than the plain path, and on two shared cores a
// second ggml thread mostly waits at barriers for a descheduled partner (10x slower).

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "quant/dynamic.hpp"
#include "quant/fidelity.hpp"
#include "quant/gguf_file.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"
#include "quant/synth.hpp"
#include "quant_test_util.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using ::testing::HasSubstr;

namespace {

const std::string k_model = JB_TEST_MODEL;

class DynamicStories : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        jbtest::quiet_llama_log();
        dir_ = std::make_unique<jb::test::TempDir>();
    }
    static void TearDownTestSuite() { dir_.reset(); }

    static DynamicOptions options(double budget) {
        DynamicOptions o;
        o.kld_budget = budget;
        o.engine = engine_default_params();
        o.engine.n_gpu_layers = 0;
        o.engine.n_threads = 1;
        o.engine.flash_attn = FlashAttn::off;
        o.quant.n_threads = 1;
        o.quant.cache_dir = dir_->path().string();
        return o;
    }

    // Measures the result again from its file, independently of what the search reported.
    static Fidelity remeasure(const DynamicResult & r) {
        const SchemeResult ref = quantize_cached(k_model, parse_scheme("fp16"), options(1).quant);
        const FidelityReference fr = compute_reference(ref.path, read_calibration_text(default_calibration_path()),
                                                       1024, options(1).engine, 256);
        return measure_fidelity(fr, r.scheme.path,
                                fidelity_engine_params(options(1).engine, r.scheme.path, 256, r.chosen.kv_type_k,
                                                       r.chosen.kv_type_v));
    }

    static void print(const DynamicResult & r, double seconds) {
        std::printf("budget %.3f: measured mean KLD %.6f (predicted %.6f, KV alone %.6f), top-1 %.4f, PPL %.4f -> "
                    "%.4f, %.3f bpw, %d round(s), %d evaluations, %.2f s%s\n",
                    r.budget, r.final_fidelity.mean_kld, r.predicted_kld, r.kv_kld, r.final_fidelity.top1_agreement,
                    r.final_fidelity.ppl_ref, r.final_fidelity.ppl_quant, r.scheme.bpw, r.rounds, r.n_evaluations,
                    seconds, r.cache_hit ? " (cache hit)" : "");
        std::string line;
        for (const auto & [g, t] : r.group_types) {
            line += " " + g + "=" + t;
        }
        std::printf("  groups:%s\n", line.c_str());
    }

    static DynamicResult run(double budget) {
        const auto t0 = std::chrono::steady_clock::now();
        DynamicResult r = build_dynamic_scheme(k_model, options(budget));
        print(r, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        return r;
    }

    static inline std::unique_ptr<jb::test::TempDir> dir_;
};

}  // namespace

TEST(Dynamic, groups_split_each_layer_into_attention_and_feed_forward) {
    const auto groups = dynamic_groups(k_model);
    EXPECT_EQ(groups.size(), 5u * 7u + 2u);  // 4 attention + 3 feed-forward matrices per layer
    EXPECT_EQ(groups.at("blk.3.attn_v.weight"), "blk.3.attn");
    EXPECT_EQ(groups.at("blk.3.attn_output.weight"), "blk.3.attn");
    EXPECT_EQ(groups.at("blk.0.ffn_down.weight"), "blk.0.ffn");
    EXPECT_EQ(groups.at("token_embd.weight"), "token_embd");
    EXPECT_EQ(groups.at("output.weight"), "output");
    EXPECT_EQ(groups.count("blk.0.attn_norm.weight"), 0u);  // 1-D: never quantized
}

// The probes rely on it: under a quantized file type, a catch-all f16 rule gives every
// matrix F16, i.e. the fp16 reference's types, and an exact-name rule before it still wins.
TEST_F(DynamicStories, f16_catch_all_under_q8_0_reproduces_the_reference_types) {
    Scheme s = parse_scheme("dynamic");
    s.set_tensor_types({{"blk.1.attn_q.weight", GGML_TYPE_Q8_0}});
    s.overrides.push_back({".*", GGML_TYPE_F16});
    const SchemeResult probe = quantize_cached(k_model, s, options(1).quant);
    const SchemeResult ref = quantize_cached(k_model, parse_scheme("fp16"), options(1).quant);
    size_t n_matrices = 0;
    for (const auto & [name, type] : ref.tensor_types) {
        if (name == "blk.1.attn_q.weight") {
            EXPECT_EQ(type_name(probe.tensor_types.at(name)), "q8_0");
            continue;
        }
        EXPECT_EQ(type_name(probe.tensor_types.at(name)), type_name(type)) << name;
        n_matrices += type == GGML_TYPE_F16;
    }
    EXPECT_EQ(n_matrices, 36u);
}

TEST_F(DynamicStories, default_budget_is_met_by_measurement) {
    const DynamicResult r = run(0.01);
    ASSERT_TRUE(r.budget_met);
    EXPECT_LE(r.final_fidelity.mean_kld, 0.01);
    EXPECT_GT(r.final_fidelity.mean_kld, 0.0);
    const Fidelity again = remeasure(r);
    EXPECT_LE(again.mean_kld, 0.01);
    EXPECT_NEAR(again.mean_kld, r.final_fidelity.mean_kld, 1e-9);
    EXPECT_EQ(r.calib_tokens, 1024);
    EXPECT_EQ(r.sensitivity.size(), 12u * 3u);
    EXPECT_EQ(r.group_types.size(), 12u);
    // The quantized file is cheaper than the F16 reference.
    EXPECT_LT(r.scheme.bpw, quantize_cached(k_model, parse_scheme("fp16"), options(1).quant).bpw);
}

TEST_F(DynamicStories, chosen_types_are_exactly_the_files_types_and_the_schemes_key) {
    const DynamicResult r = run(0.01);
    const GgufSummary g = inspect_gguf(r.scheme.path);
    ASSERT_EQ(r.chosen.tensor_types.size(), 37u);
    for (const auto & [name, type] : r.chosen.tensor_types) {
        const GgufTensor * t = g.find(name);
        ASSERT_NE(t, nullptr) << name;
        EXPECT_EQ(type_name(t->type), type_name(type)) << name;
        EXPECT_EQ(type_name(r.scheme.tensor_types.at(name)), type_name(type)) << name;
        // The canonical scheme names every tensor's type, so different results never share a key.
        EXPECT_THAT(r.scheme.scheme, HasSubstr(name + "=" + type_name(type)));
    }
    for (const auto & fb : r.scheme.fallbacks) {
        ADD_FAILURE() << "the final scheme asks only for types that fit: " << fb.tensor;
    }
    EXPECT_EQ(r.chosen.kind, SchemeKind::dynamic);
    // stories260K's 8-wide heads cannot take a Q8_0 cache (block 32): F16, and the result says why.
    EXPECT_EQ(r.chosen.kv_type_k, GGML_TYPE_F16);
    EXPECT_EQ(r.chosen.kv_type_v, GGML_TYPE_F16);
    EXPECT_THAT(r.kv_note, HasSubstr("multiples of 32"));
    EXPECT_THAT(r.scheme.scheme, HasSubstr(";kv=f16/f16"));
    // ffn_down has 172-wide rows: F16 whatever the group got.
    EXPECT_EQ(r.chosen.tensor_types.at("blk.2.ffn_down.weight"), GGML_TYPE_F16);
}

TEST_F(DynamicStories, tighter_budget_buys_more_bits) {
    const DynamicResult tight = run(0.002);
    const DynamicResult loose = run(0.05);
    ASSERT_TRUE(tight.budget_met && loose.budget_met);
    EXPECT_LE(tight.final_fidelity.mean_kld, 0.002);
    EXPECT_LE(loose.final_fidelity.mean_kld, 0.05);
    EXPECT_GT(tight.scheme.bpw, loose.scheme.bpw);
    EXPECT_LT(tight.final_fidelity.mean_kld, loose.final_fidelity.mean_kld);
    EXPECT_NE(tight.scheme.scheme, loose.scheme.scheme);
    EXPECT_NE(tight.scheme.path, loose.scheme.path);
    // The loose budget leaves at least some group at the cheapest candidate.
    int n_cheapest = 0;
    for (const auto & [g, t] : loose.group_types) {
        n_cheapest += t == "q4_k";
    }
    EXPECT_GT(n_cheapest, 0);
}

TEST_F(DynamicStories, unreachable_budget_returns_the_most_precise_result_flagged) {
    // int8 is about 0.0014 on stories260K, and q8_0 is the highest default candidate.
    const DynamicResult r = run(0.001);
    EXPECT_FALSE(r.budget_met);
    EXPECT_GT(r.final_fidelity.mean_kld, 0.001);
    for (const auto & [g, t] : r.group_types) {
        EXPECT_EQ(t, "q8_0") << g;  // q6_k gives q8_0 here too; the level is named for what it is
    }
    // With f16 as a candidate it is reachable; the known probes are reused (an f16 probe is
    // the reference's own file and needs no evaluation).
    DynamicOptions o = options(0.001);
    o.candidate_types = {"q4_k", "q8_0", "f16"};
    const auto t0 = std::chrono::steady_clock::now();
    const DynamicResult f = build_dynamic_scheme(k_model, o);
    print(f, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_TRUE(f.budget_met);
    EXPECT_LE(f.final_fidelity.mean_kld, 0.001);
    EXPECT_GT(f.scheme.bpw, r.scheme.bpw);
    EXPECT_LE(f.n_evaluations, 1 + f.rounds);  // the reference and the rounds: no probe evaluated
}

TEST_F(DynamicStories, second_call_is_a_cache_hit_without_evaluation) {
    const DynamicResult first = run(0.02);
    const auto t0 = std::chrono::steady_clock::now();
    const DynamicResult second = build_dynamic_scheme(k_model, options(0.02));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(second.cache_hit);
    EXPECT_EQ(second.n_evaluations, 0);
    EXPECT_TRUE(second.scheme.cache_hit);  // the file too: no quantization
    EXPECT_EQ(second.scheme.quantize_s, 0.0);
    EXPECT_EQ(second.scheme.path, first.scheme.path);
    EXPECT_EQ(second.scheme.scheme, first.scheme.scheme);
    EXPECT_EQ(second.group_types, first.group_types);
    EXPECT_DOUBLE_EQ(second.final_fidelity.mean_kld, first.final_fidelity.mean_kld);
    EXPECT_EQ(second.sensitivity.size(), first.sensitivity.size());
    EXPECT_LT(seconds, 0.5);
    // Another budget reuses the sensitivity table: only the reference and the final rounds run.
    const DynamicResult other = build_dynamic_scheme(k_model, options(0.03));
    EXPECT_FALSE(other.cache_hit);
    EXPECT_TRUE(other.sensitivity_cache_hit);
    EXPECT_LE(other.n_evaluations, 1 + other.rounds);
}

TEST_F(DynamicStories, bad_inputs_fail_with_clear_errors) {
    DynamicOptions o = options(0.01);
    o.calib_path = "/nonexistent/calibration.txt";
    try {
        build_dynamic_scheme(k_model, o);
        FAIL() << "expected InputError";
    } catch (const InputError & e) {
        EXPECT_THAT(e.what(), HasSubstr("/nonexistent/calibration.txt"));
    }
    o = options(0.0);
    EXPECT_THROW(build_dynamic_scheme(k_model, o), UsageError);
    o = options(0.01);
    o.candidate_types = {"q4_k", "q7_x"};
    try {
        build_dynamic_scheme(k_model, o);
        FAIL() << "expected UsageError";
    } catch (const UsageError & e) {
        EXPECT_THAT(e.what(), HasSubstr("q7_x"));
    }
    EXPECT_THROW(build_dynamic_scheme("/nonexistent/model.gguf", options(0.01)), InputError);
}

// A model whose heads fit a Q8_0 cache (32 wide) gets the Q8_0/Q8_0 cache docs/design.md gives
// dynamic, and the cache's own share of the KLD is measured. Random weights: every
// candidate is within any budget, so this checks the plumbing, not the choice.
TEST(Dynamic, q8_0_kv_cache_where_the_heads_allow_it) {
    jbtest::quiet_llama_log();
    jb::test::TempDir dir;
    SynthShape shape = find_synth_shape("mistral-7b");
    shape.n_layer = 1;
    shape.n_embd = 64;
    shape.n_head = 2;
    shape.n_head_kv = 2;
    shape.n_ff = 256;
    SynthOptions so;
    so.n_threads = 1;
    const std::string model = dir.file("tiny.gguf");
    write_synthetic_model(shape, model, so);
    EXPECT_EQ(kv_cache_problem(model, GGML_TYPE_Q8_0, GGML_TYPE_Q8_0), "");
    EXPECT_NE(kv_cache_problem(k_model, GGML_TYPE_Q8_0, GGML_TYPE_Q8_0), "");

    DynamicOptions o;
    o.calib_tokens = 128;
    o.chunk = 64;
    o.candidate_types = {"q4_k", "q8_0"};
    o.engine.n_gpu_layers = 0;
    o.engine.n_threads = 1;
    o.quant.n_threads = 1;
    o.quant.cache_dir = dir.file("cache");
    const DynamicResult r = build_dynamic_scheme(model, o);
    EXPECT_EQ(r.kv_note, "");
    EXPECT_EQ(r.chosen.kv_type_k, GGML_TYPE_Q8_0);
    EXPECT_EQ(r.chosen.kv_type_v, GGML_TYPE_Q8_0);
    EXPECT_THAT(r.scheme.scheme, HasSubstr(";kv=q8_0/q8_0"));
    EXPECT_TRUE(std::isfinite(r.kv_kld));
    EXPECT_GE(r.kv_kld, 0.0);
    EXPECT_TRUE(r.budget_met);
    EXPECT_EQ(r.group_types.size(), 4u);  // token_embd, blk.0.attn, blk.0.ffn, output
}

// The plan of a 5-layer reference carried over to 28 layers by relative depth: layer i takes
// reference layer round(i * 4 / 27); token_embd and output keep the reference's choice, and a
// group the reference lacks (a tied output) gets its most precise candidate.
TEST(Dynamic, plan_transfer_by_relative_depth) {
    const std::map<std::string, std::string> ref = {
        {"token_embd", "q4_k"},     {"blk.0.attn", "q8_0"}, {"blk.0.ffn", "q6_k"}, {"blk.1.attn", "q4_k"},
        {"blk.1.ffn", "q4_k"},      {"blk.2.attn", "q4_k"}, {"blk.2.ffn", "q4_k"}, {"blk.3.attn", "q6_k"},
        {"blk.3.ffn", "q4_k"},      {"blk.4.attn", "q4_k"}, {"blk.4.ffn", "q8_0"},
    };
    std::vector<std::string> to = {"token_embd", "output"};
    for (int i = 0; i < 28; ++i) {
        to.push_back("blk." + std::to_string(i) + ".attn");
        to.push_back("blk." + std::to_string(i) + ".ffn");
    }
    const auto plan = transfer_group_plan(ref, to, {"q4_k", "q6_k", "q8_0"});
    ASSERT_EQ(plan.size(), to.size());
    EXPECT_EQ(plan.at("token_embd"), "q4_k");
    EXPECT_EQ(plan.at("output"), "q8_0");       // not in the reference: its most precise choice
    EXPECT_EQ(plan.at("blk.0.attn"), "q8_0");   // round(0) = 0
    EXPECT_EQ(plan.at("blk.3.ffn"), "q6_k");    // round(12/27 = 0.44) = 0
    EXPECT_EQ(plan.at("blk.4.attn"), "q4_k");   // round(16/27 = 0.59) = 1
    EXPECT_EQ(plan.at("blk.20.attn"), "q6_k");  // round(80/27 = 2.96) = 3
    EXPECT_EQ(plan.at("blk.27.ffn"), "q8_0");   // round(108/27) = 4
    EXPECT_EQ(plan.at("blk.27.attn"), "q4_k");
    // A one-layer target takes the reference's first layer.
    const auto one = transfer_group_plan(ref, {"blk.0.attn", "blk.0.ffn"}, {"q4_k", "q6_k", "q8_0"});
    EXPECT_EQ(one.at("blk.0.attn"), "q8_0");
    EXPECT_EQ(one.at("blk.0.ffn"), "q6_k");
    EXPECT_THROW(transfer_group_plan({}, to, {"q4_k"}), UsageError);
}

// dynamic on a synthetic model follows stories260K's measured plan: the file's types are the
// transferred plan's, no fidelity is measured on the random weights, and the result names its
// source.
TEST_F(DynamicStories, synthetic_model_takes_the_reference_plan_by_depth) {
    SynthShape shape = find_synth_shape("mistral-7b");
    shape.n_layer = 3;
    shape.n_embd = 256;
    shape.n_head = 4;
    shape.n_head_kv = 4;
    shape.n_ff = 512;
    SynthOptions so;
    so.n_threads = 1;
    const std::string model = dir_->file("synth-3layer.gguf");
    write_synthetic_model(shape, model, so);

    const DynamicResult ref = build_dynamic_scheme(k_model, options(0.01));
    DynamicOptions o = options(0.01);
    o.plan_from = k_model;
    const DynamicResult r = build_dynamic_scheme(model, o);
    EXPECT_EQ(r.plan_from, k_model);
    EXPECT_EQ(r.n_evaluations, 0);  // the reference's search is cached by now
    EXPECT_DOUBLE_EQ(r.final_fidelity.mean_kld, ref.final_fidelity.mean_kld);
    ASSERT_EQ(r.group_types.size(), 8u);  // token_embd, output, 3 x (attn, ffn)
    // 3 layers onto 5: layer i -> reference layer round(2 i) = 0, 2, 4.
    for (const auto & [i, j] : std::vector<std::pair<int, int>>{{0, 0}, {1, 2}, {2, 4}}) {
        for (const char * part : {"attn", "ffn"}) {
            EXPECT_EQ(r.group_types.at(fmt::format("blk.{}.{}", i, part)), ref.group_types.at(fmt::format("blk.{}.{}", j, part)))
                << i << part;
        }
    }
    // The file holds those types (its tensors are wide enough for every candidate), with a Q8_0 KV cache.
    const GgufSummary g = inspect_gguf(r.scheme.path);
    const ggml_type want = r.group_types.at("blk.1.ffn") == "q4_k" ? GGML_TYPE_Q4_K
                           : r.group_types.at("blk.1.ffn") == "q6_k" ? GGML_TYPE_Q6_K
                                                                     : GGML_TYPE_Q8_0;
    ASSERT_NE(g.find("blk.1.ffn_up.weight"), nullptr);
    EXPECT_EQ(g.find("blk.1.ffn_up.weight")->type, want);
    EXPECT_EQ(r.chosen.kv_type_k, GGML_TYPE_Q8_0);
    EXPECT_THAT(r.sensitivity_json(), HasSubstr("\"plan_from\""));
}
