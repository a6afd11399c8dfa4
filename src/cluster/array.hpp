#pragma once
// A sweep as a Slurm job array (docs/cluster.md): one array task per cell of the grid (model x
// scheme x task, all its repeats), each into its own shard DIR/cell-NNNN.db of a shared results
// directory; resubmission of what is missing or failed; the state of every cell. The Slurm-free
// logic (grid, script, queue parsing) is in cluster/slurm.hpp.

#include <functional>
#include <string>
#include <vector>

#include "cluster/slurm.hpp"
#include "joulebench/sweep.hpp"
#include "joulebench/table.hpp"

namespace jb::cluster {

struct Grid {
    std::vector<std::string> models, schemes, tasks;
    std::vector<Cell> cells;
};

// As run_sweep orders it: the models, then the models of each family that they lack; throws
// UsageError when there is no model.
Grid sweep_grid(const SweepSpec & spec);

// What every array task would refuse, refused once here: missing models, unknown schemes and
// tasks, a bad repeat count.
void check_grid(const Grid & g, const SweepSpec & spec);

// Narrows `spec` to cell `index` of its grid (--cell N: what each array task runs) and records in its
// command line the Slurm job it runs in; `given_args` are the sweep's own options, for that line.
// Returns the cell. Throws UsageError for an index outside the grid.
Cell narrow_to_cell(SweepSpec & spec, int index, const std::vector<std::string> & given_args);

struct SubmitSpec {
    std::string results_dir = "joulebench-results/slurm";
    std::string partition, gres, time;
    int array_parallel = 0;
    std::string job_name = "joulebench";
    std::vector<std::string> sbatch_options;
    bool dry_run = false;
    std::vector<std::string> sweep_args;  // the sweep's options, forwarded to every array task
    std::string cache_dir;                // "" = <results_dir>/cache
};

struct SubmitOutcome {
    std::string dir;     // the results directory, absolute
    std::string script;  // the sbatch script
    std::string array;   // sbatch --array value; "" when nothing needed submitting
    std::string job_id;  // "" for a dry run or when nothing was submitted
    std::string what;    // "all 6 cells", "2 of 6 cells (4 done, 2 failed)"
};

// Writes the array's script and manifest into the results directory and submits the cells that
// are missing or failed (a dry run writes nothing and submits nothing). `on_message` gets notes for
// the user. Throws for a results directory that holds another sweep, or when sbatch fails.
SubmitOutcome submit_array(const SweepSpec & spec, const SubmitSpec & s,
                           const std::function<void(const std::string &)> & on_message);

// <dir>/sweep.json; throws jb::InputError naming the file when it is missing or malformed.
Manifest read_manifest(const std::string & results_dir);

// Every cell's state, from its shard and from Slurm (scontrol for queued and recently ended
// array tasks, then sacct where accounting is enabled). When Slurm cannot be asked at all,
// *queue_error says why and only the shards count.
std::vector<CellStatus> cell_statuses(const std::string & results_dir, const Manifest & m, std::string * queue_error);

// `joulebench status --slurm DIR`: every cell's state as a table, with the counts per state and
// what to do next in its notes.
Table status_table(const std::string & results_dir);

}  // namespace jb::cluster
