// Fidelity against the fp16 reference: the statistics on hand-made distributions, then real
// quantizations of stories260K (all F32; its fp16 reference is an F16 copy from the cache).

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "quant/fidelity.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"
#include "quant_test_util.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using ::testing::HasSubstr;

namespace {

const std::string k_model = JB_TEST_MODEL;

// Rows of probabilities -> a LogprobMatrix of their logs.
LogprobMatrix make_matrix(const std::vector<std::vector<double>> & probs, std::vector<int32_t> targets) {
    LogprobMatrix m;
    m.n_rows = int(probs.size());
    m.n_vocab = int(probs[0].size());
    for (const auto & row : probs) {
        for (double p : row) {
            m.data.push_back(float(std::log(p)));
        }
    }
    m.targets = std::move(targets);
    return m;
}

// One thread, flash attention off: see dynamic_test.cpp (stories260K's 8-wide heads, shared cores).
EngineParams cpu_params() {
    EngineParams p = engine_default_params();
    p.n_gpu_layers = 0;
    p.n_threads = 1;
    p.flash_attn = FlashAttn::off;
    return p;
}

}  // namespace

TEST(Fidelity, compare_distributions_matches_hand_computed_values) {
    // Row 0: the test model swaps the two most likely tokens; row 1: identical.
    const LogprobMatrix ref = make_matrix({{0.5, 0.25, 0.25}, {0.7, 0.2, 0.1}}, {1, 0});
    const LogprobMatrix test = make_matrix({{0.25, 0.5, 0.25}, {0.7, 0.2, 0.1}}, {1, 0});
    const Fidelity f = compare_distributions(ref, test);

    // KL row 0 = 0.5 ln(0.5/0.25) + 0.25 ln(0.25/0.5) + 0.25 ln(1) = 0.25 ln 2; row 1 = 0.
    const double kl0 = 0.25 * std::log(2.0);
    EXPECT_EQ(f.n_tokens, 2);
    EXPECT_NEAR(f.mean_kld, kl0 / 2, 1e-6);
    EXPECT_NEAR(f.max_kld, kl0, 1e-6);
    // llama-perplexity's percentile: sorted {0, kl0}, position 0.99 * (2 - 1).
    EXPECT_NEAR(f.p99_kld, 0.99 * kl0, 1e-6);
    // argmax: row 0 differs (0 vs 1), row 1 agrees.
    EXPECT_DOUBLE_EQ(f.top1_agreement, 0.5);
    // PPL = exp(mean -log p(target)): ref p = {0.25, 0.7}, test p = {0.5, 0.7}.
    EXPECT_NEAR(f.ppl_ref, std::sqrt(1.0 / (0.25 * 0.7)), 1e-5);
    EXPECT_NEAR(f.ppl_quant, std::sqrt(1.0 / (0.5 * 0.7)), 1e-5);

    // KL is not symmetric: KL(test || ref) row 0 = 0.25 ln(0.5) + 0.5 ln 2 = 0.25 ln 2 too here,
    // so check direction on a row where it differs.
    const LogprobMatrix a = make_matrix({{0.9, 0.05, 0.05}}, {0});
    const LogprobMatrix b = make_matrix({{0.4, 0.3, 0.3}}, {0});
    const double kl_ab = 0.9 * std::log(0.9 / 0.4) + 2 * 0.05 * std::log(0.05 / 0.3);
    EXPECT_NEAR(compare_distributions(a, b).mean_kld, kl_ab, 1e-6);
    EXPECT_GT(std::abs(compare_distributions(b, a).mean_kld - kl_ab), 0.1);
}

TEST(Fidelity, ties_take_the_first_index_as_llama_perplexity) {
    const LogprobMatrix ref = make_matrix({{0.4, 0.4, 0.2}}, {2});  // tie: token 0 counts as the top
    EXPECT_DOUBLE_EQ(compare_distributions(ref, make_matrix({{0.5, 0.3, 0.2}}, {2})).top1_agreement, 1.0);
    EXPECT_DOUBLE_EQ(compare_distributions(ref, make_matrix({{0.3, 0.5, 0.2}}, {2})).top1_agreement, 0.0);
    EXPECT_DOUBLE_EQ(compare_distributions(ref, ref).mean_kld, 0.0);
}

TEST(Fidelity, mismatched_inputs_are_refused) {
    const LogprobMatrix ref = make_matrix({{0.5, 0.25, 0.25}, {0.7, 0.2, 0.1}}, {1, 0});
    EXPECT_THROW(compare_distributions(ref, make_matrix({{0.5, 0.25, 0.25}, {0.7, 0.2, 0.1}}, {1, 2})), UsageError);
    EXPECT_THROW(compare_distributions(ref, make_matrix({{0.5, 0.25, 0.25}}, {1})), UsageError);
    EXPECT_THROW(compare_distributions(ref, make_matrix({{0.5, 0.5}, {0.5, 0.5}}, {1, 0})), UsageError);
    LogprobMatrix empty;
    EXPECT_THROW(compare_distributions(empty, empty), UsageError);
}

TEST(Fidelity, calibration_text_errors_name_the_file) {
    try {
        read_calibration_text("/nonexistent/calib.txt");
        FAIL() << "expected InputError";
    } catch (const InputError & e) {
        EXPECT_THAT(e.what(), HasSubstr("/nonexistent/calib.txt"));
    }
    jb::test::TempDir dir;
    dir.write("empty.txt", "  \n\n");
    EXPECT_THROW(read_calibration_text(dir.file("empty.txt")), InputError);
    // The shipped text is there and big enough for the default 1024 tokens of any tokenizer.
    EXPECT_GT(read_calibration_text(default_calibration_path()).size(), 8000u);
}

// Real quantizations of stories260K share one cache and one reference.
class FidelityStories : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        jbtest::quiet_llama_log();
        dir_ = std::make_unique<jb::test::TempDir>();
        opts_.cache_dir = dir_->path().string();
        opts_.n_threads = 1;
        ref_path_ = quantize_cached(k_model, parse_scheme("fp16"), opts_).path;
        ref_ = std::make_unique<FidelityReference>(compute_reference(
            ref_path_, read_calibration_text(default_calibration_path()), 512, cpu_params(), 128));
    }
    static void TearDownTestSuite() {
        ref_.reset();
        dir_.reset();
    }
    static Fidelity fidelity_of(const std::string & scheme_name) {
        const Scheme s = parse_scheme(scheme_name);
        const SchemeResult r = quantize_cached(k_model, s, opts_);
        return measure_fidelity(*ref_, r.path,
                                fidelity_engine_params(cpu_params(), r.path, ref_->chunk, s.kv_type_k, s.kv_type_v));
    }

    static inline std::unique_ptr<jb::test::TempDir> dir_;
    static inline QuantizeOptions opts_;
    static inline std::string ref_path_;
    static inline std::unique_ptr<FidelityReference> ref_;
};

TEST_F(FidelityStories, reference_against_itself_is_exact) {
    ASSERT_EQ(ref_->tokens.size(), 512u);
    EXPECT_EQ(ref_->dist.n_rows, 512 - 4);  // 4 chunks of 128, the first token of each is context only
    const Fidelity f = measure_fidelity(*ref_, ref_path_, cpu_params());
    EXPECT_EQ(f.n_tokens, ref_->dist.n_rows);
    EXPECT_EQ(f.mean_kld, 0.0);
    EXPECT_EQ(f.max_kld, 0.0);
    EXPECT_EQ(f.top1_agreement, 1.0);
    EXPECT_DOUBLE_EQ(f.ppl_ref, f.ppl_quant);
    // stories260K is a real (tiny) model: the calibration text is far from its tales, but
    // its perplexity is still far below the uniform 512.
    EXPECT_GT(f.ppl_ref, 1.0);
    EXPECT_LT(f.ppl_ref, 512.0);
}

TEST_F(FidelityStories, int8_is_closer_to_the_reference_than_q4_k_m) {
    const Fidelity f8 = fidelity_of("int8");
    const Fidelity f4 = fidelity_of("q4_k_m");
    const double ppl_ref = fidelity_of("fp16").ppl_ref;
    for (const Fidelity & f : {f8, f4}) {
        EXPECT_TRUE(std::isfinite(f.mean_kld) && std::isfinite(f.p99_kld) && std::isfinite(f.ppl_quant));
        EXPECT_GT(f.mean_kld, 0.0);
        EXPECT_GE(f.p99_kld, f.mean_kld);
        EXPECT_GE(f.max_kld, f.p99_kld);
        EXPECT_GT(f.top1_agreement, 0.5);
        EXPECT_LE(f.top1_agreement, 1.0);
        EXPECT_DOUBLE_EQ(f.ppl_ref, ppl_ref);
    }
    EXPECT_LT(f8.mean_kld, f4.mean_kld);
    EXPECT_GE(f8.top1_agreement, f4.top1_agreement);
    std::printf("int8:   mean KLD %.6f  p99 %.6f  top-1 %.4f  PPL %.4f -> %.4f\n", f8.mean_kld, f8.p99_kld,
                f8.top1_agreement, f8.ppl_ref, f8.ppl_quant);
    std::printf("q4_k_m: mean KLD %.6f  p99 %.6f  top-1 %.4f  PPL %.4f -> %.4f\n", f4.mean_kld, f4.p99_kld,
                f4.top1_agreement, f4.ppl_ref, f4.ppl_quant);
}

TEST_F(FidelityStories, both_models_from_scratch_agree_with_the_cached_reference) {
    const Scheme s = parse_scheme("int8");
    const SchemeResult r = quantize_cached(k_model, s, opts_);
    const Fidelity once = measure_fidelity(ref_path_, r.path, ref_->tokens, cpu_params(), ref_->chunk);
    const Fidelity cached = fidelity_of("int8");
    EXPECT_DOUBLE_EQ(once.mean_kld, cached.mean_kld);
    EXPECT_DOUBLE_EQ(once.top1_agreement, cached.top1_agreement);
}

// The command, end to end through the binary.
namespace {

// The command with its stderr dropped.
std::string run_stdout(const std::string & cmd, int * status) { return jbtest::run_shell(cmd + " 2>/dev/null", status); }

}  // namespace

TEST(FidelityCli, compares_schemes_and_shows_dynamic_choice) {
    jb::test::TempDir dir;
    const std::string base = std::string(JB_BINARY) + " fidelity -m " + k_model + " --cache-dir " +
                             dir.path().string() + " -t 1 --fa off --tokens 256 --chunk 128";
    int st = 0;
    const std::string out = run_stdout(base + " --schemes int8,q4_k_m,dynamic,int8+kv8 -o json", &st);
    ASSERT_EQ(st, 0) << out;
    const auto doc = nlohmann::json::parse(out);
    EXPECT_EQ(doc["calibration"]["n_tokens"], 256);
    EXPECT_EQ(doc["calibration"]["n_positions"], 254);
    const auto & rows = doc["results"];
    ASSERT_EQ(rows.size(), 4u);
    const double kld8 = rows[0]["fidelity"]["mean_kld"];
    const double kld4 = rows[1]["fidelity"]["mean_kld"];
    EXPECT_GT(kld8, 0.0);
    EXPECT_LT(kld8, kld4);
    EXPECT_EQ(rows[2]["scheme"], "dynamic");
    EXPECT_LE(rows[2]["fidelity"]["mean_kld"].get<double>(), 0.01);
    EXPECT_EQ(rows[2]["dynamic"]["group_types"].size(), 12u);
    EXPECT_TRUE(rows[2]["dynamic"]["budget_met"].get<bool>());
    // stories260K's 8-wide heads cannot take a Q8_0 cache: that row fails, the others stand.
    EXPECT_THAT(rows[3]["error"].get<std::string>(), HasSubstr("multiples of 32"));

    const std::string table = run_stdout(base + " --schemes int8,dynamic", &st);
    EXPECT_EQ(st, 0);
    EXPECT_THAT(table, HasSubstr("Mean KLD"));
    EXPECT_THAT(table, HasSubstr("blk.4.attn"));  // dynamic's group table

    run_stdout(base + " --schemes int8 --calib " + dir.file("missing.txt"), &st);
    EXPECT_NE(st, 0);
    run_stdout(base + " --schemes dynamic --candidates q4_k,q7_x", &st);
    EXPECT_NE(st, 0);
}
