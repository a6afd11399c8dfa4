// Process groups and the server lifecycle with stand-in programs (/bin/sh, /bin/sleep): what
// must hold for llama-server too, tested without depending on it.

#include "serve/process.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "support/temp_dir.hpp"
#include "joulebench/error.hpp"

using namespace jb::serve;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// True once no process of group `pgid` is left (waits up to 2 s for the kernel to finish them).
bool group_gone(pid_t pgid) {
    for (int i = 0; i < 200; ++i) {
        if (::kill(-pgid, 0) < 0 && errno == ESRCH) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

// The pids written by the shell script, one per line.
std::vector<pid_t> read_pids(const std::string & path, size_t want) {
    std::vector<pid_t> pids;
    for (int i = 0; i < 300 && pids.size() < want; ++i) {
        pids.clear();
        std::ifstream in(path);
        pid_t p = 0;
        while (in >> p) pids.push_back(p);
        if (pids.size() < want) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pids;
}

}  // namespace

TEST(ProcessGroup, reports_how_the_program_ended_with_its_log) {
    jb::test::TempDir dir;
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", "echo first line; echo to stderr >&2; exit 3"};
    spec.log_path = dir.file("log.txt");
    ProcessGroup g(spec);
    std::optional<std::string> reason;
    for (int i = 0; i < 300 && !reason; ++i) {
        reason = g.exit_reason();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(reason);
    EXPECT_EQ(*reason, "exited with status 3");
    EXPECT_EQ(g.log_tail(5), "first line\nto stderr");
    EXPECT_EQ(g.log_tail(1), "to stderr");
}

TEST(ProcessGroup, says_why_a_program_cannot_run) {
    jb::test::TempDir dir;
    ProcessSpec spec;
    spec.argv = {dir.file("no-such-program")};
    spec.log_path = dir.file("log.txt");
    try {
        ProcessGroup g(spec);
        FAIL() << "started a program that does not exist";
    } catch (const jb::RuntimeFailure & e) {
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
    }
}

TEST(ProcessGroup, keeps_llama_arg_variables_out_of_the_child) {
    jb::test::TempDir dir;
    ::setenv("LLAMA_ARG_N_PARALLEL", "99", 1);
    ::setenv("JB_SERVE_TEST_KEEP", "kept", 1);
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", "echo \"[$LLAMA_ARG_N_PARALLEL][$JB_SERVE_TEST_KEEP]\""};
    spec.log_path = dir.file("log.txt");
    {
        ProcessGroup g(spec);
        while (!g.exit_reason()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        EXPECT_EQ(g.log_tail(1), "[][kept]");
    }
    ::unsetenv("LLAMA_ARG_N_PARALLEL");
    ::unsetenv("JB_SERVE_TEST_KEEP");
}

TEST(ProcessGroup, destructor_leaves_no_process_of_the_group_behind) {
    jb::test::TempDir dir;
    const std::string pids = dir.file("pids");
    ProcessSpec spec;
    // The leader starts two children in its group and waits for them.
    spec.argv = {"/bin/sh", "-c", "sleep 30 & echo $! >> " + pids + "; sleep 30 & echo $! >> " + pids + "; wait"};
    spec.log_path = dir.file("log.txt");
    pid_t pgid = -1;
    std::vector<pid_t> children;
    {
        ProcessGroup g(spec);
        pgid = g.pid();
        children = read_pids(pids, 2);
        ASSERT_EQ(children.size(), 2u);
        for (pid_t c : children) EXPECT_EQ(::getpgid(c), pgid) << "child " << c << " is in the group";
    }
    EXPECT_TRUE(group_gone(pgid));
    for (pid_t c : children) EXPECT_TRUE(::kill(c, 0) < 0 && errno == ESRCH) << "child " << c << " survived";
}

TEST(ProcessGroup, stop_kills_a_group_that_ignores_sigterm_after_the_grace_period) {
    jb::test::TempDir dir;
    ProcessSpec spec;
    // SIG_IGN is inherited across exec: the whole group ignores SIGTERM.
    spec.argv = {"/bin/sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30"};
    spec.log_path = dir.file("log.txt");
    ProcessGroup g(spec);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double t0 = now_s();
    g.stop(0.3);
    const double took = now_s() - t0;
    EXPECT_GE(took, 0.29);
    EXPECT_LT(took, 2.0);
    EXPECT_NE(g.exit_reason()->find("killed by signal 9"), std::string::npos) << *g.exit_reason();
    EXPECT_TRUE(group_gone(g.pid()));
}

TEST(ServerProcess, a_port_in_use_is_an_immediate_clear_error) {
    jb::test::TempDir dir;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    const int port = ntohs(a.sin_port);
    EXPECT_TRUE(port_in_use("127.0.0.1", port));

    ServerLaunch l;
    l.argv = {"/bin/sleep", "30"};
    l.port = port;
    l.log_path = dir.file("log.txt");
    l.startup_timeout_s = 5;
    const double t0 = now_s();
    try {
        ServerProcess s(l);
        FAIL() << "started on a port in use";
    } catch (const jb::RuntimeFailure & e) {
        EXPECT_NE(std::string(e.what()).find(fmt::format("port {} on 127.0.0.1 is already in use", port)),
                  std::string::npos)
            << e.what();
    }
    EXPECT_LT(now_s() - t0, 1.0);
    EXPECT_FALSE(std::ifstream(l.log_path).good()) << "nothing was started";
    ::close(fd);
    EXPECT_FALSE(port_in_use("127.0.0.1", port));
}

TEST(ServerProcess, a_server_that_dies_during_startup_fails_with_its_log) {
    jb::test::TempDir dir;
    ServerLaunch l;
    l.argv = {"/bin/sh", "-c", "echo 'llama_model_load: error loading model: not a GGUF file'; exit 1"};
    l.port = pick_free_port();
    l.log_path = dir.file("log.txt");
    l.startup_timeout_s = 10;
    try {
        ServerProcess s(l);
        FAIL() << "a dead server was accepted";
    } catch (const jb::RuntimeFailure & e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("exited with status 1 during startup"), std::string::npos) << what;
        EXPECT_NE(what.find("error loading model: not a GGUF file"), std::string::npos) << what;
    }
}

TEST(ServerProcess, a_server_that_never_gets_healthy_times_out_and_is_stopped) {
    jb::test::TempDir dir;
    ServerLaunch l;
    l.argv = {"/bin/sleep", "30"};
    l.port = pick_free_port();
    l.log_path = dir.file("log.txt");
    l.startup_timeout_s = 0.5;
    l.stop_grace_s = 1.0;
    const double t0 = now_s();
    try {
        ServerProcess s(l);
        FAIL() << "a server that never answered was accepted";
    } catch (const jb::RuntimeFailure & e) {
        EXPECT_NE(std::string(e.what()).find("did not report healthy on GET /health within 0.5 s"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("Connection refused"), std::string::npos) << e.what();
    }
    EXPECT_LT(now_s() - t0, 3.0);
}

TEST(ServerOptions, become_argv_and_settings) {
    jb::test::TempDir dir;
    const std::string bin = dir.write("llama-server", "#!/bin/sh\n");
    ::chmod(bin.c_str(), 0755);
    const std::string model = dir.write("m.gguf", "x");
    ServerOptions o;
    o.binary = bin;
    o.model = model;
    o.port = 18080;
    o.parallel = 4;
    o.ctx_size = 2048;
    o.flash_attn = "on";
    o.cache_type_k = "q8_0";
    o.n_gpu_layers = 99;
    o.threads = 2;
    o.extra_args = {"--no-cont-batching"};
    ServerLaunch l = make_launch(o);
    const std::vector<std::string> want = {
        bin,    "-m",   model, "--host", "127.0.0.1", "--port",    "18080",
        "-np",  "4",    "-c",  "2048",   "-fa",       "on",        "-ctk",
        "q8_0", "-ngl", "99",  "-t",     "2",         "--metrics", "--no-cont-batching"};
    EXPECT_EQ(l.argv, want);
    EXPECT_EQ(l.settings["parallel"], 4);
    EXPECT_EQ(l.settings["batch_size"], "default");
    EXPECT_EQ(l.settings["cache_type_k"], "q8_0");
    EXPECT_EQ(l.settings["cache_type_v"], "default");
    EXPECT_EQ(l.settings["n_gpu_layers"], 99);
    EXPECT_EQ(l.settings["argv"].size(), want.size());

    // No prompt cache: --cache-ram 0, where the binary lists it (this one has no --help) and the
    // extra arguments do not set it.
    o.prompt_cache = false;
    EXPECT_EQ(make_launch(o).argv, want) << "a binary without --cache-ram is not given it";
    EXPECT_EQ(make_launch(o).settings["prompt_cache"], "off");
    const std::string newer = dir.write("llama-server-new", "#!/bin/sh\necho '-cram,  --cache-ram N   set the maximum cache size'\n");
    ::chmod(newer.c_str(), 0755);
    o.binary = newer;
    std::vector<std::string> with_cache_ram = make_launch(o).argv;
    ASSERT_GE(with_cache_ram.size(), 2u);
    EXPECT_EQ(std::vector<std::string>(with_cache_ram.end() - 3, with_cache_ram.end()),
              (std::vector<std::string>{"--cache-ram", "0", "--no-cont-batching"}));
    o.extra_args = {"--cache-ram", "512"};
    with_cache_ram = make_launch(o).argv;
    EXPECT_EQ(std::count(with_cache_ram.begin(), with_cache_ram.end(), "--cache-ram"), 1) << "the user's wins";
    EXPECT_EQ(with_cache_ram.back(), "512");
    EXPECT_EQ(make_launch(o).settings["prompt_cache"], "extra_args");
    o.binary = bin;
    o.extra_args = {"--no-cont-batching"};
    o.prompt_cache = true;

    o.model = dir.file("missing.gguf");
    EXPECT_THROW(make_launch(o), jb::InputError);
    o.model = model;
    o.host = "10.1.2.3";
    EXPECT_THROW(make_launch(o), jb::UsageError);
}
