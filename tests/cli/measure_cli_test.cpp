// joulebench measure / sensors, run as a child process the way a user runs them.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

extern char ** environ;

namespace fs = std::filesystem;

namespace {

struct ChildRun {
    int status = -1;  // exit status (or 128 + signal)
    std::string out;
    std::string err;
};

std::string slurp(const fs::path & p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string & tag = "data") {
        path =
            fs::temp_directory_path() / ("jb-measure-cli-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" + tag);
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

// Runs JB_BINARY with args; env entries ("NAME=value") are added to the environment. The
// sensors are pinned (no NVML, no powercap unless given) so results do not depend on the host.
ChildRun joulebench(const std::vector<std::string> & args, std::vector<std::string> env = {}) {
    TempDir dir("io");
    std::string out_path = (dir.path / "stdout").string();
    std::string err_path = (dir.path / "stderr").string();

    std::vector<std::string> argv_s = {JB_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto & a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);

    auto has = [&](const std::string & name) {
        for (const auto & e : env) {
            if (e.rfind(name + "=", 0) == 0) return true;
        }
        return false;
    };
    if (!has("JOULEBENCH_NVML_LIBRARY")) env.push_back("JOULEBENCH_NVML_LIBRARY=libnvidia-ml-absent-in-tests.so.1");
    if (!has("JOULEBENCH_POWERCAP_ROOT")) env.push_back("JOULEBENCH_POWERCAP_ROOT=/nonexistent-powercap");
    std::vector<std::string> env_s;
    for (char ** e = environ; *e; ++e) {
        std::string entry = *e;
        if (entry.rfind("JOULEBENCH_", 0) != 0) env_s.push_back(entry);
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char *> envp;
    for (auto & e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    ChildRun r;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        r.err = "cannot spawn " + argv_s[0];
        return r;
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    return r;
}

// The one "joulebench: error: ..." line of stderr.
std::string error_line(const std::string & err) {
    std::istringstream in(err);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("joulebench: error: ", 0) == 0) return line;
    }
    return "";
}

const nlohmann::json * row(const nlohmann::json & doc, const std::string & domain) {
    for (const auto & r : doc["rows"]) {
        if (r["domain"] == domain) return &r;
    }
    return nullptr;
}

}  // namespace

TEST(MeasureCli, exits_with_the_commands_status) {
    EXPECT_EQ(joulebench({"measure", "--", "true"}).status, 0);
    EXPECT_EQ(joulebench({"measure", "--", "false"}).status, 1);
    EXPECT_EQ(joulebench({"measure", "--", "sh", "-c", "exit 3"}).status, 3);
}

TEST(MeasureCli, command_killed_by_signal_exits_128_plus_signal) {
    ChildRun r = joulebench({"measure", "--", "sh", "-c", "kill -TERM $$"});
    EXPECT_EQ(r.status, 128 + 15);
    EXPECT_NE(r.err.find("killed by signal 15"), std::string::npos) << r.err;
}

TEST(MeasureCli, command_that_cannot_run_exits_127) {
    ChildRun r = joulebench({"measure", "--", "/nonexistent/joulebench-no-such-command"});
    EXPECT_EQ(r.status, 127);
    EXPECT_EQ(error_line(r.err),
              "joulebench: error: cannot execute '/nonexistent/joulebench-no-such-command': command not found");
    EXPECT_EQ(r.out, "");
}

TEST(MeasureCli, zero_interval_is_a_usage_error) {
    ChildRun r = joulebench({"measure", "--interval-ms", "0", "--", "true"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err), "joulebench: error: --interval-ms must be > 0 (got 0)");
}

TEST(MeasureCli, negative_idle_is_a_usage_error) {
    ChildRun r = joulebench({"measure", "--idle-s", "-1", "--", "true"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err), "joulebench: error: --idle-s must be >= 0 seconds (got -1)");
}

TEST(MeasureCli, missing_command_is_a_usage_error) {
    ChildRun r = joulebench({"measure"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err),
              "joulebench: error: no command to measure: joulebench measure [options] -- <command> [args]");
}

TEST(MeasureCli, unknown_output_format_is_a_usage_error) {
    ChildRun r = joulebench({"measure", "-o", "xml", "--", "true"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err), "joulebench: error: unknown output format 'xml' (expected table, md, csv or json)");
}

TEST(MeasureCli, non_numeric_option_fails) {
    ChildRun r = joulebench({"measure", "--idle-s", "soon", "--", "true"});
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.out, "");
}

TEST(MeasureCli, json_labels_the_cpu_estimate) {
    ChildRun r = joulebench({"measure", "-o", "json", "--", "true"});
    ASSERT_EQ(r.status, 0) << r.err;
    nlohmann::json doc = nlohmann::json::parse(r.out);
    const nlohmann::json * cpu = row(doc, "cpu-package:0");
    ASSERT_NE(cpu, nullptr) << r.out;
    EXPECT_EQ((*cpu)["method"], "estimate");
    EXPECT_EQ((*cpu)["basis"], "estimated");
    EXPECT_EQ(row(doc, "total"), nullptr);  // nothing measured: no measured total
    ASSERT_NE(row(doc, "total (estimated)"), nullptr);
    EXPECT_EQ(doc["context"]["exit_status"], 0);
    EXPECT_EQ(doc["context"]["command"], nlohmann::json::array({"true"}));
}

TEST(MeasureCli, meters_a_rapl_counter_from_a_fake_tree) {
    TempDir dir;
    fs::path zone = dir.path / "intel-rapl:0";
    fs::create_directories(zone);
    std::ofstream(zone / "name") << "package-0\n";
    std::ofstream(zone / "energy_uj") << "1000000\n";
    std::ofstream(zone / "max_energy_range_uj") << "262143328850\n";
    // The command itself moves the counter by 2.5 J.
    std::string cmd = "echo 3500000 > '" + (zone / "energy_uj").string() + "'";
    ChildRun r = joulebench({"measure", "-o", "json", "--idle-s", "0.05", "--", "sh", "-c", cmd},
                            {"JOULEBENCH_POWERCAP_ROOT=" + dir.path.string()});
    ASSERT_EQ(r.status, 0) << r.err;
    nlohmann::json doc = nlohmann::json::parse(r.out);
    const nlohmann::json * cpu = row(doc, "cpu-package:0");
    ASSERT_NE(cpu, nullptr) << r.out;
    EXPECT_EQ((*cpu)["method"], "counter");
    EXPECT_EQ((*cpu)["basis"], "measured");
    EXPECT_DOUBLE_EQ((*cpu)["gross_j"].get<double>(), 2.5);
    EXPECT_DOUBLE_EQ((*cpu)["counter_j"].get<double>(), 2.5);
    EXPECT_DOUBLE_EQ((*cpu)["idle_w"].get<double>(), 0.0);  // the counter did not move while idle
    EXPECT_DOUBLE_EQ((*cpu)["net_j"].get<double>(), 2.5);
    EXPECT_TRUE((*cpu)["samples_j"].is_null());
    EXPECT_DOUBLE_EQ((*row(doc, "total"))["gross_j"].get<double>(), 2.5);
    EXPECT_EQ(row(doc, "total (estimated)"), nullptr);  // a CPU counter exists: no estimate
}

TEST(MeasureCli, sensors_lists_what_is_unavailable_and_why) {
    ChildRun r = joulebench({"sensors", "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    nlohmann::json doc = nlohmann::json::parse(r.out);
    const nlohmann::json * gpu = row(doc, "gpu (NVML)");
    ASSERT_NE(gpu, nullptr) << r.out;
    EXPECT_EQ((*gpu)["status"], "unavailable");
    EXPECT_EQ((*gpu)["detail"].get<std::string>().rfind("libnvidia-ml-absent-in-tests.so.1 not found", 0), 0u);
    const nlohmann::json * cpu = row(doc, "cpu-package:0");
    ASSERT_NE(cpu, nullptr);
    EXPECT_EQ((*cpu)["method"], "estimate");
}
