// joulebench status --slurm DIR: which cells of a `sweep --slurm` are done, queued, running,
// failed or missing, from the shards in DIR and from what Slurm says about the array.

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "cluster/array.hpp"
#include "joulebench/table.hpp"

namespace jb::cli {

namespace {

struct StatusOptions {
    std::string slurm_dir;
    std::string output = "table";
};

void run_status(const StatusOptions & o) {
    const Format format = parse_format(o.output);
    const cluster::Manifest m = cluster::read_manifest(o.slurm_dir);
    std::string queue_error;
    const auto statuses = cluster::cell_statuses(o.slurm_dir, m, &queue_error);

    Table t;
    t.title = fmt::format("Slurm sweep in {}", o.slurm_dir);
    for (const char * name : {"cell", "model", "scheme", "task", "state", "node", "job", "detail"}) {
        t.add_column(name);
        t.columns.back().right_align = std::string(name) == "cell";
    }
    std::map<std::string, int> count;
    for (const auto & st : statuses) {
        ++count[cluster::state_name(st.state)];
        t.add_row({int64_t(st.cell.index), std::filesystem::path(st.cell.model).filename().string(), st.cell.scheme,
                   st.cell.task, std::string(cluster::state_name(st.state)), st.node, st.job, st.detail});
    }
    std::string summary = fmt::format("{} cells:", statuses.size());
    for (const char * s : {"done", "running", "pending", "failed", "missing"}) {
        if (count[s] > 0) summary += fmt::format(" {} {},", count[s], s);
    }
    summary.pop_back();
    t.notes.push_back(summary);
    if (!queue_error.empty())
        t.notes.push_back("Slurm could not be asked (" + queue_error + "): states come from the shards only");
    if (count["failed"] + count["missing"] > 0) {
        t.notes.push_back("the same `joulebench sweep ... --slurm` command resubmits the failed and missing cells");
    }
    if (count["done"] > 0) t.notes.push_back(fmt::format("collect: joulebench merge {}/*.db -o all.db", o.slurm_dir));
    print_table(std::cout, t, format);
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
