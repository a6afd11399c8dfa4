// joulebench tune over llama-server's settings (--workload serve:c<N>): the real llama-server
// (built from the same llama.cpp) serving stories260K on the CPU; every trial a served level stored
// as a tune trial, left out of what reports and recommendations read; a tune run again goes on from
// the stored trials; an SLO no setting meets; and bad input refused before anything runs.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/run_joulebench.hpp"
#include "joulebench/store.hpp"
#include "support/temp_dir.hpp"

using jb_test::error_line;
using jb_test::joulebench;

namespace {

// The requests of every level here: a tune and a serve --tuned of the same load give the same.
const std::vector<std::string> kRequests = {"--input-len", "24", "--output-len", "8", "--requests", "6"};

std::vector<std::string> with_requests(std::vector<std::string> a) {
    a.insert(a.end(), kRequests.begin(), kRequests.end());
    return a;
}

// Two clients, slots 1 or 2 and micro-batch 256 or 512 searched (the other settings fixed by
// one-value axes), short requests, no idle baseline or cooldown.
std::vector<std::string> tune_args(const jb::test::TempDir & dir, const std::string & budget,
                                   std::vector<std::string> more = {}) {
    std::vector<std::string> a = with_requests(
        {"tune", "-m", JB_TEST_MODEL, "--workload", "serve:c2", "--server-bin", JB_LLAMA_SERVER, "-t", "2"});
    for (const std::string axis : {"np=1,2", "ub=256,512", "b=2048", "fa=auto", "t=2"})
        a.insert(a.end(), {"--axis", axis});
    a.insert(a.end(), {"--budget-trials", budget, "--min-repeats", "2", "--cooldown-s", "0", "--idle-s", "0", "--db",
                       dir.file("r.db"), "--cache-dir", dir.file("cache"), "-o", "json"});
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

}  // namespace

TEST(TuneServe, searches_server_settings_stores_trials_apart_and_goes_on_from_them) {
    ASSERT_STRNE(JB_LLAMA_SERVER, "") << "llama-server is not part of this build";
    const jb::test::TempDir dir;
    const auto r = joulebench(tune_args(dir, "5"));
    ASSERT_EQ(r.status, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_TRUE(doc["serving"].get<bool>()) << r.out;
    ASSERT_TRUE(doc["best"].is_string()) << r.out;
    const int trials = doc["trials"];
    EXPECT_GE(trials, 3);  // the defaults, at least one other slot count, the defaults' second repeat
    EXPECT_LE(trials, 5);
    // The settings tried are points of np {1, 2} x ub {256, 512}: four at most, the defaults (np 2,
    // ub 512) among them.
    ASSERT_GE(doc["rows"].size(), 2u) << r.out;
    EXPECT_LE(doc["rows"].size(), 4u) << r.out;
    int defaults = 0, repeats = 0;
    for (const auto & row : doc["rows"]) {
        const std::string label = row["settings"];
        EXPECT_TRUE(label.rfind("np 1, b 2048, ub ", 0) == 0 || label.rfind("np 2, b 2048, ub ", 0) == 0) << label;
        EXPECT_NE(label.find("2 threads"), std::string::npos) << label;
        if (row["role"].get<std::string>().find("defaults") != std::string::npos) {
            ++defaults;
            EXPECT_EQ(label.rfind("np 2, b 2048, ub 512,", 0), 0u) << label;
        }
        EXPECT_GT(row["j_per_token"].get<double>(), 0.0);
        repeats += row["n"].get<int>();
    }
    EXPECT_EQ(defaults, 1);
    EXPECT_EQ(repeats, trials);
    EXPECT_NE(r.err.find("tune: best: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("J/output token"), std::string::npos) << r.err;
    // The choice as serve's options: slots and micro-batch of the best, the fixed ones as given.
    const auto & opts = doc["serve_options"];
    ASSERT_TRUE(opts.is_array()) << r.out;
    const std::string best = doc["best"];
    const std::string np = best.substr(3, best.find(',') - 3);  // "np=2,b=..."
    EXPECT_EQ(opts[0], "--parallel");
    EXPECT_EQ(opts[1], np);
    EXPECT_EQ(opts[2], "--batch-size");
    EXPECT_EQ(opts[3], "2048");
    EXPECT_EQ(opts[7], "auto");
    EXPECT_NE(r.err.find("to serve with it: joulebench serve --parallel " + np), std::string::npos) << r.err;

    // Every trial is a level in the store, marked as a tune trial (one repeat index per setting).
    {
        const auto store = jb::Store::open_readonly(dir.file("r.db"));
        const auto levels = store.list_serve_levels();
        EXPECT_EQ(int(levels.size()), trials);
        for (const auto & l : levels) {
            EXPECT_EQ(l.status, "ok") << l.reason;
            EXPECT_EQ(l.level, "c=2");
            EXPECT_NE(l.workload_fp.find("|tune=r"), std::string::npos) << l.workload_fp;
            EXPECT_GT(l.completion_tokens, 0);
        }
    }
    // Reports and recommendations read served levels, not the trials of a tune.
    const auto rec = joulebench({"recommend", dir.file("r.db"), "--profile", "serving"});
    EXPECT_NE(rec.status, 0);
    EXPECT_NE(error_line(rec.err).find("no served levels"), std::string::npos) << rec.err;

    // Run again with a budget of one: the stored trials are read back (column "stored"), at most
    // one level is measured.
    const auto again = joulebench(tune_args(dir, "1"));
    ASSERT_EQ(again.status, 0) << again.err;
    const auto doc2 = nlohmann::json::parse(again.out);
    EXPECT_LE(doc2["trials"].get<int>(), 1);
    EXPECT_NE(again.err.find("trials of earlier tunes of this load"), std::string::npos) << again.err;
    int stored = 0;
    for (const auto & row : doc2["rows"]) stored += row["stored"].get<int>();
    EXPECT_EQ(stored, trials) << again.out;
    EXPECT_EQ(int(jb::Store::open_readonly(dir.file("r.db")).list_serve_levels().size()),
              trials + doc2["trials"].get<int>());

    // Another llama-server (here: its prompt cache kept, --cache-ram given) is another server: its
    // tune reuses none of those trials and says why.
    const auto other = joulebench(tune_args(dir, "1", {"--server-arg=--cache-ram", "--server-arg=64"}));
    ASSERT_EQ(other.status, 0) << other.err;
    const auto doc3 = nlohmann::json::parse(other.out);
    EXPECT_NE(other.err.find("ran with other llama-server arguments or its prompt cache on: not reused"),
              std::string::npos)
        << other.err;
    EXPECT_EQ(other.err.find("the search reuses them"), std::string::npos) << other.err;
    for (const auto & row : doc3["rows"]) EXPECT_EQ(row["stored"].get<int>(), 0) << other.out;
    EXPECT_EQ(doc3["trials"].get<int>(), 1) << other.out;
}

// serve --tuned: each level with the best setting stored for it; a level nobody tuned fails, naming
// the tune to run; the report shows the tuned levels as their own group.
TEST(TuneServe, serve_tuned_runs_a_level_with_the_best_stored_setting) {
    ASSERT_STRNE(JB_LLAMA_SERVER, "") << "llama-server is not part of this build";
    const jb::test::TempDir dir;
    const auto t = joulebench(tune_args(dir, "4"));
    ASSERT_EQ(t.status, 0) << t.err;
    const auto doc = nlohmann::json::parse(t.out);
    const std::string best = doc["best"];

    std::vector<std::string> serve = with_requests({"serve", "-m", JB_TEST_MODEL, "--server-bin", JB_LLAMA_SERVER});
    serve.insert(serve.end(), {"--concurrency", "1,2", "--tuned", "--idle-s", "0", "--db", dir.file("r.db"),
                               "--cache-dir", dir.file("cache"), "--no-progress"});
    const auto s = joulebench(serve);
    EXPECT_EQ(s.status, 3) << s.err;  // the level nobody tuned failed
    int tuned = 0;
    for (const auto & l : jb::Store::open_readonly(dir.file("r.db")).list_serve_levels()) {
        if (l.workload_fp.find("|server=tuned") == std::string::npos) continue;
        ++tuned;
        if (l.level == "c=1") {
            EXPECT_EQ(l.status, "failed");
            EXPECT_NE(l.reason.find("joulebench tune -m"), std::string::npos) << l.reason;
            EXPECT_NE(l.reason.find("--workload serve:c1"), std::string::npos) << l.reason;
            continue;
        }
        ASSERT_EQ(l.level, "c=2");
        EXPECT_EQ(l.status, "ok") << l.reason;
        const auto server = nlohmann::json::parse(l.server_json);
        EXPECT_EQ(server["tuned"]["settings"], best) << l.server_json;
        EXPECT_GE(server["tuned"]["trials"].get<int>(), 1);
        // The server ran the chosen slots and threads.
        const std::string np = best.substr(3, best.find(',') - 3);
        EXPECT_NE(l.server_json.find("\"-np\",\"" + np + "\""), std::string::npos) << l.server_json;
        EXPECT_NE(l.server_json.find("\"-t\",\"2\""), std::string::npos) << l.server_json;
    }
    EXPECT_EQ(tuned, 2);
    const auto md = joulebench({"report", dir.file("r.db"), "-o", "md", "--table", "serving_frontier"});
    ASSERT_EQ(md.status, 0) << md.err;
    EXPECT_NE(md.out.find("fp16 (tuned server)"), std::string::npos) << md.out;

    // With other llama-server arguments the trials are another server's: no tune covers the level.
    std::filesystem::copy_file(dir.file("r.db"), dir.file("other.db"));
    std::vector<std::string> other = with_requests({"serve", "-m", JB_TEST_MODEL, "--server-bin", JB_LLAMA_SERVER});
    other.insert(other.end(), {"--concurrency", "2", "--tuned", "--server-arg=--cache-ram", "--server-arg=64",
                               "--idle-s", "0", "--db", dir.file("other.db"), "--cache-dir", dir.file("cache"),
                               "--no-progress"});
    const auto o = joulebench(other);
    EXPECT_EQ(o.status, 3) << o.err;
    bool failed_naming_the_tune = false;
    for (const auto & l : jb::Store::open_readonly(dir.file("other.db")).list_serve_levels()) {
        const bool with_cache_ram = l.server_json.find("--cache-ram") != std::string::npos;
        if (l.workload_fp.find("|server=tuned") == std::string::npos || !with_cache_ram) continue;
        failed_naming_the_tune = l.status == "failed" && l.reason.find("joulebench tune -m") != std::string::npos;
    }
    EXPECT_TRUE(failed_naming_the_tune) << o.err;
}

TEST(TuneServe, an_slo_no_setting_meets_says_so_and_reports_the_closest) {
    ASSERT_STRNE(JB_LLAMA_SERVER, "") << "llama-server is not part of this build";
    const jb::test::TempDir dir;
    const auto r = joulebench(tune_args(dir, "2", {"--slo", "ttft_p99=0.001ms"}));
    ASSERT_EQ(r.status, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_FALSE(doc["best_feasible"].get<bool>()) << r.out;
    ASSERT_GE(doc["rows"].size(), 1u) << r.out;
    for (const auto & row : doc["rows"]) {
        ASSERT_TRUE(row["latency_ratio"].is_number()) << r.out;
        EXPECT_GT(row["latency_ratio"].get<double>(), 1.0);
        EXPECT_EQ(row["feasible"], 0);
    }
    bool said = false;
    for (const auto & note : doc["notes"])
        said = said || note.get<std::string>().find("no setting met") != std::string::npos;
    EXPECT_TRUE(said) << r.out;
}

TEST(TuneServe, refuses_a_bad_load_a_ttft_limit_and_an_slo_off_a_served_load) {
    const jb::test::TempDir dir;
    struct Case {
        std::vector<std::string> args;
        std::string names;
    };
    const std::vector<Case> cases = {
        {{"--workload", "serve:cX"}, "--workload"},
        {{"--workload", "serve:c0"}, "--workload"},
        {{"--workload", "serve"}, "--workload"},
        {{"--workload", "serve:c2", "--max-ttft", "1"}, "--slo"},
        {{"--workload", "serve:c2", "--slo", "ttft_p99"}, "--slo"},
        {{"--workload", "tg16", "--slo", "ttft_p99=2s"}, "--slo"},
        {{"--workload", "serve:c2", "--axis", "c=1024"}, "cps"},
        {{"--workload", "serve:c2", "--input-len", "0"}, "--input-len"},
        {{"--workload", "serve:c2", "-c", "1024"}, "--ctx-size"},
        {{"--workload", "serve:c2", "--gpus", "0"}, "--gpus"},
    };
    for (const auto & c : cases) {
        std::vector<std::string> a = {"tune",           "-m", JB_TEST_MODEL, "--budget-trials", "2",
                                      "--idle-s",       "0",  "--db",        dir.file("r.db"),  "--cache-dir",
                                      dir.file("cache")};
        a.insert(a.end(), c.args.begin(), c.args.end());
        const auto r = joulebench(a);
        EXPECT_EQ(r.status, 2) << c.args[1] << ": " << r.err;
        EXPECT_NE(error_line(r.err).find(c.names), std::string::npos) << c.args[1] << ": " << r.err;
    }
    // Nothing ran: no level was stored.
    if (std::filesystem::exists(dir.file("r.db"))) {
        EXPECT_TRUE(jb::Store::open_readonly(dir.file("r.db")).list_serve_levels().empty());
    }
}

// The engine options given are the server's defaults: where the search starts and what it saves
// against.
TEST(TuneServe, engine_options_given_are_the_servers_defaults) {
    ASSERT_STRNE(JB_LLAMA_SERVER, "") << "llama-server is not part of this build";
    const jb::test::TempDir dir;
    std::vector<std::string> a = tune_args(dir, "1", {"--ub", "256", "--np", "3"});
    // One point: every axis fixed at the given defaults.
    for (size_t i = 0; i + 1 < a.size(); ++i) {
        if (a[i + 1] == "np=1,2") a[i + 1] = "np=3";
        if (a[i + 1] == "ub=256,512") a[i + 1] = "ub=256";
    }
    const auto r = joulebench(a);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    ASSERT_EQ(doc["rows"].size(), 1u) << r.out;
    EXPECT_EQ(doc["rows"][0]["role"], "best, defaults");
    EXPECT_EQ(doc["rows"][0]["settings"].get<std::string>().rfind("np 3, b 2048, ub 256, fa auto, 2 threads", 0), 0u)
        << r.out;
}
