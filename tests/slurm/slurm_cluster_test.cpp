// joulebench sweep --slurm on a real Slurm cluster: a private single-node cluster (munged,
// slurmctld, slurmd from Debian's munge and slurm-wlm, scripts/slurm-local.sh) started and
// stopped by the test. A 4-cell sweep of stories260K runs as an array job; the merged shards
// must hold the rows of the same sweep run locally; a lost shard is resubmitted alone.
// Missing Slurm binaries fail the test (scripts/setup.sh --deps installs them).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <tuple>

#include "../cli/run_joulebench.hpp"
#include "joulebench/store.hpp"

namespace fs = std::filesystem;
using namespace jb_test;

namespace {

const std::string kModel = JB_TEST_MODEL;
const std::string kSamples = std::string(JB_SOURCE_DIR) + "/data/samples";
const std::string kClusterScript = std::string(JB_SOURCE_DIR) + "/scripts/slurm-local.sh";

// What must agree between the cluster's merged shards and a local sweep (energies and times
// differ between any two runs).
struct Row {
    std::string model_hash, scheme, task, workload_fp, status, scores;
    int64_t repeat = 0, n_items = 0, prefill_tokens = 0, decode_tokens = 0;
    double score = 0;
    std::vector<std::string> items;
    bool operator==(const Row &) const = default;
};

std::vector<Row> rows_of(const std::string & db) {
    auto store = jb::Store::open_readonly(db);
    std::vector<Row> out;
    for (const auto & c : store.list_cells()) {
        Row r{c.model_hash, c.scheme_canonical, c.task,           c.workload_fp,   c.status, c.scores_json,
              c.repeat_idx, c.n_items,          c.prefill_tokens, c.decode_tokens, c.score,  {}};
        for (const auto & it : store.cell_items(c.id)) r.items.push_back(it.result_json);
        out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const Row & a, const Row & b) {
        return std::tie(a.scheme, a.task, a.repeat) < std::tie(b.scheme, b.task, b.repeat);
    });
    return out;
}

// Runs a shell command, stdout and stderr together.
std::pair<int, std::string> shell(const std::string & cmd) {
    std::string out;
    FILE * p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return {-1, "popen failed"};
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    const int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

class SlurmCluster : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char * bin : {"munged", "slurmctld", "slurmd", "sbatch", "scontrol"}) {
            const auto [rc, out] = shell(fmt_which(bin));
            ASSERT_EQ(rc, 0) << bin << " not found: the slurm tests need Debian's slurm-wlm and munge "
                             << "(scripts/setup.sh --deps installs them)";
        }
        std::string templ = (fs::temp_directory_path() / "jb-slurm-XXXXXX").string();
        ASSERT_NE(mkdtemp(templ.data()), nullptr);
        dir_ = templ;
        started_ = true;
        const auto [rc, out] = shell(kClusterScript + " start " + (dir_ / "cluster").string());
        ASSERT_EQ(rc, 0) << out;
        slurm_conf_ = (dir_ / "cluster" / "slurm.conf").string();
    }

    void TearDown() override {
        if (started_) {
            const auto [rc, out] = shell(kClusterScript + " stop " + (dir_ / "cluster").string());
            EXPECT_EQ(rc, 0) << out;
            // Its daemons are gone: their pid files were removed only after they exited.
            for (const char * pid_file : {"slurmctld.pid", "slurmd.pid", "munged.pid"}) {
                EXPECT_FALSE(fs::exists(dir_ / "cluster" / "run" / pid_file)) << pid_file;
            }
        }
        if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
        if (HasFailure()) std::cerr << "kept for a look: " << dir_ << "\n";
    }

    static std::string fmt_which(const char * bin) {
        return std::string("command -v ") + bin + " >/dev/null || test -x /usr/sbin/" + bin;
    }

    ChildRun jb(std::vector<std::string> args) const { return joulebench(args, {"SLURM_CONF=" + slurm_conf_}); }

    std::string results() const { return (dir_ / "results").string(); }

    std::vector<std::string> sweep_args() const {
        return {"sweep",      "-m",     kModel,    "--schemes", "fp16,int8", "--tasks", "arc_easy,mmlu",
                "--data-dir", kSamples, "--limit", "8",         "--idle-s",  "0",       "--idle-check-s",
                "0",          "-t",     "1"};
    }

    // Polls `status` until no cell is pending or running; returns the last status JSON.
    nlohmann::json wait_for_cells(std::chrono::seconds limit) const {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        nlohmann::json j;
        while (true) {
            const ChildRun r = jb({"status", "--slurm", results(), "-o", "json"});
            EXPECT_EQ(r.status, 0) << r.err;
            j = nlohmann::json::parse(r.out);
            bool busy = false;
            for (const auto & row : j["rows"]) busy |= row["state"] == "pending" || row["state"] == "running";
            if (!busy || std::chrono::steady_clock::now() > deadline) return j;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }

    static std::map<int, std::string> states(const nlohmann::json & status) {
        std::map<int, std::string> out;
        for (const auto & row : status["rows"]) out[row["cell"].get<int>()] = row["state"].get<std::string>();
        return out;
    }

    fs::path dir_;
    bool started_ = false;
    std::string slurm_conf_;
};

}  // namespace

TEST_F(SlurmCluster, array_job_shards_merge_to_the_rows_of_a_local_sweep_and_only_lost_cells_are_resubmitted) {
    const auto t0 = std::chrono::steady_clock::now();
    auto args = sweep_args();
    args.insert(args.end(), {"--slurm", "--results-dir", results(), "--array-parallel", "2"});
    const ChildRun submitted = jb(args);
    ASSERT_EQ(submitted.status, 0) << submitted.err;
    const std::string job = submitted.out.substr(0, submitted.out.find('\n'));
    ASSERT_FALSE(job.empty());
    EXPECT_EQ(job.find_first_not_of("0123456789"), std::string::npos) << "stdout is the job id: " << submitted.out;
    EXPECT_NE(submitted.err.find("submitted all 4 cells as Slurm job " + job + " (array 0-3%2)"), std::string::npos)
        << submitted.err;

    auto status = wait_for_cells(std::chrono::seconds(150));
    const std::map<int, std::string> all_done = {{0, "done"}, {1, "done"}, {2, "done"}, {3, "done"}};
    ASSERT_EQ(states(status), all_done) << status.dump(1) << "\n" << shell("cat " + results() + "/logs/*").second;
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    const std::string node = std::string(host).substr(0, std::string(host).find('.'));
    for (const auto & row : status["rows"]) {
        EXPECT_EQ(row["node"], node);
        EXPECT_EQ(row["job"], job + "_" + std::to_string(row["cell"].get<int>()));
    }

    // Each (model, scheme) file was quantized once, into the shared cache.
    int quantized = 0;
    for (const auto & e : fs::directory_iterator(fs::path(results()) / "cache")) {
        quantized += e.path().extension() == ".gguf";
    }
    EXPECT_EQ(quantized, 2);

    // Merge the shards (the shell expands the glob, as a user's does) and compare with a local sweep.
    const std::string all = (dir_ / "all.db").string();
    const auto [mrc, mout] = shell(std::string(JB_BINARY) + " merge " + results() + "/*.db -o " + all);
    ASSERT_EQ(mrc, 0) << mout;
    EXPECT_NE(mout.find("4 cells (0 failed), 1 hosts, 1 models, 2 schemes"), std::string::npos) << mout;

    auto local = sweep_args();
    const std::string local_db = (dir_ / "local.db").string();
    local.insert(local.end(), {"--db", local_db, "--cache-dir", (dir_ / "local-cache").string(), "--no-progress"});
    const ChildRun lr = jb(local);
    ASSERT_EQ(lr.status, 0) << lr.err;
    const auto expected = rows_of(local_db);
    ASSERT_EQ(expected.size(), 4u);
    EXPECT_EQ(rows_of(all), expected);

    // Provenance: every run names its cell and its Slurm array task; the host row is the node.
    auto store = jb::Store::open_readonly(all);
    const auto runs = store.list_runs();
    ASSERT_EQ(runs.size(), 4u);
    for (const auto & r : runs) {
        EXPECT_NE(r.command_line.find("--cell "), std::string::npos) << r.command_line;
        EXPECT_NE(r.command_line.find("# Slurm job " + job + "_"), std::string::npos) << r.command_line;
    }
    ASSERT_EQ(store.list_hosts().size(), 1u);
    EXPECT_EQ(store.list_hosts()[0].hostname, std::string(host));

    // Resubmitting the same sweep: nothing to do.
    const ChildRun again = jb(args);
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_EQ(again.out, "");
    EXPECT_NE(again.err.find("all 4 cells"), std::string::npos) << again.err;
    EXPECT_NE(again.err.find("nothing submitted"), std::string::npos) << again.err;

    // A lost shard: only that cell goes again, as a new job, and its row comes back the same.
    for (const char * suffix : {"", "-wal", "-shm"})
        fs::remove(fs::path(results()) / ("cell-0002.db" + std::string(suffix)));
    const ChildRun resub = jb(args);
    ASSERT_EQ(resub.status, 0) << resub.err;
    const std::string job2 = resub.out.substr(0, resub.out.find('\n'));
    EXPECT_NE(job2, job);
    EXPECT_NE(resub.err.find("submitted 1 of 4 cells (3 done, 1 failed) as Slurm job " + job2 + " (array 2%2)"),
              std::string::npos)
        << resub.err;
    status = wait_for_cells(std::chrono::seconds(90));
    EXPECT_EQ(states(status), all_done) << status.dump(1);
    EXPECT_EQ(status["rows"][2]["job"], job2 + "_2");
    const std::string all2 = (dir_ / "all2.db").string();
    const auto [m2, m2out] = shell(std::string(JB_BINARY) + " merge " + results() + "/*.db -o " + all2);
    ASSERT_EQ(m2, 0) << m2out;
    EXPECT_EQ(rows_of(all2), expected);
    std::cerr << "slurm test body: " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
              << " s\n";
}
