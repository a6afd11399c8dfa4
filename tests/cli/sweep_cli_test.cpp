// joulebench sweep as a user runs it: cells committed as they finish, a killed sweep resumed
// to exactly the rows of an uninterrupted one, Ctrl-C keeping what was done, bad databases.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_joulebench.hpp"
#include "joulebench/store.hpp"
#include "util/strings.hpp"

namespace fs = std::filesystem;
using namespace jb_test;
using jb::test::TempDir;

namespace {

const std::string kModel = JB_TEST_MODEL;
const std::string kSamples = std::string(JB_SOURCE_DIR) + "/data/samples";

// Two schemes x two tasks; GSM8K cells generate for a few seconds, long enough to be killed in.
std::vector<std::string> sweep_args(const std::string & db, const std::string & cache) {
    return {"sweep", "-m", kModel, "--schemes", "fp16,int8", "--tasks", "arc_easy,gsm8k", "--data-dir", kSamples,
            "--limit", "3", "--max-tokens", "48", "--db", db, "--cache-dir", cache, "--idle-s", "0",
            "--idle-check-s", "0", "-t", "2", "--no-progress"};
}

// What must be identical between two sweeps of the same workload (energy and times differ).
struct CellFacts {
    std::string scheme, task, status, scores;
    int64_t repeat, n_items;
    std::vector<std::string> items;
    bool operator==(const CellFacts &) const = default;
};

std::vector<CellFacts> facts(const std::string & db) {
    auto store = jb::Store::open_readonly(db);
    std::vector<CellFacts> out;
    for (const auto & c : store.list_cells()) {
        CellFacts f{c.scheme_canonical, c.task, c.status, c.scores_json, c.repeat_idx, c.n_items, {}};
        for (const auto & it : store.cell_items(c.id)) f.items.push_back(it.result_json);
        out.push_back(std::move(f));
    }
    std::sort(out.begin(), out.end(), [](const auto & a, const auto & b) {
        return std::tie(a.scheme, a.task, a.repeat) < std::tie(b.scheme, b.task, b.repeat);
    });
    return out;
}

// Starts the sweep in the background and kills it with `sig` once `marker` shows on stderr
// (plus `after`), then waits for it. Returns the exit status (128 + signal if killed). With
// `again`, the signal is sent a second time that long after the first.
int run_and_signal(const std::vector<std::string> & args, const fs::path & err_path, const std::string & marker,
                   int sig, std::chrono::milliseconds after,
                   std::optional<std::chrono::milliseconds> again = std::nullopt) {
    std::vector<std::string> argv_s = {JB_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_t pid = fork();
    if (pid == 0) {
        FILE * err = freopen(err_path.c_str(), "w", stderr);
        FILE * out = freopen("/dev/null", "w", stdout);
        (void)err;
        (void)out;
        setenv("JOULEBENCH_NVML_LIBRARY", "libnvidia-ml-absent-in-tests.so.1", 1);
        setenv("JOULEBENCH_POWERCAP_ROOT", "/nonexistent-powercap", 1);
        setenv("JOULEBENCH_CLAIM_DIR", (err_path.parent_path() / "claims").c_str(), 1);
        std::vector<char *> argv;
        for (auto & a : argv_s) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
        if (slurp(err_path).find(marker) != std::string::npos) break;
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(after);
    kill(pid, sig);
    if (again) {
        std::this_thread::sleep_for(*again);
        kill(pid, sig);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

class SweepCli : public ::testing::Test {
protected:
    TempDir dir;
    std::string cache() const { return dir.file("cache"); }
    std::string db(const std::string & name) const { return dir.file(name); }
};

}  // namespace

TEST_F(SweepCli, killed_mid_cell_then_resumed_gives_the_rows_of_an_uninterrupted_sweep) {
    auto whole = joulebench(sweep_args(db("whole.db"), cache()));
    ASSERT_EQ(whole.status, 0) << whole.err;
    const auto expected = facts(db("whole.db"));
    ASSERT_EQ(expected.size(), 4u);
    for (const auto & f : expected) EXPECT_EQ(f.status, "ok");

    // SIGKILL while the second cell (fp16 gsm8k, several seconds of generation) runs.
    const fs::path err = dir.path() / "killed.err";
    int status = run_and_signal(sweep_args(db("resumed.db"), cache()), err, "[2/4]", SIGKILL,
                                std::chrono::milliseconds(700));
    ASSERT_EQ(status, 128 + SIGKILL) << slurp(err);
    const auto partial = facts(db("resumed.db"));
    ASSERT_EQ(partial.size(), 1u) << "only the first cell had finished";

    auto rerun = joulebench(sweep_args(db("resumed.db"), cache()));
    ASSERT_EQ(rerun.status, 0) << rerun.err;
    EXPECT_NE(rerun.err.find("3 cells measured, 0 failed, 1 already in"), std::string::npos) << rerun.err;
    EXPECT_EQ(facts(db("resumed.db")), expected);
    EXPECT_EQ(jb::Store::open_readonly(db("resumed.db")).integrity_check(), "ok");

    // A third run has nothing left to do.
    auto again = joulebench(sweep_args(db("resumed.db"), cache()));
    ASSERT_EQ(again.status, 0);
    EXPECT_NE(again.err.find("0 cells measured, 0 failed, 4 already in"), std::string::npos) << again.err;
}

TEST_F(SweepCli, ctrl_c_keeps_finished_cells_and_says_so) {
    const fs::path err = dir.path() / "int.err";
    int status = run_and_signal(sweep_args(db("int.db"), cache()), err, "[2/4]", SIGINT, std::chrono::milliseconds(200));
    EXPECT_EQ(status, 128 + SIGINT) << slurp(err);
    const std::string text = slurp(err);
    EXPECT_NE(text.find("stopped by signal 2"), std::string::npos) << text;
    EXPECT_NE(text.find("run the same command again to resume"), std::string::npos) << text;
    // Said the moment the signal came, before the cell in progress ended.
    const size_t said = text.find("joulebench: stopping after the step in progress");
    EXPECT_NE(said, std::string::npos) << text;
    EXPECT_LT(said, text.find("stopped by signal 2")) << text;
    // The running cell finished before the sweep stopped: two cells kept, both complete.
    const auto kept = facts(db("int.db"));
    ASSERT_EQ(kept.size(), 2u);
    for (const auto & f : kept) EXPECT_EQ(f.status, "ok");
}

TEST_F(SweepCli, one_stop_request_delivered_twice_still_stops_cleanly_but_a_later_second_one_kills) {
    // timeout(1) signals the command, then its process group: the same SIGINT twice, moments apart
    // (50 ms here, so that the first has surely been handled and the two do not merge into one).
    const fs::path err = dir.path() / "twice.err";
    int status = run_and_signal(sweep_args(db("twice.db"), cache()), err, "[2/4]", SIGINT,
                                std::chrono::milliseconds(200), std::chrono::milliseconds(50));
    EXPECT_EQ(status, 128 + SIGINT) << slurp(err);
    EXPECT_NE(slurp(err).find("stopped by signal 2"), std::string::npos) << slurp(err);
    EXPECT_EQ(facts(db("twice.db")).size(), 2u);

    // A user pressing Ctrl-C again a while later means it: the sweep dies during the running cell
    // (fp16 gsm8k, seconds of generation), without its stop message, the finished cell kept.
    const fs::path err2 = dir.path() / "insist.err";
    status = run_and_signal(sweep_args(db("insist.db"), cache()), err2, "[2/4]", SIGINT,
                            std::chrono::milliseconds(200), std::chrono::milliseconds(1200));
    EXPECT_EQ(status, 128 + SIGINT) << slurp(err2);
    EXPECT_EQ(slurp(err2).find("stopped by signal"), std::string::npos) << slurp(err2);
    EXPECT_EQ(facts(db("insist.db")).size(), 1u);
}

TEST_F(SweepCli, corrupt_database_is_refused_and_left_alone) {
    const std::string bad = db("bad.db");
    std::ofstream(bad) << "this is not a database, and it holds someone's notes\n";
    const std::string before = slurp(bad);
    auto r = joulebench(sweep_args(bad, cache()));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(error_line(r.err).find(bad), std::string::npos) << r.err;
    EXPECT_EQ(slurp(bad), before);
}

TEST_F(SweepCli, unknown_scheme_is_refused_before_any_work) {
    auto args = sweep_args(db("x.db"), cache());
    args[4] = "fp16,int7";
    auto r = joulebench(args);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("int7"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(db("x.db")));
}

TEST_F(SweepCli, synthetic_workloads_do_fixed_work_per_cell) {
    auto r = joulebench({"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", "tg8r3,tg4x2,pp32r2", "--db",
                         db("bench.db"), "--cache-dir", cache(), "--idle-s", "0", "--idle-check-s", "0", "-t", "2",
                         "--no-progress"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto store = jb::Store::open_readonly(db("bench.db"));
    std::map<std::string, std::pair<int64_t, int64_t>> tokens;  // task -> (prefill, decode)
    for (const auto & c : store.list_cells()) tokens[c.task] = {c.prefill_tokens, c.decode_tokens};
    EXPECT_EQ(tokens["tg8r3"], std::make_pair(int64_t(0), int64_t(8 * 3)));
    EXPECT_EQ(tokens["tg4x2"], std::make_pair(int64_t(0), int64_t(4 * 2 * 5)));  // 5 repetitions by default
    EXPECT_EQ(tokens["pp32r2"], std::make_pair(int64_t(32 * 2), int64_t(0)));
    // The run keeps the command as typed, options and all (it once kept "joulebench sweep" alone).
    const auto runs = store.list_runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].command_line,
              fmt::format("joulebench sweep -m {} --schemes fp16 --tasks tg8r3,tg4x2,pp32r2 --db {} --cache-dir {} "
                          "--idle-s 0 --idle-check-s 0 -t 2 --no-progress",
                          jb::shell_quote(kModel), jb::shell_quote(db("bench.db")), jb::shell_quote(cache())));
    auto bad = joulebench({"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", "tg8r0", "--db", db("x.db")});
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(error_line(bad.err).find("tg8r0"), std::string::npos) << bad.err;
}

TEST_F(SweepCli, gpus_that_do_not_exist_are_refused_before_any_work) {
    auto args = sweep_args(db("gpu.db"), cache());
    args.insert(args.end(), {"--gpus", "0,1", "--sm", "row"});
    auto r = joulebench(args);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("--gpus: GPU 0 does not exist"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(db("gpu.db")));
}

// Tensor parallelism needs GPUs: on a build without any the sweep stops before creating the
// database, naming the option; a split mode llama.cpp does not know is refused with the list.
TEST_F(SweepCli, split_modes_the_build_cannot_run_are_refused_before_any_work) {
    auto tensor = sweep_args(db("tensor.db"), cache());
    tensor.insert(tensor.end(), {"--sm", "tensor"});
    auto r = joulebench(tensor);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(error_line(r.err).find("--split-mode tensor needs GPUs"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(db("tensor.db")));

    auto bogus = sweep_args(db("bogus.db"), cache());
    bogus.insert(bogus.end(), {"--sm", "column"});
    auto b = joulebench(bogus);
    EXPECT_EQ(b.status, 2);
    EXPECT_NE(error_line(b.err).find("'column' is not none, layer, row or tensor"), std::string::npos) << b.err;
    EXPECT_FALSE(fs::exists(db("bogus.db")));
}

TEST_F(SweepCli, another_placement_is_another_cell_and_is_recorded) {
    std::vector<std::string> base = {"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", "tg4r1", "--db",
                                     db("place.db"), "--cache-dir", cache(), "--idle-s", "0", "--idle-check-s", "0",
                                     "-t", "2", "--no-progress"};
    ASSERT_EQ(joulebench(base).status, 0);
    auto row = base;
    row.insert(row.end(), {"--sm", "row"});
    auto r = joulebench(row);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("1 cells measured, 0 failed, 0 already in"), std::string::npos) << r.err;
    auto store = jb::Store::open_readonly(db("place.db"));
    auto cells = store.list_cells();
    ASSERT_EQ(cells.size(), 2u);
    std::set<std::string> modes;
    for (const auto & c : cells) {
        modes.insert(nlohmann::json::parse(c.energy_json)["engine"]["split_mode"].get<std::string>());
    }
    EXPECT_EQ(modes, (std::set<std::string>{"layer", "row"}));

    // The report keeps them apart and says which is which.
    auto report = joulebench({"report", db("place.db"), "-o", "csv"});
    ASSERT_EQ(report.status, 0) << report.err;
    EXPECT_NE(report.out.find("tg4r1 [row split]"), std::string::npos) << report.out;
    EXPECT_NE(report.out.find(",tg4r1,"), std::string::npos) << report.out;
}

// stories260K's 8-wide heads cannot take a Q8_0 KV cache: the cell fails and says why (not
// llama.cpp's "could not create a context"), and the sweep goes on with the next scheme.
TEST_F(SweepCli, kv_cache_the_heads_cannot_take_fails_the_cell_with_the_reason) {
    auto r = joulebench({"sweep", "-m", kModel, "--schemes", "int8+kv8,fp16", "--tasks", "tg4r1", "--db",
                         db("kv.db"), "--cache-dir", cache(), "--idle-s", "0", "--idle-check-s", "0", "-t", "2",
                         "--no-progress"});
    EXPECT_NE(r.err.find("1 cells measured, 1 failed"), std::string::npos) << r.err;
    auto store = jb::Store::open_readonly(db("kv.db"));
    int n_failed = 0;
    for (const auto & c : store.list_cells()) {
        if (c.ok()) continue;
        ++n_failed;
        EXPECT_EQ(c.scheme_name, "int8+kv8");
        EXPECT_NE(c.error.find("multiples of 32"), std::string::npos) << c.error;
        EXPECT_NE(c.error.find("are 8"), std::string::npos) << c.error;
    }
    EXPECT_EQ(n_failed, 1);
}

// A sweep of single-sequence synthetic workloads runs its engine with one sequence (no unified
// KV pool: llama.cpp then checks each decode call against one sequence, not 256); one that also
// decodes 2 sequences side by side gets 2; a scored task keeps the default pool of 64.
// Each workload runs on an engine of the sequences it needs: one (without the unified KV pool,
// whose per-call check slows decode) for single-sequence workloads even beside batched ones or
// tasks, as many as the widest batched workload, --parallel (64) for tasks.
TEST_F(SweepCli, engine_takes_as_many_sequences_as_its_workloads_need) {
    auto engines_of = [&](const std::string & name, const std::string & tasks) {
        std::vector<std::string> args = {"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", tasks, "--data-dir",
                                         kSamples, "--limit", "2", "--db", db(name), "--cache-dir", cache(),
                                         "--idle-s", "0", "--idle-check-s", "0", "-t", "2", "--no-progress"};
        auto r = joulebench(args);
        EXPECT_EQ(r.status, 0) << r.err;
        std::map<std::string, std::pair<int, bool>> out;  // task -> (n_seq_max, kv_unified)
        for (const auto & c : jb::Store::open_readonly(db(name)).list_cells()) {
            const auto e = nlohmann::json::parse(c.energy_json)["engine"];
            out[c.task] = {e["n_seq_max"].get<int>(), e["kv_unified"].get<bool>()};
        }
        return out;
    };
    auto one = engines_of("one.db", "tg4r1,pp8r1");
    EXPECT_EQ(one["tg4r1"], std::make_pair(1, false));
    EXPECT_EQ(one["pp8r1"], std::make_pair(1, false));
    auto two = engines_of("two.db", "tg4x2r1,tg4r1");
    EXPECT_EQ(two["tg4r1"], std::make_pair(1, false));
    EXPECT_EQ(two["tg4x2r1"], std::make_pair(2, true));
    auto mixed = engines_of("mixed.db", "arc_easy,tg4r1");
    EXPECT_EQ(mixed["arc_easy"], std::make_pair(64, true));
    EXPECT_EQ(mixed["tg4r1"], std::make_pair(1, false));
}

// Issue 21, item 8: a sweep cell runs in joulebench's own process, so its CPU estimate is TDP per CPU
// (4 W by default) x the process tree's CPU time, and a cell beside other load says so. A child of
// this test spins beside the sweep: it is not joulebench's descendant, so it is not in the estimate,
// but it is in the machine's busy time, so every cell and the idle baseline are flagged.
TEST_F(SweepCli, cells_record_their_cpu_time_and_other_load) {
    const pid_t burner = fork();
    ASSERT_GE(burner, 0);
    if (burner == 0) {
        alarm(60);  // ends itself if the test dies first
        volatile unsigned long spin = 0;
        for (;;) spin = spin + 1;
    }
    auto r = joulebench({"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", "tg128r4,pp256r4", "--db",
                         db("load.db"), "--cache-dir", cache(), "--idle-s", "0.5", "--idle-check-s", "0", "-t", "1",
                         "--no-progress"});
    kill(burner, SIGKILL);
    waitpid(burner, nullptr, 0);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("the idle baseline ran beside other load"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("ran beside other load: other processes kept"), std::string::npos) << r.err;
    size_t cells = 0;
    for (const auto & c : jb::Store::open_readonly(db("load.db")).list_cells()) {
        ++cells;
        const auto e = nlohmann::json::parse(c.energy_json);
        ASSERT_TRUE(e.contains("cpu_load")) << c.energy_json;
        const auto & load = e["cpu_load"];
        EXPECT_EQ(load["scope"], "process tree");
        EXPECT_TRUE(load["busy"].get<bool>()) << load.dump();
        EXPECT_GE(load["other_cpus"].get<double>(), 0.5) << load.dump();
        EXPECT_TRUE(e["idle_cpu_load"]["busy"].get<bool>()) << e["idle_cpu_load"].dump();
        // The whole window's estimate (every domain is the estimate here) is 4 W x our CPU seconds;
        // the load window opens a moment before the meter and closes a moment after it.
        double estimate_j = 0.0;
        for (const auto & d : e["domains"]) estimate_j += d["gross_j"].get<double>();
        const double cpu_s = load["cpu_s"].get<double>();
        EXPECT_GT(cpu_s, 0.0);
        EXPECT_LE(estimate_j, 4.0 * cpu_s + 0.02) << load.dump();
        EXPECT_GE(estimate_j, 4.0 * cpu_s * 0.8 - 0.02) << load.dump();
    }
    EXPECT_EQ(cells, 2u);
}

// Idle power is measured just before the first work: a sweep whose cells are all in the store
// measures none (it would cost --idle-s seconds for nothing), and says nothing about it.
TEST_F(SweepCli, nothing_left_to_do_measures_no_idle) {
    std::vector<std::string> args = {"sweep", "-m", kModel, "--schemes", "fp16", "--tasks", "arc_easy", "--data-dir",
                                     kSamples, "--limit", "2", "--db", db("done.db"), "--cache-dir", cache(),
                                     "--idle-s", "0", "--idle-check-s", "0", "-t", "2", "--no-progress"};
    ASSERT_EQ(joulebench(args).status, 0);
    args[std::find(args.begin(), args.end(), "--idle-s") - args.begin() + 1] = "30";
    const auto t0 = std::chrono::steady_clock::now();
    const auto again = joulebench(args);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.err.find("0 cells measured, 0 failed, 1 already in"), std::string::npos) << again.err;
    EXPECT_EQ(again.err.find("measuring idle power"), std::string::npos) << again.err;
    EXPECT_LT(s, 15.0);  // 30 s of idle would have been measured before
}

// A model file that is not a GGUF, or is cut short, stops the sweep before the database, the
// sensors or idle power: one line naming the file and what is wrong with it.
TEST_F(SweepCli, foreign_or_truncated_model_is_refused_before_any_work) {
    const std::string foreign = dir.write("notes.gguf", "just some text, not a model\n");
    auto r = joulebench({"sweep", "-m", foreign, "--schemes", "fp16", "--tasks", "arc_easy", "--data-dir", kSamples,
                         "--db", db("f.db"), "--idle-s", "30", "--no-progress"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "joulebench: error: " + foreign + ": not a GGUF file (it does not start with the GGUF magic)\n");
    EXPECT_FALSE(fs::exists(db("f.db")));

    const std::string model = slurp(kModel);
    const std::string cut = dir.write("cut.gguf", model.substr(0, model.size() / 2));
    r = joulebench({"sweep", "-m", cut, "--schemes", "fp16", "--tasks", "arc_easy", "--data-dir", kSamples, "--db",
                    db("c.db"), "--idle-s", "30", "--no-progress"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "joulebench: error: " + cut + ": truncated: " + std::to_string(model.size() / 2) +
                         " bytes, but its tensors end at byte " + std::to_string(model.size()) + "\n");
    EXPECT_FALSE(fs::exists(db("c.db")));
}
