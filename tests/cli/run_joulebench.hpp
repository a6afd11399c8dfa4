#pragma once
// Runs the built joulebench binary (or another program) as a child process, the way a user runs
// it, and captures its exit status, stdout and stderr. Shared by the CLI and parity tests.

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

#include "support/temp_dir.hpp"

extern char ** environ;

namespace jb_test {

namespace fs = std::filesystem;

struct ChildRun {
    int status = -1;  // exit status (or 128 + signal)
    std::string out;
    std::string err;
};

inline std::string slurp(const fs::path & p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs a program (argv[0] is its path) with exactly the environment envp, capturing its exit
// status, stdout and stderr.
inline ChildRun run_program(std::vector<std::string> argv_s, std::vector<std::string> env_s) {
    const jb::test::TempDir dir;
    const std::string out_path = dir.file("stdout");
    const std::string err_path = dir.file("stderr");
    std::vector<char *> argv;
    for (auto & a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
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

// This process's environment as NAME=value entries.
inline std::vector<std::string> current_environment() {
    std::vector<std::string> env_s;
    for (char ** e = environ; *e; ++e) env_s.emplace_back(*e);
    return env_s;
}

// Runs JB_BINARY with args; env entries ("NAME=value") are added to the environment. The
// sensors are pinned (no NVML, no powercap unless given) so results do not depend on the host.
inline ChildRun joulebench(const std::vector<std::string> & args, std::vector<std::string> env = {}) {
    const jb::test::TempDir dir;
    std::vector<std::string> argv_s = {JB_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());

    auto has = [&](const std::string & name) {
        for (const auto & e : env) {
            if (e.rfind(name + "=", 0) == 0) return true;
        }
        return false;
    };
    if (!has("JOULEBENCH_NVML_LIBRARY")) env.push_back("JOULEBENCH_NVML_LIBRARY=libnvidia-ml-absent-in-tests.so.1");
    if (!has("JOULEBENCH_POWERCAP_ROOT")) env.push_back("JOULEBENCH_POWERCAP_ROOT=/nonexistent-powercap");
    // Each run registers the devices it meters (energy/device_claim.hpp): tests running at once
    // must not see each other as sharing the machine, except where a test shares a directory.
    if (!has("JOULEBENCH_CLAIM_DIR")) env.push_back("JOULEBENCH_CLAIM_DIR=" + dir.file("claims"));
    std::vector<std::string> env_s;
    for (auto & entry : current_environment()) {
        if (entry.rfind("JOULEBENCH_", 0) != 0) env_s.push_back(std::move(entry));
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    return run_program(std::move(argv_s), std::move(env_s));
}

// The one "joulebench: error: ..." line of stderr.
inline std::string error_line(const std::string & err) {
    std::istringstream in(err);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("joulebench: error: ", 0) == 0) return line;
    }
    return "";
}

}  // namespace jb_test
