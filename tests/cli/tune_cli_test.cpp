// joulebench tune, sweep --engine tuned and sweep --ci as a user runs them, on the CPU with
// stories260K: trials stored as cells, the best used by a tuned sweep, adaptive repeats recorded.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joulebench/store.hpp"
#include "run_joulebench.hpp"

using namespace jb_test;
using jb::test::TempDir;

namespace {

const std::string kModel = JB_TEST_MODEL;

std::vector<std::string> quiet(const TempDir & dir) {
    return {"--db", dir.file("r.db"), "--cache-dir", dir.file("cache"), "--idle-s", "0", "--idle-check-s", "0"};
}

std::vector<std::string> tune_args(const TempDir & dir, const std::string & budget) {
    std::vector<std::string> a = {
        "tune", "-m", kModel, "--scheme", "fp16", "--workload", "tg32r2", "--budget-trials", budget, "--cooldown-s",
        "0",    "-t", "1",    "--axis",   "t=1",  "-o",         "json"};
    for (auto & q : quiet(dir)) a.push_back(q);
    return a;
}

nlohmann::json energy(const jb::CellRecord & c) {
    return nlohmann::json::parse(c.energy_json);
}

}  // namespace

TEST(TuneCli, tunes_a_decode_workload_stores_its_trials_and_a_tuned_sweep_uses_the_best) {
    const TempDir dir;
    const ChildRun r = joulebench(tune_args(dir, "6"));
    ASSERT_EQ(r.status, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    ASSERT_TRUE(doc["best"].is_string()) << r.out;
    const std::string best = doc["best"];
    EXPECT_LE(doc["trials"].get<int>(), 6);
    EXPECT_GE(doc["trials"].get<int>(), 3);
    EXPECT_NE(r.err.find("tune: best: "), std::string::npos) << r.err;
    // Only flash attention varies here (threads fixed at 1): the settings tried are those of fa.
    EXPECT_LE(doc["rows"].size(), 3u) << r.out;

    std::string trial_base;
    {
        const auto store = jb::Store::open_readonly(dir.file("r.db"));
        int trials = 0;
        for (const auto & c : store.list_cells()) {
            ASSERT_EQ(c.status, "ok") << c.error;
            const size_t at = c.workload_fp.find("|tune=");
            ASSERT_NE(at, std::string::npos) << c.workload_fp;
            trial_base = c.workload_fp.substr(0, at);
            EXPECT_NE(c.workload_fp.find(",t:1,"), std::string::npos) << c.workload_fp;
            const auto tune = energy(c)["tune"];
            EXPECT_EQ(tune["settings"], c.workload_fp.substr(at));
            EXPECT_GT(tune["j_per_token"].get<double>(), 0.0);
            ++trials;
        }
        EXPECT_EQ(trials, doc["trials"].get<int>());
        EXPECT_EQ(trial_base, "bench-v2:tg:32:n32:s1:r2");
    }

    // Run again: the earlier trials count, and the budget buys new ones.
    const ChildRun again = joulebench(tune_args(dir, "2"));
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.err.find("settings of earlier tunes"), std::string::npos) << again.err;
    const auto doc2 = nlohmann::json::parse(again.out);
    EXPECT_LE(doc2["trials"].get<int>(), 2);
    const std::string best2 = doc2["best"];

    // A tuned sweep runs the cell with the best stored setting and records it.
    std::vector<std::string> sweep = {"sweep",   "-m",     kModel,     "--schemes", "fp16",
                                      "--tasks", "tg32r2", "--engine", "tuned",     "--no-progress"};
    for (auto & q : quiet(dir)) sweep.push_back(q);
    const ChildRun s = joulebench(sweep);
    ASSERT_EQ(s.status, 0) << s.err;
    const auto store = jb::Store::open_readonly(dir.file("r.db"));
    int tuned = 0;
    for (const auto & c : store.list_cells()) {
        if (c.workload_fp != trial_base + "|engine=tuned") continue;
        ++tuned;
        ASSERT_EQ(c.status, "ok") << c.error;
        const auto ej = energy(c);
        EXPECT_EQ(ej["tuned"]["settings"], best2);
        EXPECT_EQ(ej["engine"]["n_threads"], 1);
    }
    EXPECT_EQ(tuned, 1);
}

TEST(TuneCli, a_tuned_sweep_without_trials_fails_the_cell_saying_which_tune_to_run) {
    const TempDir dir;
    std::vector<std::string> sweep = {"sweep",   "-m",     kModel,     "--schemes", "fp16",
                                      "--tasks", "tg16r1", "--engine", "tuned",     "--no-progress"};
    for (auto & q : quiet(dir)) sweep.push_back(q);
    const ChildRun s = joulebench(sweep);
    EXPECT_EQ(s.status, 3) << s.err;
    const auto cells = jb::Store::open_readonly(dir.file("r.db")).list_cells();
    ASSERT_EQ(cells.size(), 1u);
    EXPECT_EQ(cells[0].status, "failed");
    EXPECT_NE(cells[0].error.find("joulebench tune -m"), std::string::npos) << cells[0].error;
}

TEST(TuneCli, rejects_a_tune_without_budget_and_a_ttft_limit_on_decode) {
    const TempDir dir;
    std::vector<std::string> a = {"tune", "-m", kModel, "--workload", "tg16"};
    for (auto & q : quiet(dir)) a.push_back(q);
    ChildRun r = joulebench(a);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("--budget-trials"), std::string::npos) << r.err;
    a.insert(a.end(), {"--budget-trials", "3", "--max-ttft", "0.1"});
    r = joulebench(a);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("--max-ttft"), std::string::npos) << r.err;
}

TEST(TuneCli, sweep_ci_repeats_a_cell_until_its_interval_is_known_and_records_it) {
    const TempDir dir;
    std::vector<std::string> sweep = {"sweep", "-m",  kModel,       "--schemes", "fp16", "--tasks", "tg16r2",
                                      "--ci",  "99%", "--ci-max-n", "5",         "-t",   "1",       "--no-progress"};
    for (auto & q : quiet(dir)) sweep.push_back(q);
    const ChildRun s = joulebench(sweep);
    ASSERT_EQ(s.status, 0) << s.err;
    auto cells = jb::Store::open_readonly(dir.file("r.db")).list_cells();
    ASSERT_GE(cells.size(), 3u);  // at least three repeats
    ASSERT_LE(cells.size(), 5u);
    std::sort(cells.begin(), cells.end(), [](const auto & a, const auto & b) { return a.repeat_idx < b.repeat_idx; });
    for (size_t i = 0; i < cells.size(); ++i) {
        const auto rep = energy(cells[i])["repeats"];
        EXPECT_EQ(rep["n"], int(i) + 1);
        EXPECT_EQ(rep["target_pct"], 99.0);
        const std::string stop = rep["stop"];
        if (i + 1 < cells.size()) {
            EXPECT_EQ(stop, "");
        } else {
            EXPECT_TRUE(stop == "ci" || stop == "count") << stop;
            EXPECT_TRUE(rep["ci95_lo"].is_number());
        }
    }
    // Resumed: the series is complete, nothing more is measured.
    const ChildRun again = joulebench(sweep);
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_EQ(jb::Store::open_readonly(dir.file("r.db")).list_cells().size(), cells.size());
}

TEST(TuneCli, a_time_budget_ends_the_search) {
    const TempDir dir;
    std::vector<std::string> a = {"tune",         "-m", kModel, "--workload", "tg16r1", "--budget-s", "0.001",
                                  "--cooldown-s", "0",  "-t",   "1",          "-o",     "json"};
    for (auto & q : quiet(dir)) a.push_back(q);
    const ChildRun r = joulebench(a);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    // The defaults run once whatever the budget; then the time is up.
    EXPECT_EQ(doc["trials"].get<int>(), 1);
    EXPECT_EQ(doc["stop_reason"], "budget");
    EXPECT_EQ(doc["best"], "|tune=c:8192,b:2048,ub:512,np:1,fa:auto,t:1,kv:f16/f16");
}
