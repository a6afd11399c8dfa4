#pragma once
// `joulebench sweep --slurm` (the grid as a Slurm job array, one shard database per cell),
// `joulebench sweep --cell N` (what each array task runs) and `joulebench status --slurm DIR`.
// The Slurm-free logic is in slurm.hpp; the user's page is docs/cluster.md.

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cli/slurm.hpp"
#include "cli/sweep.hpp"

namespace jb::cli {

struct SlurmSweepOptions {
    bool slurm = false;
    bool dry_run = false;
    std::string results_dir = "joulebench-results/slurm";
    std::string partition, gres, time;
    int array_parallel = 0;
    std::string job_name = "joulebench";
    std::vector<std::string> sbatch_options;
    int cell = -1;  // --cell: run only this cell of the grid
};

// Registers --slurm, --results-dir, --partition, --gres, --time, --array-parallel, --job-name,
// --sbatch-option, --dry-run and --cell on the sweep command.
std::shared_ptr<SlurmSweepOptions> add_slurm_sweep_options(CLI::App * sweep);

// Called by the sweep before it runs. --slurm: writes the array's script and manifest into the
// results directory and submits the cells that are missing or failed (--dry-run: prints the
// script); returns true (the sweep has nothing more to do here). --cell N: narrows `o` to cell N
// of the grid and notes the Slurm job in its command line; returns false (run the sweep).
bool slurm_sweep(const CLI::App & sweep, SweepOptions & o, const SlurmSweepOptions & s);

namespace slurm {

// <dir>/sweep.json; throws jb::InputError naming the file when it is missing or malformed.
Manifest read_manifest(const std::string & results_dir);

// Every cell's state, from its shard and from Slurm (scontrol for queued and recently ended
// array tasks, then sacct where accounting is enabled). When Slurm cannot be asked at all,
// *queue_error says why and only the shards count.
std::vector<CellStatus> cell_statuses(const std::string & results_dir, const Manifest & m, std::string * queue_error);

}  // namespace slurm

}  // namespace jb::cli
