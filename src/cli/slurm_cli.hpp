#pragma once
// `joulebench sweep --slurm` (the grid as a Slurm job array, one shard database per cell) and
// `joulebench sweep --cell N` (what each array task runs): options and glue; the work is in
// cluster/array.hpp, the user's page is docs/cluster.md.

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cluster/array.hpp"
#include "joulebench/sweep.hpp"

namespace jb::cli {

struct SlurmSweepOptions {
    bool slurm = false;
    int cell = -1;              // --cell: run only this cell of the grid
    cluster::SubmitSpec submit;  // --results-dir, --partition, --gres, --time, ... (the options bind here)
};

// Registers --slurm, --results-dir, --partition, --gres, --time, --array-parallel, --job-name,
// --sbatch-option, --dry-run and --cell on the sweep command.
std::shared_ptr<SlurmSweepOptions> add_slurm_sweep_options(CLI::App * sweep);

// Called by the sweep before it runs. --slurm: submits the array (--dry-run: prints its script)
// and returns true (nothing more to do here). --cell N: narrows `spec` to cell N of the grid and
// returns false (run the sweep).
bool slurm_sweep(const CLI::App & sweep, SweepSpec & spec, const SlurmSweepOptions & s);

}  // namespace jb::cli
