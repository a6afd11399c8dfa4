// One sweep per database, and no silent double metering: real joulebench processes started at
// the same time on one database (the second stops, naming the first, or waits with --wait; a dead
// holder does not block) and on two databases that meter the same devices (both warn, and the
// overlapping cells are marked shared_meter).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_joulebench.hpp"
#include "joulebench/store.hpp"

namespace fs = std::filesystem;
using namespace jb_test;
using jb::test::TempDir;

namespace {

const std::string kModel = JB_TEST_MODEL;

// A joulebench started in the background with stderr to a file, killed if still running when the
// test ends.
class Background {
public:
    Background(const std::vector<std::string> & args, const fs::path & err, const fs::path & claims) : err_(err) {
        std::vector<std::string> argv_s = {JB_BINARY};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        pid_ = fork();
        if (pid_ == 0) {
            FILE * e = freopen(err.c_str(), "w", stderr);
            FILE * o = freopen("/dev/null", "w", stdout);
            (void)e;
            (void)o;
            setenv("JOULEBENCH_NVML_LIBRARY", "libnvidia-ml-absent-in-tests.so.1", 1);
            setenv("JOULEBENCH_POWERCAP_ROOT", "/nonexistent-powercap", 1);
            setenv("JOULEBENCH_CLAIM_DIR", claims.c_str(), 1);
            std::vector<char *> argv;
            for (auto & a : argv_s) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
    }
    ~Background() {
        if (pid_ > 0 && !done_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    std::string err() const { return slurp(err_); }

    // Waits (at most 120 s) until stderr shows `marker`; false if the process ended first.
    bool wait_for(const std::string & marker) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (std::chrono::steady_clock::now() < deadline) {
            if (err().find(marker) != std::string::npos) return true;
            int st = 0;
            if (!done_ && waitpid(pid_, &st, WNOHANG) == pid_) {
                done_ = true;
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                return err().find(marker) != std::string::npos;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    int finish() {
        if (!done_) {
            int st = 0;
            waitpid(pid_, &st, 0);
            done_ = true;
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        return status_;
    }
    void kill_now() {
        kill(pid_, SIGKILL);
        finish();
    }

private:
    fs::path err_;
    pid_t pid_ = -1;
    bool done_ = false;
    int status_ = -1;
};

// A sweep of several cells that each take a moment on the CPU: decode repeated in one window.
std::vector<std::string> long_sweep(const std::string & db, const std::string & cache, int repeat = 6) {
    return {"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", "tg128r12", "--repeat", std::to_string(repeat), "--db", db,
            "--cache-dir", cache, "--idle-s", "0", "--idle-check-s", "0", "-t", "1", "--no-progress"};
}

std::vector<std::string> short_sweep(const std::string & db, const std::string & cache) {
    return {"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", "tg64r4", "--db", db, "--cache-dir", cache,
            "--idle-s", "0", "--idle-check-s", "0", "-t", "1", "--no-progress"};
}

std::vector<nlohmann::json> energies(const std::string & db) {
    std::vector<nlohmann::json> out;
    for (const auto & c : jb::Store::open_readonly(db).list_cells()) out.push_back(nlohmann::json::parse(c.energy_json));
    return out;
}

}  // namespace

TEST(SweepLock, second_sweep_on_the_same_database_stops_naming_the_first_and_a_dead_one_does_not_block) {
    TempDir dir;
    const std::string db = dir.file("results.db"), cache = dir.file("cache");
    Background first(long_sweep(db, cache), dir.path() / "first.err", dir.path() / "claims");
    ASSERT_TRUE(first.wait_for("[1/6]")) << first.err();

    const ChildRun second = joulebench(short_sweep(db, cache));
    EXPECT_EQ(second.status, 1) << second.err;
    const std::string line = error_line(second.err);
    EXPECT_NE(line.find(db + " is in use by pid " + std::to_string(first.pid()) + " on "), std::string::npos) << line;
    EXPECT_NE(line.find(" since 20"), std::string::npos) << line;
    EXPECT_NE(line.find("--wait"), std::string::npos) << line;

    // The holder dies without a word: its lock goes with it, and the same command now runs.
    first.kill_now();
    const ChildRun third = joulebench(short_sweep(db, cache));
    EXPECT_EQ(third.status, 0) << third.err;
    EXPECT_EQ(jb::Store::open_readonly(db).list_cells(jb::CellFilter{.tasks = {"tg64r4"}}).size(), 1u);
}

TEST(SweepLock, with_wait_the_second_sweep_runs_after_the_first) {
    TempDir dir;
    const std::string db = dir.file("results.db"), cache = dir.file("cache");
    Background first(long_sweep(db, cache, 3), dir.path() / "first.err", dir.path() / "claims");
    ASSERT_TRUE(first.wait_for("[1/3]")) << first.err();
    auto args = short_sweep(db, cache);
    args.push_back("--wait");
    const ChildRun second = joulebench(args);
    EXPECT_EQ(second.status, 0) << second.err;
    EXPECT_NE(second.err.find(db + " is in use by pid " + std::to_string(first.pid())), std::string::npos) << second.err;
    EXPECT_NE(second.err.find("waiting for it"), std::string::npos) << second.err;
    // It ran only once the first had finished: the first's three cells are all there, then its one.
    EXPECT_EQ(first.finish(), 0) << first.err();
    const auto cells = jb::Store::open_readonly(db).list_cells();
    ASSERT_EQ(cells.size(), 4u);
    EXPECT_EQ(cells.back().task, "tg64r4");
    EXPECT_GE(cells.back().started_at, cells[2].finished_at);
}

TEST(SweepLock, two_databases_on_the_same_devices_warn_in_both_and_mark_the_overlapping_cells) {
    TempDir dir;
    const std::string a = dir.file("a.db"), b = dir.file("b.db"), cache = dir.file("cache");
    Background first(long_sweep(a, cache), dir.path() / "a.err", dir.path() / "claims");
    ASSERT_TRUE(first.wait_for("[1/6]")) << first.err();
    Background second(short_sweep(b, cache), dir.path() / "b.err", dir.path() / "claims");
    EXPECT_EQ(second.finish(), 0) << second.err();
    EXPECT_EQ(first.finish(), 0) << first.err();

    // The second saw the first at its start and in its cell.
    EXPECT_NE(second.err().find("another joulebench run meters the same devices: pid " + std::to_string(first.pid())),
              std::string::npos)
        << second.err();
    const auto eb = energies(b);
    ASSERT_EQ(eb.size(), 1u);
    ASSERT_TRUE(eb[0].contains("shared_meter")) << eb[0].dump();
    EXPECT_EQ(eb[0]["shared_meter"][0]["pid"], first.pid());
    EXPECT_EQ(eb[0]["shared_meter"][0]["what"], "sweep " + a);

    // The first saw the second in the cells that overlapped it, and only there.
    EXPECT_NE(first.err().find("another joulebench run metered the same devices during the cell: pid " +
                               std::to_string(second.pid())),
              std::string::npos)
        << first.err();
    size_t marked = 0;
    for (const auto & e : energies(a)) marked += e.contains("shared_meter") ? 1 : 0;
    EXPECT_GE(marked, 1u);
    EXPECT_LT(marked, 6u) << "the first's last cells ran after the second had ended";
}
