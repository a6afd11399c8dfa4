// joulebench status --slurm DIR: which cells of a `sweep --slurm` are done, queued, running,
// failed or missing, from the shards in DIR and from what Slurm says about the array.

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cluster/array.hpp"

namespace jb::cli {

namespace {

struct StatusOptions {
    std::string slurm_dir;
    std::string output = "table";
};

void run_status(const StatusOptions & o) {
    const Format format = parse_format(o.output);
    print_table(std::cout, cluster::status_table(o.slurm_dir), format);
}

}  // namespace

void add_status_command(CLI::App & app) {
    auto o = std::make_shared<StatusOptions>();
    auto * cmd = app.add_subcommand("status",
                                    "Show which cells of a `sweep --slurm` are done, pending, running, "
                                    "failed or missing");
    cmd->add_option("--slurm", o->slurm_dir, "Results directory of `joulebench sweep --slurm` (its --results-dir)")
        ->required();
    cmd->add_option("-o,--output", o->output, "Format: table, md, csv or json")->capture_default_str();
    cmd->footer(
        "A cell is done when its shard (DIR/cell-NNNN.db) holds an ok row for every repeat; pending and "
        "running come from Slurm (scontrol, and sacct where accounting is on); failed: a failed row in the "
        "shard, a Slurm state such as FAILED, TIMEOUT or CANCELLED, or a task that ended without a result. "
        "See docs/cluster.md.");
    cmd->callback([o] { run_status(*o); });
}

}  // namespace jb::cli
