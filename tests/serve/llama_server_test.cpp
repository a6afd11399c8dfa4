// A real llama-server (built from the pinned llama.cpp) serving stories260K on loopback, on
// the CPU with 2 threads and 4 slots: small bounded closed- and open-loop levels, the token
// accounting against the server's /metrics, a server killed in the middle of a level, a
// model that does not load.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "serve/load.hpp"
#include "serve/process.hpp"
#include "serve/requests.hpp"
#include "support/temp_dir.hpp"
#include "joulebench/error.hpp"

using namespace jb::serve;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ServerOptions options(const jb::test::TempDir & dir) {
    ServerOptions o;
    o.binary = JB_LLAMA_SERVER;
    o.model = JB_TEST_MODEL;
    o.parallel = 4;
    o.ctx_size = 2048;  // 512 per slot
    o.threads = 2;
    o.threads_batch = 2;
    o.log_path = dir.file("llama-server.log");
    o.startup_timeout_s = 30;
    o.stop_grace_s = 5;
    return o;
}

void require_server_binary() {
    ASSERT_STRNE(JB_LLAMA_SERVER, "")
        << "llama-server is not part of this build (configure with JOULEBENCH_LLAMA_SERVER=ON)";
}

Endpoint endpoint_of(const ServerProcess & s) {
    Endpoint ep;
    ep.host = s.host();
    ep.port = s.port();
    ep.has_metrics = true;
    return ep;
}

LoadSpec closed(int c, long n) {
    LoadSpec s;
    s.mode = LoadMode::closed;
    s.concurrency = c;
    s.max_requests = n;
    s.request_timeout_s = 20;
    s.idle_timeout_s = 10;
    return s;
}

void expect_sound(const LevelResult & r, int max_tokens) {
    EXPECT_EQ(r.status, LevelStatus::ok) << r.reason << "\n" << r.to_json(true).dump(1);
    EXPECT_EQ(r.sent, r.completed + r.failed + r.timed_out);
    EXPECT_EQ(r.completed, r.sent);
    for (const auto & q : r.requests) {
        EXPECT_EQ(q.completion_tokens, max_tokens) << "ignore_eos: every request generates max_tokens";
        EXPECT_GT(q.prompt_tokens, 0);
        EXPECT_GE(q.chunks, 1);
        EXPECT_LE(q.chunks, max_tokens);
        EXPECT_LE(q.t_sent_s, q.t_first_token_s);
        EXPECT_LE(q.t_first_token_s, q.t_last_token_s) << "TTFT <= last-token time";
        EXPECT_LE(q.t_last_token_s, q.t_end_s);
        EXPECT_FALSE(std::isnan(q.server_predicted_ms)) << "llama-server's timings arrive with the last chunk";
    }
    EXPECT_TRUE(r.token_check.checked) << r.token_check.note;
    EXPECT_TRUE(r.token_check.match) << r.token_check.note;
    EXPECT_EQ(r.token_check.usage_completion_tokens, static_cast<long>(r.sent) * max_tokens);
    EXPECT_EQ(r.token_check.metrics_completion_tokens, r.token_check.usage_completion_tokens);
    EXPECT_EQ(r.token_check.completion_length_mismatches, 0);
    EXPECT_GT(r.load_cpu.cpu_s, 0.0);
}

}  // namespace

TEST(LlamaServer, closed_loop_levels_at_concurrency_1_and_4_account_for_every_token) {
    require_server_binary();
    jb::test::TempDir dir;
    ServerProcess server(make_launch(options(dir)));
    EXPECT_EQ(server.settings()["parallel"], 4);
    ASSERT_TRUE(server.settings().contains("reported")) << server.settings().dump(1);
    EXPECT_EQ(server.settings()["reported"]["total_slots"], 4);

    // Synthetic prompts cut from the shipped calibration text to 24..40 tokens by the server's tokenizer.
    ServerTokenizer tokenizer(server.host(), server.port());
    SyntheticSpec spec;
    spec.input_tokens = parse_length_dist("uniform:24-40", "input");
    spec.output_tokens = LengthDist::fixed_at(12);
    spec.n_requests = 12;
    spec.corpus_text = [] {
        std::ifstream in(default_corpus_path());
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }();
    std::vector<RequestShape> shapes = synthetic_requests(spec, tokenizer);
    for (const auto & s : shapes) {
        EXPECT_GE(s.expected_prompt_tokens, 24);
        EXPECT_LE(s.expected_prompt_tokens, 40);
    }

    LevelResult c1 = run_level(closed(1, 6), endpoint_of(server), shapes, {nullptr, nullptr, server.liveness()});
    expect_sound(c1, 12);
    EXPECT_EQ(c1.token_check.prompt_length_mismatches, 0) << "prompts tokenize to the length they were built for";
    for (size_t i = 0; i < c1.requests.size(); ++i) {
        EXPECT_EQ(c1.requests[i].prompt_tokens, shapes[i].expected_prompt_tokens);
    }

    LevelResult c4 = run_level(closed(4, 12), endpoint_of(server), shapes, {nullptr, nullptr, server.liveness()});
    expect_sound(c4, 12);
    EXPECT_EQ(c4.token_check.prompt_length_mismatches, 0);
    ASSERT_TRUE(c4.steady_energy) << c4.steady_note;
    EXPECT_LT(c4.steady_energy->t_begin_s, c4.steady_energy->t_end_s);
    EXPECT_GT(c4.steady_energy->output_tokens, 0.0);
    EXPECT_EQ(c4.ttft.n, 12);
    EXPECT_LE(c4.ttft.p50_ms, c4.ttft.p99_ms);
    EXPECT_LE(c4.ttft.p99_ms, c4.ttft.max_ms);

    // Chat completions: the opening role-only delta is not a token.
    Endpoint chat = endpoint_of(server);
    chat.api = Endpoint::Api::chat;
    LevelResult c2 = run_level(closed(2, 2), chat, shapes, {nullptr, nullptr, server.liveness()});
    expect_sound(c2, 12);
    for (const auto & q : c2.requests) EXPECT_EQ(q.chunks, 12) << "one chunk per token of plain ASCII text";
}

TEST(LlamaServer, open_loop_level_with_task_prompts) {
    require_server_binary();
    jb::test::TempDir dir;
    ServerProcess server(make_launch(options(dir)));
    TaskPromptSpec tp = task_prompt_preset("short", std::string(JB_SOURCE_DIR) + "/data/samples", 8);
    tp.limit = 8;
    std::vector<RequestShape> shapes = task_requests(tp);
    LoadSpec spec;
    spec.mode = LoadMode::open;
    spec.rate_rps = 40;
    spec.max_in_flight = 4;
    spec.max_requests = 10;
    spec.seed = 3;
    spec.request_timeout_s = 20;
    LevelResult r = run_level(spec, endpoint_of(server), shapes, {nullptr, nullptr, server.liveness()});
    expect_sound(r, 8);
    // Prompt tokens the server processed plus those it reused from its cache = the prompts sent
    // (the 9th and 10th requests repeat the first two of 8 prompts).
    EXPECT_EQ(r.token_check.metrics_prompt_tokens + r.token_check.metrics_cached_tokens,
              static_cast<double>(r.token_check.usage_prompt_tokens));
}

TEST(LlamaServer, killing_the_server_mid_level_fails_the_level_and_leaves_no_orphan) {
    require_server_binary();
    jb::test::TempDir dir;
    pid_t pid = -1;
    LevelResult r;
    const double t0 = now_s();
    {
        ServerProcess server(make_launch(options(dir)));
        pid = server.pid();
        class Killer : public LevelObserver {
        public:
            explicit Killer(pid_t pid) : pid_(pid) {}
            void on_progress(const Progress & p) override {
                if (!killed_ && p.chunks >= 40 && p.in_flight > 0) {
                    ::kill(pid_, SIGKILL);
                    killed_ = true;
                }
            }
            bool killed_ = false;

        private:
            pid_t pid_;
        } killer(pid);
        std::vector<RequestShape> shapes(1);
        shapes[0].prompt = "Once upon a time, there was a little girl who";
        shapes[0].max_tokens = 64;
        LoadSpec spec = closed(4, 400);
        spec.progress_interval_s = 0.02;
        r = run_level(spec, endpoint_of(server), shapes, {nullptr, &killer, server.liveness()});
        EXPECT_TRUE(killer.killed_);
        EXPECT_TRUE(server.exit_reason());
    }
    EXPECT_LT(now_s() - t0, 20.0);
    EXPECT_EQ(r.status, LevelStatus::failed) << r.to_json().dump(1);
    EXPECT_NE(r.reason.find("killed by signal 9"), std::string::npos) << r.reason;
    EXPECT_EQ(r.sent, r.completed + r.failed + r.timed_out);
    EXPECT_GE(r.failed, 1);
    EXPECT_GT(r.not_sent, 0);
    EXPECT_FALSE(r.token_check.checked);
    // Nothing of the server's process group is left.
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
        gone = ::kill(-pid, 0) < 0 && errno == ESRCH;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(gone);
}

TEST(LlamaServer, a_model_that_does_not_load_fails_with_the_servers_own_words) {
    require_server_binary();
    jb::test::TempDir dir;
    ServerOptions o = options(dir);
    o.model = dir.write("broken.gguf", "this is not a GGUF file, just text\n");
    const double t0 = now_s();
    try {
        ServerProcess server(make_launch(o));
        FAIL() << "a broken model was served";
    } catch (const jb::RuntimeFailure & e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("during startup"), std::string::npos) << what;
        EXPECT_NE(what.find("last lines:"), std::string::npos) << what;
        EXPECT_NE(what.find("gguf"), std::string::npos) << what;
    }
    EXPECT_LT(now_s() - t0, 20.0);
}

TEST(LlamaServer, a_second_server_on_a_busy_port_is_refused_before_it_starts) {
    require_server_binary();
    jb::test::TempDir dir;
    ServerProcess first(make_launch(options(dir)));
    ServerOptions o = options(dir);
    o.port = first.port();
    o.log_path = dir.file("second.log");
    try {
        ServerProcess second(make_launch(o));
        FAIL() << "two servers on one port";
    } catch (const jb::RuntimeFailure & e) {
        EXPECT_NE(std::string(e.what()).find("already in use"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(first.exit_reason());
}
