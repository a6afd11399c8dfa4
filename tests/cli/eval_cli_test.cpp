// joulebench eval, run as a user runs it: energy columns and the errors a user sees for bad input
// (parity with llama-perplexity: tests/parity).

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
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

// Inputs are checked before idle power is measured: with --idle-s 30 a missing model still fails
// at once (the bound leaves room for a loaded machine, not for the idle window).
TEST(EvalCli, missing_model_names_the_file_before_measuring_idle) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = joulebench({"eval", "-m", "/nonexistent/m.gguf", "--tasks", "arc_easy", "--data-dir", kSamples,
                         "--idle-s", "30"});
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "joulebench: error: /nonexistent/m.gguf: model file not found\n");
    EXPECT_LT(s, 10.0);
}

TEST(EvalCli, missing_data_is_refused_before_measuring_idle) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "arc_easy", "--data-dir", "/nonexistent/data", "--idle-s",
                         "30"});
    EXPECT_EQ(r.status, 1);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
    EXPECT_EQ(r.err.find("measuring idle power"), std::string::npos) << r.err;
}

// A model that is not a GGUF or is cut short gets our one line, and none of llama.cpp's log.
TEST(EvalCli, foreign_or_truncated_model_gets_one_line) {
    TempDir dir;
    const std::string foreign = dir.write("notes.gguf", "just some text, not a model\n");
    auto r = joulebench({"eval", "-m", foreign, "--tasks", "arc_easy", "--data-dir", kSamples, "--idle-s", "0"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "joulebench: error: " + foreign + ": not a GGUF file (it does not start with the GGUF magic)\n");

    const std::string model = slurp(kModel);
    const std::string cut = dir.write("cut.gguf", model.substr(0, 200000));
    r = joulebench({"eval", "-m", cut, "--tasks", "arc_easy", "--data-dir", kSamples, "--idle-s", "0"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "joulebench: error: " + cut + ": truncated: 200000 bytes, but its tensors end at byte " +
                         std::to_string(model.size()) + "\n");
}

// A GGUF whose header reads but that llama.cpp refuses (here: general.architecture renamed) gets
// llama.cpp's reason inside our one error line, and no llama.cpp log line (those need --verbose).
TEST(EvalCli, model_llama_cpp_refuses_gets_its_reason_in_one_line) {
    TempDir dir;
    std::string bytes = slurp(kModel);
    const std::string key = "general.architecture";
    const size_t at = bytes.find(key);
    ASSERT_NE(at, std::string::npos);
    const size_t value = at + key.size() + 4 + 8;  // u32 value type, u64 string length
    ASSERT_EQ(bytes.substr(value, 5), "llama");
    bytes.replace(value, 5, "llamx");
    const std::string model = dir.write("llamx.gguf", bytes);
    auto r = joulebench({"eval", "-m", model, "--tasks", "arc_easy", "--data-dir", kSamples, "--idle-s", "0"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(error_line(r.err), "joulebench: error: " + model + ": llama.cpp could not load this model (unknown "
                                 "model architecture: 'llamx'); run with --verbose for llama.cpp's log");
    std::istringstream lines(r.err);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_TRUE(line.rfind("eval: ", 0) == 0 || line.rfind("joulebench: error: ", 0) == 0) << line;
    }
    auto verbose = joulebench({"eval", "-m", model, "--tasks", "arc_easy", "--data-dir", kSamples, "--idle-s", "0",
                               "--verbose"});
    EXPECT_NE(verbose.err.find("llama_model_load"), std::string::npos) << verbose.err;
}

TEST(EvalCli, bad_engine_option_is_a_usage_error) {
    auto r = joulebench({"eval", "-m", kModel, "--tasks", "arc_easy", "--data-dir", kSamples, "--fa", "maybe"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("--flash-attn"), std::string::npos) << r.err;
}
