// joulebench eval, run as a user runs it: parity with llama-perplexity, energy columns, and
// the errors a user sees for bad input.

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_joulebench.hpp"

namespace fs = std::filesystem;
using namespace jb_test;
using jb::test::TempDir;

namespace {

const std::string kModel = JB_TEST_MODEL;
const std::string kSamples = std::string(JB_SOURCE_DIR) + "/data/samples";

double metric(const nlohmann::json & doc, const std::string & task, const std::string & name) {
    for (const auto & r : doc["accuracy"]["rows"]) {
        if (r["task"] == task && r["metric"] == name) return r["value_pct"].get<double>();
    }
    ADD_FAILURE() << "no metric " << task << "/" << name;
    return -1;
}

}  // namespace

// llama-perplexity --hellaswag --hellaswag-tasks 400 on stories260K, from the same llama.cpp
// build (de3ff81, 2 threads, bench/hellaswag_parity.sh), prints 27.50000000% for the first 400
// tasks of hellaswag_val_full.txt: 110 of 400. joulebench's token-normalised score must match.
TEST(EvalCli, hellaswag_token_norm_matches_llama_perplexity) {
    const fs::path src = fs::path(JB_SHARED_DIR) / "datasets/hellaswag/hellaswag_val_full.txt";
    if (!fs::exists(src)) GTEST_SKIP() << src << " not present";
    TempDir dir;
    fs::create_directories(dir.path() / "hellaswag");
    {
        std::ifstream in(src);
        std::ofstream out(dir.path() / "hellaswag/hellaswag_val_full.txt");
        std::string line;
        for (int i = 0; i < 400 * 6 && std::getline(in, line); ++i) out << line << "\n";
    }
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "hellaswag", "--data-dir", dir.path().string(),
                         "--token-norm", "--idle-s", "0", "-t", "2", "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto doc = nlohmann::json::parse(r.out);
    EXPECT_DOUBLE_EQ(metric(doc, "hellaswag", "acc_norm_tokens"), 27.5);
}

TEST(EvalCli, reports_accuracy_and_energy_for_each_task) {
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "arc_easy,truthfulqa_mc1", "--data-dir", kSamples,
                         "--limit", "10", "--idle-s", "0.2", "-t", "2", "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto doc = nlohmann::json::parse(r.out);
    EXPECT_FALSE(doc["synthetic_model"].get<bool>());
    ASSERT_EQ(doc["energy"]["rows"].size(), 2u);
    for (const auto & row : doc["energy"]["rows"]) {
        EXPECT_GT(row["energy_j"].get<double>(), 0.0);
        EXPECT_GT(row["prefill_tokens"].get<int64_t>(), 0);
        EXPECT_EQ(row["decode_tokens"].get<int64_t>(), 0);
        // Tests pin the sensors to none but the CPU estimate (run_joulebench.hpp): say so.
        EXPECT_EQ(row["method"], "estimate");
    }
    EXPECT_NE(doc["energy"]["notes"].dump().find("ESTIMATED"), std::string::npos);
    EXPECT_EQ(metric(doc, "arc_easy", "acc") >= 0, true);
}

TEST(EvalCli, generation_reports_decode_tokens_and_ttft) {
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "gsm8k", "--data-dir", kSamples, "--limit", "2",
                         "--max-tokens", "16", "--idle-s", "0", "-t", "2", "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto row = nlohmann::json::parse(r.out)["energy"]["rows"][0];
    EXPECT_GT(row["decode_tokens"].get<int64_t>(), 0);
    EXPECT_LE(row["decode_tokens"].get<int64_t>(), 32);
    EXPECT_GT(row["ttft_s"].get<double>(), 0.0);
}

TEST(EvalCli, unknown_task_is_a_usage_error) {
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "mmlu,winogrande", "--data-dir", kSamples});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("winogrande"), std::string::npos) << r.err;
}

TEST(EvalCli, missing_data_dir_says_where_data_is_expected) {
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "arc_easy", "--data-dir", "/nonexistent/data"});
    EXPECT_EQ(r.status, 1);
    const auto line = error_line(r.err);
    EXPECT_NE(line.find("/nonexistent/data"), std::string::npos) << r.err;
}

TEST(EvalCli, missing_model_names_the_file) {
    auto r = joulebench({"eval", "-m", "/nonexistent/m.gguf", "--tasks", "arc_easy", "--data-dir", kSamples,
                         "--idle-s", "0"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(error_line(r.err), "joulebench: error: /nonexistent/m.gguf: model file not found");
}

TEST(EvalCli, bad_engine_option_is_a_usage_error) {
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "arc_easy", "--data-dir", kSamples, "--fa", "maybe"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("--flash-attn"), std::string::npos) << r.err;
}
