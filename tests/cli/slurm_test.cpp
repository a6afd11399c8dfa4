// joulebench sweep --slurm without a cluster: the grid, the sbatch script, reading what Slurm
// says, each cell's state, the manifest (src/cli/slurm.cpp, compiled into this test), and the
// commands against fake sbatch/scontrol/sacct programs put first on PATH. The real cluster is
// tests/slurm (label slurm).

#include "cluster/slurm.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "run_joulebench.hpp"
#include "joulebench/store.hpp"
#include "joulebench/error.hpp"

namespace fs = std::filesystem;
using namespace jb_test;
using jb::test::TempDir;
using namespace jb::cluster;

namespace {

const std::string kModel = JB_TEST_MODEL;
const std::string kSamples = std::string(JB_SOURCE_DIR) + "/data/samples";

}  // namespace

TEST(SlurmGrid, cells_follow_the_sweeps_order_model_then_scheme_then_task) {
    const auto cells = grid_cells({"a.gguf", "b.gguf"}, {"fp16", "int8"}, {"mmlu", "arc_easy", "gsm8k"});
    ASSERT_EQ(cells.size(), 12u);
    EXPECT_EQ(cells[0], (Cell{0, "a.gguf", "fp16", "mmlu"}));
    EXPECT_EQ(cells[4], (Cell{4, "a.gguf", "int8", "arc_easy"}));
    EXPECT_EQ(cells[11], (Cell{11, "b.gguf", "int8", "gsm8k"}));
    EXPECT_EQ(shard_name(7), "cell-0007.db");
    EXPECT_EQ(shard_name(12345), "cell-12345.db");
}

TEST(SlurmGrid, array_spec_joins_runs_of_indices) {
    EXPECT_EQ(array_spec({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
    EXPECT_EQ(array_spec({8, 7, 0, 8}), "0,7-8");
    EXPECT_EQ(array_spec({3}), "3");
    EXPECT_EQ(array_spec({}), "");
}

TEST(SlurmGrid, shell_quote_leaves_plain_words_and_quotes_the_rest) {
    EXPECT_EQ(shell_quote("/data/m.gguf"), "/data/m.gguf");
    EXPECT_EQ(shell_quote("fp16,int8"), "fp16,int8");
    EXPECT_EQ(shell_quote("my model.gguf"), "'my model.gguf'");
    EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(shell_quote("$HOME"), "'$HOME'");
    EXPECT_EQ(shell_quote(""), "''");
}

TEST(SlurmScript, describes_the_grid_and_runs_one_cell_per_array_task) {
    ScriptParams p;
    p.joulebench = "/opt/jb/joulebench";
    p.results_dir = "/shared/study";
    p.workdir = "/home/me";
    p.cache_dir = "/shared/study/cache";
    p.sweep_args = {"--models", "m.gguf",  "--schemes", "fp16,int8",  "--tasks",
                    "mmlu",     "--limit", "8",         "--data-dir", "my data"};
    p.cells = grid_cells({"m.gguf"}, {"fp16", "int8"}, {"mmlu"});
    p.partition = "gpu";
    p.gres = "gpu:1";
    p.time = "01:00:00";
    p.array_parallel = 3;
    p.extra = {"--exclusive"};
    const std::string s = sbatch_script(p);
    EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
    for (const char * line :
         {"#SBATCH --array=0-1%3\n", "#SBATCH --partition=gpu\n", "#SBATCH --gres=gpu:1\n", "#SBATCH --time=01:00:00\n",
          "#SBATCH --exclusive\n", "#SBATCH --chdir=/home/me\n", "#SBATCH --output=/shared/study/logs/cell-%a.log\n",
          "#SBATCH --job-name=joulebench\n", "#      0  m.gguf  fp16    mmlu\n", "#      1  m.gguf  int8    mmlu\n",
          "# Collect:   joulebench merge /shared/study/*.db -o all.db\n"}) {
        EXPECT_NE(s.find(line), std::string::npos) << line << "\n" << s;
    }
    EXPECT_NE(s.find("exec /opt/jb/joulebench sweep --cell \"$cell\" --db \"$shard\" --cache-dir /shared/study/cache "
                     "--no-progress --models m.gguf --schemes fp16,int8 --tasks mmlu --limit 8 --data-dir 'my data'\n"),
              std::string::npos)
        << s;
    // #SBATCH lines are written before any command (sbatch stops reading them at the first).
    EXPECT_LT(s.rfind("#SBATCH"), s.find("set -euo pipefail"));

    // The script runs: each array task gets its own shard and cell (bash, with joulebench faked by echo).
    TempDir dir;
    p.joulebench = "echo";
    p.results_dir = dir.path().string();
    dir.write("s.sh", sbatch_script(p));
    const std::string cmd = "SLURM_ARRAY_TASK_ID=1 bash " + dir.file("s.sh") + " 2>/dev/null";
    FILE * f = popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    char buf[1024] = {};
    const size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    EXPECT_EQ(pclose(f), 0);
    EXPECT_EQ(std::string(buf, n).rfind("sweep --cell 1 --db " + dir.path().string() + "/cell-0001.db --cache-dir ", 0),
              0u)
        << std::string(buf, n);

    p.results_dir = "/shared/my study";
    EXPECT_THROW(sbatch_script(p), jb::UsageError);
}

TEST(SlurmQueue, reads_scontrol_one_line_per_task_and_pending_ranges) {
    const std::string text =
        "JobId=4 ArrayJobId=4 ArrayTaskId=6-7%1 ArrayTaskThrottle=1 JobName=joulebench JobState=PENDING "
        "Reason=JobArrayTaskLimit ExitCode=0:0 ReqNodeList=(null) NodeList=(null)\n"
        "JobId=6 ArrayJobId=4 ArrayTaskId=5 JobName=joulebench JobState=RUNNING ExitCode=0:0 ReqNodeList=(null) "
        "NodeList=gpu07\n"
        "JobId=3 ArrayJobId=4 ArrayTaskId=1 JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 NodeList=gpu02\n"
        "JobId=9 JobName=plain JobState=RUNNING NodeList=x\n";
    const auto q = parse_scontrol(text);
    ASSERT_EQ(q.size(), 3u);
    EXPECT_EQ(q[0].job_id, "4");
    EXPECT_EQ(q[0].first, 6);
    EXPECT_EQ(q[0].last, 7);
    EXPECT_EQ(q[0].state, "PENDING");
    EXPECT_EQ(q[0].node, "");
    EXPECT_EQ(q[1].first, 5);
    EXPECT_EQ(q[1].state, "RUNNING");
    EXPECT_EQ(q[1].node, "gpu07");
    EXPECT_EQ(q[2].state, "FAILED");
    EXPECT_EQ(q[2].exit_code, "3:0");
}

TEST(SlurmQueue, reads_sacct_array_tasks_and_skips_steps) {
    const std::string text =
        "12_0|COMPLETED|n1|0:0\n"
        "12_0.batch|COMPLETED|n1|0:0\n"
        "12_1|CANCELLED by 0|n2|0:15\n"
        "12_[2-3,5%2]|PENDING|None assigned|0:0\n"
        "13|RUNNING|n3|0:0\n";
    const auto q = parse_sacct(text);
    ASSERT_EQ(q.size(), 4u);
    EXPECT_EQ(q[0].state, "COMPLETED");
    EXPECT_EQ(q[1].state, "CANCELLED");
    EXPECT_EQ(q[1].node, "n2");
    EXPECT_EQ(q[2].first, 2);
    EXPECT_EQ(q[2].last, 3);
    EXPECT_EQ(q[2].node, "");
    EXPECT_EQ(q[3].first, 5);
    EXPECT_EQ(q[3].last, 5);
}

TEST(SlurmQueue, a_cells_state_comes_from_its_shard_first_then_from_slurm) {
    const Cell c{3, "m.gguf", "int8", "mmlu"};
    auto entry = [](const char * state) {
        QueueEntry e;
        e.job_id = "77";
        e.first = e.last = 3;
        e.state = state;
        e.exit_code = "1:0";
        return e;
    };
    ShardFacts none;
    ShardFacts done{true, 2, 0, "gpu01", ""};
    ShardFacts partial{true, 1, 0, "gpu01", ""};
    ShardFacts failed{true, 0, 1, "gpu01", "engine: out of memory"};

    EXPECT_EQ(classify_cell(c, 2, done, entry("RUNNING"), true).state, CellState::done);
    EXPECT_EQ(classify_cell(c, 2, none, entry("PENDING"), true).state, CellState::pending);
    const auto running = classify_cell(c, 2, partial, entry("RUNNING"), true);
    EXPECT_EQ(running.state, CellState::running);
    EXPECT_EQ(running.job, "77_3");
    const auto oom = classify_cell(c, 2, failed, entry("COMPLETED"), true);
    EXPECT_EQ(oom.state, CellState::failed);
    EXPECT_EQ(oom.detail, "engine: out of memory");
    const auto timeout = classify_cell(c, 2, partial, entry("TIMEOUT"), true);
    EXPECT_EQ(timeout.state, CellState::failed);
    EXPECT_EQ(timeout.detail, "Slurm: TIMEOUT (exit 1:0)");
    const auto short_ = classify_cell(c, 2, partial, std::nullopt, true);
    EXPECT_EQ(short_.state, CellState::failed);
    EXPECT_EQ(short_.detail, "ended with 1 of 2 repeats in the shard");
    EXPECT_EQ(classify_cell(c, 2, none, std::nullopt, true).detail, "ended without writing its shard");
    EXPECT_EQ(classify_cell(c, 2, none, std::nullopt, false).state, CellState::missing);
    EXPECT_STREQ(state_name(CellState::pending), "pending");
}

TEST(SlurmManifest, round_trips_and_names_the_bad_field) {
    Manifest m;
    m.created_at = "2026-11-25T12:00:00Z";
    m.joulebench = "/bin/joulebench";
    m.workdir = "/w";
    m.cache_dir = "/w/cache";
    m.sweep_args = {"--models", "m.gguf"};
    m.repeat = 2;
    m.cells = grid_cells({"m.gguf"}, {"fp16"}, {"mmlu", "arc_easy"});
    m.jobs.push_back({"41", "0-1", "2026-11-25T12:00:01Z", {0, 1}});
    const Manifest back = Manifest::from_json(m.to_json(), "sweep.json");
    EXPECT_EQ(back.cells, m.cells);
    EXPECT_EQ(back.sweep_args, m.sweep_args);
    EXPECT_EQ(back.repeat, 2);
    ASSERT_EQ(back.jobs.size(), 1u);
    EXPECT_EQ(back.jobs[0].cells, (std::vector<int>{0, 1}));

    auto j = m.to_json();
    j["cells"][1].erase("task");
    try {
        Manifest::from_json(j, "/r/sweep.json");
        FAIL() << "no error";
    } catch (const jb::InputError & e) {
        EXPECT_NE(std::string(e.what()).find("/r/sweep.json"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("cells[1]: missing field 'task'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Manifest::from_json(nlohmann::json{{"format", "other"}}, "x.json"), jb::InputError);
    j = m.to_json();
    j["repeat"] = "two";
    EXPECT_THROW(Manifest::from_json(j, "x.json"), jb::InputError);
}

namespace {

// Fake Slurm client programs first on PATH: sbatch records its arguments and prints a job id;
// scontrol prints $FAKE/scontrol.out if present (else "Invalid job id", as for an aged-out job);
// sacct says accounting is disabled, as on a cluster without slurmdbd.
class SlurmCli : public ::testing::Test {
protected:
    void SetUp() override {
        fs::create_directories(bin());
        write_exec("sbatch",
                   "#!/bin/sh\necho \"$@\" >> \"$JB_FAKE_SLURM/sbatch.args\"\n"
                   "n=$(wc -l < \"$JB_FAKE_SLURM/sbatch.args\")\necho $((4240 + n))\n");
        write_exec("scontrol",
                   "#!/bin/sh\nif [ -f \"$JB_FAKE_SLURM/scontrol.out\" ]; then cat "
                   "\"$JB_FAKE_SLURM/scontrol.out\"; exit 0; fi\n"
                   "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n");
        write_exec("sacct", "#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2; exit 1\n");
        old_path_ = getenv("PATH") ? getenv("PATH") : "";
        setenv("PATH", (bin().string() + ":" + old_path_).c_str(), 1);
    }
    void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }

    void write_exec(const std::string & name, const std::string & text) const {
        std::ofstream(bin() / name) << text;
        fs::permissions(bin() / name, fs::perms::owner_all);
    }

    fs::path bin() const { return dir.path() / "bin"; }
    std::string results() const { return dir.file("results"); }

    std::vector<std::string> sweep(std::vector<std::string> extra = {}) const {
        std::vector<std::string> a = {
            "sweep",      "-m",     kModel,    "--schemes", "fp16,int8", "--tasks", "arc_easy,mmlu",
            "--data-dir", kSamples, "--limit", "2",         "--idle-s",  "0",       "--idle-check-s",
            "0",          "-t",     "2"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    ChildRun jb(const std::vector<std::string> & args) const {
        return joulebench(args, {"JB_FAKE_SLURM=" + dir.path().string()});
    }

    std::string sbatch_calls() const { return slurp(dir.path() / "sbatch.args"); }

    TempDir dir;
    std::string old_path_;
};

}  // namespace

TEST_F(SlurmCli, dry_run_prints_the_script_and_writes_nothing) {
    const ChildRun r = jb(sweep({"--slurm", "--results-dir", results(), "--dry-run", "--gres", "gpu:1"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.rfind("#!/bin/bash\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("#SBATCH --array=0-3\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("#SBATCH --gres=gpu:1\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" --threads 2\n"), std::string::npos) << "options are forwarded: " << r.out;
    EXPECT_EQ(r.out.find("--dry-run"), std::string::npos) << "submission options are not: " << r.out;
    EXPECT_NE(r.err.find("dry run: would submit all 4 cells as `sbatch --array=0-3 " + results()), std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(results()));
    EXPECT_EQ(sbatch_calls(), "");
}

TEST_F(SlurmCli, submits_the_grid_then_only_its_missing_and_failed_cells) {
    const ChildRun first = jb(sweep({"--slurm", "--results-dir", results(), "--array-parallel", "2"}));
    ASSERT_EQ(first.status, 0) << first.err;
    EXPECT_EQ(first.out, "4241\n");
    EXPECT_EQ(sbatch_calls(), "--parsable --array=0-3%2 " + results() + "/sweep.sbatch\n");
    EXPECT_TRUE(fs::exists(fs::path(results()) / "logs")) << "Slurm does not create the --output directory";
    const auto manifest = nlohmann::json::parse(slurp(fs::path(results()) / "sweep.json"));
    ASSERT_EQ(manifest["cells"].size(), 4u);
    EXPECT_EQ(manifest["cells"][2]["scheme"], "int8");
    EXPECT_EQ(manifest["cells"][2]["task"], "arc_easy");
    EXPECT_EQ(manifest["jobs"][0]["job_id"], "4241");

    // Cell 0 ran (here, as its array task would); Slurm says 1 runs, 2 failed; 3 ended without a shard.
    const ChildRun cell0 = jb(
        sweep({"--cell", "0", "--db", results() + "/cell-0000.db", "--cache-dir", dir.file("cache"), "--no-progress"}));
    ASSERT_EQ(cell0.status, 0) << cell0.err;
    EXPECT_NE(cell0.err.find("cell 0 of 4: stories260K.gguf fp16 arc_easy"), std::string::npos) << cell0.err;
    std::ofstream(dir.path() / "scontrol.out")
        << "JobId=4242 ArrayJobId=4241 ArrayTaskId=1 JobState=RUNNING ExitCode=0:0 NodeList=gpu07\n"
           "JobId=4243 ArrayJobId=4241 ArrayTaskId=2 JobState=FAILED ExitCode=1:0 NodeList=gpu08\n"
           "JobId=4244 ArrayJobId=4241 ArrayTaskId=3 JobState=COMPLETED ExitCode=0:0 NodeList=gpu08\n";

    const ChildRun status = jb({"status", "--slurm", results(), "-o", "json"});
    ASSERT_EQ(status.status, 0) << status.err;
    const auto rows = nlohmann::json::parse(status.out)["rows"];
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0]["state"], "done");
    EXPECT_EQ(rows[1]["state"], "running");
    EXPECT_EQ(rows[1]["node"], "gpu07");
    EXPECT_EQ(rows[2]["state"], "failed");
    EXPECT_EQ(rows[2]["detail"], "Slurm: FAILED (exit 1:0)");
    EXPECT_EQ(rows[3]["state"], "failed");
    EXPECT_EQ(rows[3]["detail"], "ended without writing its shard (Slurm: COMPLETED)");
    EXPECT_EQ(rows[3]["job"], "4241_3");

    const ChildRun again = jb(sweep({"--slurm", "--results-dir", results(), "--array-parallel", "2"}));
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_EQ(again.out, "4242\n");
    EXPECT_NE(again.err.find("submitted 2 of 4 cells (1 done, 2 failed, 1 running) as Slurm job 4242 (array 2-3%2)"),
              std::string::npos)
        << again.err;
    EXPECT_EQ(sbatch_calls(), "--parsable --array=0-3%2 " + results() + "/sweep.sbatch\n--parsable --array=2-3%2 " +
                                  results() + "/sweep.sbatch\n");
    const auto m2 = nlohmann::json::parse(slurp(fs::path(results()) / "sweep.json"));
    ASSERT_EQ(m2["jobs"].size(), 2u);
    EXPECT_EQ(m2["jobs"][1]["cells"], nlohmann::json({2, 3}));

    // The new job's word counts for cells 2 and 3: pending now.
    std::ofstream(dir.path() / "scontrol.out", std::ios::app)
        << "JobId=4242 ArrayJobId=4242 ArrayTaskId=2-3%2 JobState=PENDING ExitCode=0:0 NodeList=(null)\n";
    const ChildRun status2 = jb({"status", "--slurm", results(), "-o", "csv"});
    ASSERT_EQ(status2.status, 0) << status2.err;
    EXPECT_NE(status2.out.find("2,stories260K.gguf,int8,arc_easy,pending,,4242_2,"), std::string::npos) << status2.out;
    const ChildRun third = jb(sweep({"--slurm", "--results-dir", results()}));
    ASSERT_EQ(third.status, 0) << third.err;
    EXPECT_EQ(third.out, "");
    EXPECT_NE(third.err.find("nothing submitted"), std::string::npos) << third.err;
}

TEST_F(SlurmCli, another_sweep_in_the_same_results_directory_is_refused) {
    ASSERT_EQ(jb(sweep({"--slurm", "--results-dir", results()})).status, 0);
    auto other = sweep({"--slurm", "--results-dir", results()});
    other[4] = "fp16";  // --schemes fp16
    const ChildRun r = jb(other);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(error_line(r.err).find(results() + "/sweep.json: this results directory holds another sweep"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(sbatch_calls(), "--parsable --array=0-3 " + results() + "/sweep.sbatch\n");
}

TEST_F(SlurmCli, bad_usage_is_one_clear_line) {
    ChildRun r = jb(sweep({"--cell", "4"}));
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err),
              "joulebench: error: --cell 4: the grid has 4 cells (1 model x 2 schemes x 2 tasks), numbered from 0");
    r = jb(sweep({"--dry-run"}));
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err), "joulebench: error: --dry-run needs --slurm");
    r = jb(sweep({"--slurm", "--cell", "1"}));
    EXPECT_EQ(r.status, 2);
    auto bad_task = sweep({"--slurm", "--results-dir", results()});
    bad_task[6] = "nosuchtask";  // --tasks
    r = jb(bad_task);
    EXPECT_NE(r.status, 0);
    EXPECT_FALSE(fs::exists(results())) << "a bad grid is refused before anything is written";
    r = jb({"status", "--slurm", dir.file("nothing-here")});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(error_line(r.err).find("nothing-here/sweep.json: no such file"), std::string::npos) << r.err;

    // Without sbatch on PATH (and not a dry run): what is missing and what to do.
    setenv("PATH", (dir.path() / "empty").c_str(), 1);
    r = jb(sweep({"--slurm", "--results-dir", results()}));
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(error_line(r.err).find("sbatch: cannot run it"), std::string::npos) << r.err;
    EXPECT_NE(error_line(r.err).find("--dry-run prints the script"), std::string::npos) << r.err;
}

TEST_F(SlurmCli, a_familys_models_are_cells_of_the_grid_and_a_cell_runs_only_its_own) {
    const std::string student = dir.file("student.gguf");
    fs::copy_file(kModel, student);
    const std::string family = "--family=base=" + kModel + ",distilled=" + student;
    const std::vector<std::string> grid = {"sweep", family, "--schemes", "fp16", "--tasks", "arc_easy",
                                           "--data-dir", kSamples, "--limit", "2", "--idle-s", "0",
                                           "--idle-check-s", "0", "-t", "2"};
    auto dry = grid;
    dry.insert(dry.end(), {"--slurm", "--results-dir", results(), "--dry-run"});
    const ChildRun r = jb(dry);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("#SBATCH --array=0-1\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("#      0  stories260K.gguf  fp16    arc_easy\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("#      1  student.gguf      fp16    arc_easy\n"), std::string::npos) << r.out;

    auto cell1 = grid;
    const std::string db = dir.file("cell1.db");
    cell1.insert(cell1.end(), {"--cell", "1", "--db", db, "--cache-dir", dir.file("cache"), "--no-progress"});
    const ChildRun c = jb(cell1);
    ASSERT_EQ(c.status, 0) << c.err;
    const auto cells = jb::Store::open_readonly(db).list_cells();
    ASSERT_EQ(cells.size(), 1u) << "the family's other model is cell 0, not part of cell 1";
    EXPECT_EQ(cells[0].model_name, "student.gguf");
}
