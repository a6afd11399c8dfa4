// joulebench serve end to end: the real llama-server (built from the same llama.cpp) serving
// stories260K under two schemes at two concurrencies, stored, reported, recommended and resumed;
// a server killed in the middle of a level (a failed level, a fresh server for the next, no
// orphan); Ctrl-C; an endpoint given by --url (the in-process stub server).

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/run_joulebench.hpp"
#include "joulebench/store.hpp"
#include "serve/stub_server.hpp"
#include "support/temp_dir.hpp"

using jb_test::joulebench;
namespace fs = std::filesystem;

namespace {

void require_server_binary() {
    ASSERT_STRNE(JB_LLAMA_SERVER, "")
        << "llama-server is not part of this build (configure with JOULEBENCH_LLAMA_SERVER=ON)";
}

// Small bounded levels on the CPU: 2 threads, short prompts and outputs, no idle baseline or settling.
std::vector<std::string> serve_args(const jb::test::TempDir & dir, std::vector<std::string> more) {
    std::vector<std::string> a = {"serve",     "-m",           JB_TEST_MODEL,      "--server-bin",   JB_LLAMA_SERVER,
                                  "--threads", "2",            "--threads-batch",  "2",              "--input-len",
                                  "24",        "--output-len", "8",                "--idle-s",       "0",
                                  "--settle-s", "0",           "--db",             dir.file("r.db"), "--cache-dir",
                                  dir.file("cache"), "--no-progress", "--request-timeout-s", "60"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

// The llama-server processes whose parent is `parent` (from /proc).
std::set<pid_t> server_children(pid_t parent) {
    std::set<pid_t> out;
    for (const auto & e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(e.path() / "stat");
        std::string stat;
        std::getline(in, stat);
        const size_t open = stat.find('('), close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos) continue;
        const std::string comm = stat.substr(open + 1, close - open - 1);
        std::istringstream rest(stat.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent && comm.rfind("llama-server", 0) == 0) out.insert(pid_t(std::stol(name)));
    }
    return out;
}

bool alive(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno != ESRCH;
}

// joulebench in the background, its stderr in a file, as serve_args give it (no NVML, no RAPL).
struct Background {
    pid_t pid = -1;
    std::string err_path;
    Background(const jb::test::TempDir & dir, const std::vector<std::string> & args) {
        err_path = dir.file("bg-stderr");
        std::vector<std::string> argv_s = {JB_BINARY};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char *> argv;
        for (auto & a : argv_s) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> env_s = {"JOULEBENCH_NVML_LIBRARY=libnvidia-ml-absent-in-tests.so.1",
                                          "JOULEBENCH_POWERCAP_ROOT=/nonexistent-powercap",
                                          "JOULEBENCH_CLAIM_DIR=" + dir.file("claims"), "PATH=/usr/bin:/bin"};
        std::vector<char *> envp;
        for (auto & e : env_s) envp.push_back(e.data());
        envp.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, dir.file("bg-stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
    }
    std::string err() const { return jb_test::slurp(err_path); }
    // Waits (bounded) until stderr contains `text`; false on timeout or if the process ended.
    bool wait_for(const std::string & text, double timeout_s) const {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < end) {
            if (err().find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }
    int wait() {
        std::set<pid_t> ignored;
        return wait_collecting(ignored);
    }
    // Waits for the exit (bounded: 10 minutes), noting every llama-server it starts meanwhile.
    int wait_collecting(std::set<pid_t> & servers) {
        int ws = 0;
        for (int i = 0; i < 12000; ++i) {
            for (pid_t p : server_children(pid)) servers.insert(p);
            if (waitpid(pid, &ws, WNOHANG) == pid) {
                pid = -1;
                return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return -1;
    }
    ~Background() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
};

}  // namespace

TEST(ServeCli, two_schemes_at_two_concurrencies_are_served_stored_reported_recommended_and_resumed) {
    require_server_binary();
    jb::test::TempDir dir;
    const auto args = serve_args(dir, {"--schemes", "fp16,q4_k_m", "--concurrency", "1,4", "--requests", "8"});
    const auto run = joulebench(args);
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_NE(run.err.find("serve: 4 levels ok, 0 partial, 0 failed, 0 already in"), std::string::npos) << run.err;
    EXPECT_NE(run.out.find("Operating point per scheme"), std::string::npos) << run.out;

    jb::Store st = jb::Store::open_readonly(dir.file("r.db"));
    const auto levels = st.list_serve_levels();
    ASSERT_EQ(levels.size(), 4u);
    std::set<std::string> seen;
    for (const auto & l : levels) {
        seen.insert(l.scheme_name + " " + l.level);
        EXPECT_EQ(l.status, "ok") << l.reason;
        EXPECT_EQ(l.mode, "closed");
        EXPECT_EQ(l.endpoint, "llama-server");
        EXPECT_EQ(l.sent, 8);
        EXPECT_EQ(l.sent, l.completed + l.failed + l.timed_out);
        EXPECT_EQ(l.completed, 8);
        EXPECT_EQ(l.completion_tokens, 8 * 8) << "ignore_eos: every request generates --output-len tokens";
        EXPECT_EQ(l.prompt_tokens, 8 * 24) << "synthetic prompts of --input-len tokens as the server counts them";
        EXPECT_EQ(l.cached_prompt_tokens, 0) << "no prompt reuse (cache_prompt false)";
        EXPECT_EQ(l.tokens_match, 1) << "usage agrees with llama-server's /metrics counters";
        EXPECT_TRUE(std::isfinite(l.energy_j));
        EXPECT_TRUE(l.energy_estimated) << "no energy counter in tests: the CPU estimate";
        EXPECT_TRUE(std::isfinite(l.ttft_p99_ms));
        EXPECT_LE(l.ttft_p50_ms, l.ttft_p99_ms);
        EXPECT_GT(l.requests_per_s, 0.0);
        const auto server = nlohmann::json::parse(l.server_json);
        EXPECT_EQ(server["parallel"], 4) << "one slot per client of the largest level";
        EXPECT_EQ(server["ctx_size"], 4 * 256) << "4 slots x (24 + 8 + 64 rounded up to 256)";
        EXPECT_EQ(server["reported"]["total_slots"], 4) << server.dump();
        EXPECT_EQ(server["prompt_cache"], "off") << server.dump();
        EXPECT_NE(l.server_json.find("\"--cache-ram\",\"0\""), std::string::npos)
            << "no host-memory prompt cache on our own server: " << l.server_json;
        const auto result = nlohmann::json::parse(l.result_json);
        EXPECT_EQ(result["requests"].size(), 8u);
    }
    EXPECT_EQ(seen, (std::set<std::string>{"fp16 c=1", "fp16 c=4", "q4_k_m c=1", "q4_k_m c=4"}));
    // Steady windows: every client busy until the first runs out of work.
    for (const auto & l : levels) {
        // (On a loaded machine one client may run out of work before the last one has its first
        // token: then there is no window, and the note says why.)
        if (l.level == "c=4" && !std::isfinite(l.steady_s)) {
            EXPECT_FALSE(l.steady_note.empty());
        }
        if (l.level == "c=1") {
            EXPECT_TRUE(std::isfinite(l.steady_s)) << l.steady_note;
        }
    }

    // The same command again (with an idle baseline asked for): every level is already stored, no
    // server starts and no idle power is measured.
    auto args_again = args;
    for (size_t i = 0; i + 1 < args_again.size(); ++i) {
        if (args_again[i] == "--idle-s") args_again[i + 1] = "0.5";
    }
    const auto again = joulebench(args_again);
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.err.find("0 levels ok, 0 partial, 0 failed, 4 already in"), std::string::npos) << again.err;
    EXPECT_EQ(again.err.find("starting llama-server"), std::string::npos) << again.err;
    EXPECT_EQ(again.err.find("measuring idle power"), std::string::npos) << again.err;

    const auto md = joulebench({"report", dir.file("r.db"), "-o", "md"});
    ASSERT_EQ(md.status, 0) << md.err;
    EXPECT_NE(md.out.find("## Served levels: energy per request against throughput"), std::string::npos);
    EXPECT_NE(md.out.find("| q4_k_m |"), std::string::npos);
    // The server's settings per level: one slot per client of the widest level, its threads.
    EXPECT_NE(md.out.find("| np 4, c "), std::string::npos) << md.out;
    EXPECT_NE(md.out.find(", t 2"), std::string::npos) << md.out;
    EXPECT_NE(md.out.find("Operating point per scheme"), std::string::npos);
    const auto html = joulebench({"report", dir.file("r.db"), "-o", dir.file("r.html")});
    ASSERT_EQ(html.status, 0) << html.err;
    const std::string page = jb_test::slurp(dir.file("r.html"));
    EXPECT_NE(page.find("<section id=\"serving\">"), std::string::npos);
    EXPECT_NE(page.find("id=\"serving-chart-0\""), std::string::npos);
    // The page's header counts what was served (no cells here): 4 levels of 1 model, 2 schemes.
    EXPECT_NE(page.find("0 cells (0 failed) \u00b7 4 served levels \u00b7 1 host \u00b7 1 model \u00b7 2 schemes"),
              std::string::npos);

    // Latency targets this loaded test machine meets (the default SLO is judged in tests/metrics).
    const auto rec = joulebench({"recommend", dir.file("r.db"), "--traffic",
                                 "prompt=24,output=8,concurrency=4,ttft_p99=300s,tpot_p99=300s", "-o", "json"});
    ASSERT_EQ(rec.status, 0) << rec.err;
    const auto j = nlohmann::json::parse(rec.out);
    int chosen = 0;
    for (const auto & row : j["rows"]) {
        EXPECT_EQ(row["source"], "served");
        chosen += row["choice"] == "choose" ? 1 : 0;
    }
    EXPECT_EQ(j["rows"].size(), 2u);
    EXPECT_EQ(chosen, 1);
}

TEST(ServeCli, a_server_killed_mid_level_fails_that_level_and_leaves_no_orphan) {
    require_server_binary();
    jb::test::TempDir dir;
    // Two levels of 5 s each: the server is killed 0.5 s into the first; the second gets a fresh one.
    Background bg(dir, serve_args(dir, {"--concurrency", "2,1", "--duration", "5"}));
    ASSERT_TRUE(bg.wait_for("serve: [1/2]", 120)) << bg.err();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const std::set<pid_t> first = server_children(bg.pid);
    ASSERT_EQ(first.size(), 1u) << bg.err();
    ASSERT_EQ(::kill(*first.begin(), SIGKILL), 0);
    std::set<pid_t> seen = first;
    const int status = bg.wait_collecting(seen);
    EXPECT_EQ(status, 3) << "a failed level: exit status 3\n" << bg.err();
    EXPECT_EQ(seen.size(), 2u) << "a second server for the second level\n" << bg.err();
    for (pid_t p : seen) EXPECT_FALSE(alive(p)) << "llama-server " << p << " outlived joulebench";
    EXPECT_NE(bg.err().find("has stopped (killed by signal 9"), std::string::npos) << bg.err();

    jb::Store st = jb::Store::open_readonly(dir.file("r.db"));
    const auto levels = st.list_serve_levels();
    ASSERT_EQ(levels.size(), 2u);
    const auto & killed = levels[0];
    EXPECT_EQ(killed.level, "c=2");
    EXPECT_EQ(killed.status, "failed");
    EXPECT_NE(killed.reason.find("signal 9"), std::string::npos) << killed.reason;
    EXPECT_EQ(killed.sent, killed.completed + killed.failed + killed.timed_out);
    const auto & next = levels[1];
    EXPECT_EQ(next.level, "c=1");
    EXPECT_EQ(next.status, "ok") << next.reason;
    EXPECT_GT(next.completed, 0);
    EXPECT_EQ(next.completion_tokens, next.completed * 8);
}

TEST(ServeCli, ctrl_c_cancels_the_level_stores_nothing_of_it_and_stops_the_server) {
    require_server_binary();
    jb::test::TempDir dir;
    Background bg(dir, serve_args(dir, {"--concurrency", "2", "--duration", "30"}));
    ASSERT_TRUE(bg.wait_for("serve: [1/1]", 120)) << bg.err();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const std::set<pid_t> servers = server_children(bg.pid);
    ASSERT_EQ(servers.size(), 1u) << bg.err();
    ASSERT_EQ(::kill(bg.pid, SIGINT), 0);
    const int status = bg.wait();
    EXPECT_EQ(status, 128 + SIGINT) << bg.err();
    EXPECT_NE(bg.err().find("stopped by signal 2"), std::string::npos) << bg.err();
    EXPECT_FALSE(alive(*servers.begin())) << "llama-server outlived joulebench";
    jb::Store st = jb::Store::open_readonly(dir.file("r.db"));
    EXPECT_TRUE(st.list_serve_levels().empty()) << "a cancelled level is not stored";
}

// Arrivals faster than one place in flight can serve: they wait, TTFT counts the wait from the
// arrival, and serve says the server fell behind.
TEST(ServeCli, open_loop_arrivals_that_wait_for_a_place_count_the_wait) {
    jb::serve::StubServer stub([](long, const nlohmann::json &) {
        jb::serve::StubReply r;
        r.token_interval_s = 0.08;  // 4 tokens: about 0.25 s a request
        return r;
    });
    jb::test::TempDir dir;
    const std::string prompts = dir.write("p.jsonl", "{\"prompt\": \"one\", \"max_tokens\": 4}\n");
    const auto run = joulebench({"serve", "--url", "http://127.0.0.1:" + std::to_string(stub.port()), "--prompts",
                                 prompts, "--rate", "50", "--requests", "8", "--max-in-flight", "1", "--idle-s", "0",
                                 "--db", dir.file("q.db")});
    ASSERT_EQ(run.status, 0) << run.err;
    const auto levels = jb::Store::open_readonly(dir.file("q.db")).list_serve_levels();
    ASSERT_EQ(levels.size(), 1u);
    const auto & l = levels[0];
    EXPECT_EQ(l.completed, 8);
    // The eighth arrival (within about 0.2 s) waits for the seven before it: over 1.5 s.
    EXPECT_GT(l.queue_p99_ms, 1000.0);
    EXPECT_GT(l.ttft_p99_ms, l.queue_p99_ms) << "TTFT from the arrival holds the wait";
    EXPECT_GT(l.e2e_p99_ms, l.ttft_p99_ms);
    EXPECT_NE(run.err.find("r=50: arrivals waited up to"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("for one of the 1 places in flight: the server fell behind"), std::string::npos) << run.err;
    // A report's reader sees it too, in the level's note.
    const auto md = joulebench({"report", dir.file("q.db"), "-o", "md", "--table", "serving"});
    ASSERT_EQ(md.status, 0) << md.err;
    EXPECT_NE(md.out.find("for one of the 1 places in flight: the server fell behind"), std::string::npos) << md.out;
}

TEST(ServeCli, repeats_run_every_level_again_with_a_fresh_server_and_pool_into_a_mean) {
    require_server_binary();
    jb::test::TempDir dir;
    const auto run = joulebench(serve_args(dir, {"--concurrency", "1", "--requests", "2", "--repeats", "2", "-o",
                                                 "json"}));
    ASSERT_EQ(run.status, 0) << run.err;
    // Two rounds, each with its own server; the second stored as a run of the same level.
    size_t starts = 0;
    for (size_t at = run.err.find("starting llama-server"); at != std::string::npos;
         at = run.err.find("starting llama-server", at + 1)) {
        ++starts;
    }
    EXPECT_EQ(starts, 2u) << run.err;
    EXPECT_NE(run.err.find("c=1 (run 2/2)"), std::string::npos) << run.err;
    const auto rows = jb::Store::open_readonly(dir.file("r.db")).list_serve_levels();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].workload_fp, rows[0].workload_fp + "|repeat=2");
    EXPECT_EQ(rows[0].level, rows[1].level);
    // Printed: one level, pooled from both runs.
    const auto doc = nlohmann::json::parse(run.out);
    ASSERT_EQ(doc["rows"].size(), 1u) << run.out;
    const auto & row = doc["rows"][0];
    EXPECT_EQ(row["runs"], 2) << row;
    EXPECT_EQ(row["completed"], 4) << row;
    const double mean = (rows[0].best_j_per_request() + rows[1].best_j_per_request()) / 2;
    EXPECT_NEAR(row["j_per_request"].get<double>(), mean, 1e-9 * mean) << row;
    EXPECT_TRUE(row["j_per_request_ci95"].is_number()) << row;

    // Again: both runs are stored, nothing runs; --repeats 3 runs only the third.
    const auto again = joulebench(serve_args(dir, {"--concurrency", "1", "--requests", "2", "--repeats", "2"}));
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.err.find("0 levels ok, 0 partial, 0 failed, 2 already in"), std::string::npos) << again.err;
    const auto third = joulebench(serve_args(dir, {"--concurrency", "1", "--requests", "2", "--repeats", "3"}));
    ASSERT_EQ(third.status, 0) << third.err;
    EXPECT_NE(third.err.find("1 levels ok, 0 partial, 0 failed, 2 already in"), std::string::npos) << third.err;
    const auto md = joulebench({"report", dir.file("r.db"), "-o", "md", "--table", "serving"});
    ASSERT_EQ(md.status, 0) << md.err;
    EXPECT_NE(md.out.find("runs: the level's repeated runs that ended ok"), std::string::npos) << md.out;

    const auto zero = joulebench(serve_args(dir, {"--concurrency", "1", "--repeats", "0"}));
    EXPECT_EQ(zero.status, 2);
    EXPECT_NE(zero.err.find("--repeats must be >= 1 (got 0)"), std::string::npos) << zero.err;
}

TEST(ServeCli, url_drives_an_endpoint_that_is_already_running) {
    jb::serve::StubServer stub([](long, const nlohmann::json &) {
        jb::serve::StubReply r;
        r.token_interval_s = 0.001;
        return r;
    });
    jb::test::TempDir dir;
    const std::string prompts = dir.write("p.jsonl", "{\"prompt\": \"one\"}\n{\"prompt\": \"two\", \"max_tokens\": 3}\n");
    const std::string url = "http://127.0.0.1:" + std::to_string(stub.port());
    const auto run = joulebench({"serve", "--url", url, "--schemes", "q8-vllm", "--prompts", prompts, "--output-len",
                                 "5", "--concurrency", "2", "--requests", "6", "--idle-s", "0", "--db",
                                 dir.file("r.db"), "-o", "csv"});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(stub.requests(), 6);
    jb::Store st = jb::Store::open_readonly(dir.file("r.db"));
    const auto levels = st.list_serve_levels();
    ASSERT_EQ(levels.size(), 1u);
    const auto & l = levels[0];
    EXPECT_EQ(l.status, "ok") << l.reason;
    EXPECT_EQ(l.endpoint, url);
    EXPECT_EQ(l.scheme_canonical, "endpoint:q8-vllm");
    EXPECT_EQ(l.scheme_name, "q8-vllm");
    EXPECT_EQ(l.model_hash.rfind("endpoint:", 0), 0u) << l.model_hash;
    EXPECT_EQ(l.completed, 6);
    // Shapes cycle: 5, 3, 5, 3, 5, 3 tokens; the stub's usage reports 7 prompt tokens each.
    EXPECT_EQ(l.completion_tokens, 24);
    EXPECT_EQ(l.prompt_tokens, 42);
    EXPECT_EQ(l.tokens_match, -1) << "an external endpoint's counters are not ours to check";
    EXPECT_NE(run.out.find("q8-vllm"), std::string::npos) << run.out;

    // An open-loop level: Poisson arrivals at 50/s, at most 16 in flight by default.
    const auto open = joulebench({"serve", "--url", url, "--prompts", prompts, "--output-len", "4", "--rate", "50",
                                  "--requests", "10", "--idle-s", "0", "--db", dir.file("o.db")});
    ASSERT_EQ(open.status, 0) << open.err;
    const auto open_levels = jb::Store::open_readonly(dir.file("o.db")).list_serve_levels();
    ASSERT_EQ(open_levels.size(), 1u);
    EXPECT_EQ(open_levels[0].level, "r=50");
    EXPECT_EQ(open_levels[0].mode, "open");
    EXPECT_DOUBLE_EQ(open_levels[0].rate_rps, 50.0);
    EXPECT_EQ(open_levels[0].concurrency, 16);
    EXPECT_EQ(open_levels[0].completed, 10);
    EXPECT_EQ(open_levels[0].scheme_name, "endpoint") << "the default label of an endpoint";
    // The arrivals are a Poisson process given their count: 10 requests at 50/s fall in 0.2 s, so the
    // rate delivered is the rate asked, and nothing is said of it.
    EXPECT_DOUBLE_EQ(nlohmann::json::parse(open_levels[0].result_json)["arrival_rate_rps"].get<double>(), 50.0);
    EXPECT_EQ(open.err.find("the arrivals came at"), std::string::npos) << open.err;
    // A duration too short for the rate: 50/s for 0.03 s rounds to 2 arrivals, 66.7/s: said.
    const auto short_level = joulebench({"serve", "--url", url, "--prompts", prompts, "--output-len", "2", "--rate",
                                         "50", "--duration", "0.03", "--idle-s", "0", "--db", dir.file("short.db")});
    ASSERT_EQ(short_level.status, 0) << short_level.err;
    const auto s_levels = jb::Store::open_readonly(dir.file("short.db")).list_serve_levels();
    ASSERT_EQ(s_levels.size(), 1u);
    EXPECT_EQ(s_levels[0].sent, 2);
    EXPECT_NEAR(nlohmann::json::parse(s_levels[0].result_json)["arrival_rate_rps"].get<double>(), 2 / 0.03, 1e-9);
    EXPECT_NE(short_level.err.find("r=50: the arrivals came at 66.7/s, not 50/s (+33 %, 2 requests)"),
              std::string::npos) << short_level.err;

    // With a closed-loop level of the same requests beside it, the report draws the two load modes as
    // two lines (Poisson arrivals dashed), and a database of served levels only gets no empty decision
    // matrix.
    const auto closed = joulebench({"serve", "--url", url, "--prompts", prompts, "--output-len", "4", "--concurrency",
                                    "2", "--requests", "10", "--idle-s", "0", "--db", dir.file("o.db")});
    ASSERT_EQ(closed.status, 0) << closed.err;
    const auto html = joulebench({"report", dir.file("o.db"), "-o", dir.file("o.html")});
    ASSERT_EQ(html.status, 0) << html.err;
    const std::string page = jb_test::slurp(dir.file("o.html"));
    const size_t chart = page.find("id=\"serving-chart-0\"");
    ASSERT_NE(chart, std::string::npos);
    EXPECT_NE(page.find(", Poisson arrivals", chart), std::string::npos)
        << joulebench({"report", dir.file("o.db"), "-o", "md", "--table", "serving,serving_frontier"}).out;
    EXPECT_NE(page.find("stroke-dasharray=\"6 4\""), std::string::npos) << "the open-loop line is dashed";
    EXPECT_NE(page.find("No scored task in this database, only served levels"), std::string::npos);
    EXPECT_EQ(page.find("id=\"table-decision\""), std::string::npos) << "no decision table without rows";
    // Section 7 sends the reader to the serving tables, not to a section 5 without synthetic workloads.
    EXPECT_EQ(page.find("the synthetic workloads are compared in section 5"), std::string::npos);
    const std::string no_cells = "No cells in this database, only served levels";
    const size_t first = page.find(no_cells);
    ASSERT_NE(first, std::string::npos);
    EXPECT_NE(page.find(no_cells, first + 1), std::string::npos) << "both tables of section 7";

    // Synthetic prompts need the server's /tokenize, which this endpoint lacks: a failed level with the reason.
    const auto synthetic = joulebench({"serve", "--url", url, "--concurrency", "1", "--requests", "2", "--idle-s",
                                       "0", "--db", dir.file("s.db")});
    EXPECT_EQ(synthetic.status, 3) << synthetic.err;
    const auto failed = jb::Store::open_readonly(dir.file("s.db")).list_serve_levels();
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].status, "failed");
    EXPECT_NE(failed[0].reason.find("the requests could not be built"), std::string::npos) << failed[0].reason;
}
