#pragma once
// A sweep as a Slurm job array, the parts that need no Slurm: the grid of cells, the sbatch
// script, the manifest a results directory keeps, reading what Slurm says about the array
// (scontrol, sacct) and deciding each cell's state. Running sbatch/scontrol, reading shards and
// the commands themselves are in slurm_cli.cpp; docs/cluster.md is the user's page.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>
#include "util/strings.hpp"

namespace jb::cluster {

// One array task: one model x scheme x task (all its repeats), numbered in the sweep's own
// order (model, then scheme, then task), so cell N = (N / (S*T), N / T % S, N % T).
struct Cell {
    int index = 0;
    std::string model, scheme, task;
    bool operator==(const Cell &) const = default;
};

std::vector<Cell> grid_cells(const std::vector<std::string> & models, const std::vector<std::string> & schemes,
                             const std::vector<std::string> & tasks);

// The shard of cell N inside the results directory: "cell-0007.db".
std::string shard_name(int index);

// Slurm's --array list for sorted or unsorted indices: {0,1,2,5,7,8} -> "0-2,5,7-8".
std::string array_spec(std::vector<int> indices);

using jb::shell_quote;  // util/strings.hpp: the sbatch script's words

struct ScriptParams {
    std::string joulebench;               // absolute path of the binary the tasks run
    std::string results_dir;              // absolute: shards, logs, cache, manifest
    std::string workdir;                  // the job's working directory (relative paths in args)
    std::string cache_dir;                // the quantized-file cache every task shares
    std::vector<std::string> sweep_args;  // the sweep's own options, forwarded to every task
    std::vector<Cell> cells;              // the whole grid
    std::string job_name = "joulebench";
    std::string partition, gres, time;   // "" = the cluster's default
    int array_parallel = 0;              // at most this many tasks at once; 0 = no limit
    std::vector<std::string> extra;      // more #SBATCH options, verbatim ("--exclusive")
    std::string created_at, created_on;  // provenance in the header
};

// The sbatch script: a header that says what it is (grid, cells, shards, cache, how to check
// and merge), #SBATCH lines for the whole grid as an array, and a body that runs
// `joulebench sweep --cell $SLURM_ARRAY_TASK_ID` into that task's shard. Submitting it with
// `sbatch --array=<subset>` runs only those cells.
std::string sbatch_script(const ScriptParams & p);

// What Slurm says about one array task, or a range of them still pending ("6-7%1").
struct QueueEntry {
    std::string job_id;         // the array job id
    int first = -1, last = -1;  // array task ids covered
    std::string state;          // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    std::string node;           // "" when none yet
    std::string exit_code;      // "0:0", "3:0"
};

// `scontrol show job -o <array job id>`: one line per array task (pending ones grouped).
std::vector<QueueEntry> parse_scontrol(const std::string & text);
// `sacct -X -n -P --format=JobID,State,NodeList,ExitCode`: "12_3|FAILED|node7|3:0",
// "12_[4-6%2]|PENDING|None assigned|0:0"; other lines (steps, plain jobs) are ignored.
std::vector<QueueEntry> parse_sacct(const std::string & text);

enum class CellState { missing, pending, running, done, failed };
const char * state_name(CellState s);  // "missing", "pending", "running", "done", "failed"

// What a cell's shard holds.
struct ShardFacts {
    bool exists = false;
    int ok = 0, failed = 0;  // cells in it by status
    std::string node;        // hostname of the host that measured it
    std::string error;       // first failed cell's error, or why the shard cannot be read
};

struct CellStatus {
    Cell cell;
    CellState state = CellState::missing;
    std::string node, job, detail;
};

// Done when the shard has `repeat` ok cells; else what the queue says (pending, running, or a
// terminal state other than COMPLETED: failed); a failed row in the shard is failed; a cell
// that was submitted, is no longer queued and has no complete result failed too ("ended
// without a result"); never submitted: missing. `queue` is the newest entry for the cell.
CellStatus classify_cell(const Cell & cell, int repeat, const ShardFacts & shard,
                         const std::optional<QueueEntry> & queue, bool submitted);

// The manifest <results>/sweep.json: what the directory holds, so `status` and a resubmission
// know the grid without being told. Format "joulebench-slurm-sweep", version 1.
struct Manifest {
    std::string created_at;
    std::string joulebench;  // binary
    std::string workdir;
    std::string cache_dir;
    std::vector<std::string> sweep_args;  // forwarded options: identity of the sweep
    int repeat = 1;
    std::vector<Cell> cells;
    struct Job {
        std::string job_id, array, submitted_at;
        std::vector<int> cells;
    };
    std::vector<Job> jobs;

    nlohmann::json to_json() const;
    // Throws jb::InputError naming `file` and the field that is missing or wrong.
    static Manifest from_json(const nlohmann::json & j, const std::string & file);
};

}  // namespace jb::cluster
