// joulebench sweep --slurm / --cell: the options, and the glue to the cluster module
// (cluster/array.hpp), which submits the grid as a Slurm job array and narrows a sweep to one cell.

#include "cli/slurm_cli.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "cluster/array.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

namespace {

// The sweep's options that describe how to submit, not what to measure: never forwarded to the
// array tasks. --db and --cache-dir are set per task; --no-progress always.
const std::set<std::string> kNotForwarded = {
    "--slurm",    "--dry-run",       "--results-dir", "--partition", "--gres",      "--time",        "--array-parallel",
    "--job-name", "--sbatch-option", "--cell",        "--db",        "--cache-dir", "--no-progress", "--help"};

// The options the user gave the sweep, as words that give the same options again.
std::vector<std::string> given_options(const CLI::App & cmd) {
    std::vector<std::string> out;
    for (const CLI::Option * opt : cmd.get_options()) {
        if (opt->count() == 0) continue;
        const std::string name = opt->get_name();
        if (name.empty() || kNotForwarded.count(name)) continue;
        if (opt->get_type_size() == 0) {  // a flag
            out.push_back(name);
            continue;
        }
        for (const auto & value : opt->results()) {
            out.push_back(name);
            out.push_back(value);
        }
    }
    return out;
}

std::string given_value(const CLI::App & cmd, const std::string & name) {
    for (const CLI::Option * opt : cmd.get_options()) {
        if (opt->get_name() == name && opt->count() > 0 && !opt->results().empty()) return opt->results().back();
    }
    return "";
}

}  // namespace

std::shared_ptr<SlurmSweepOptions> add_slurm_sweep_options(CLI::App * cmd) {
    auto s = std::make_shared<SlurmSweepOptions>();
    const std::string group = "Slurm (docs/cluster.md)";
    cmd->add_flag("--slurm", s->slurm,
                  "Run the grid as a Slurm job array: one cell (model x scheme x task) per array task, each into its "
                  "own shard DIR/cell-NNNN.db; submits with sbatch and prints the job id. Run again, it submits only "
                  "the cells that are missing or failed")
        ->group(group);
    cmd->add_option("--results-dir", s->submit.results_dir,
                    "--slurm: shared directory (every node must see it) for the shards, logs, the quantized-file "
                    "cache, the script and its manifest")
        ->capture_default_str()
        ->group(group);
    cmd->add_option("--partition", s->submit.partition, "--slurm: sbatch --partition")->group(group);
    cmd->add_option("--gres", s->submit.gres, "--slurm: sbatch --gres per cell, e.g. gpu:1")->group(group);
    cmd->add_option("--time", s->submit.time, "--slurm: sbatch --time per cell, e.g. 02:00:00")->group(group);
    cmd->add_option("--array-parallel", s->submit.array_parallel,
                    "--slurm: at most K cells at once (--array=...%K)")
        ->check(CLI::PositiveNumber)
        ->group(group);
    cmd->add_option("--job-name", s->submit.job_name, "--slurm: sbatch --job-name")
        ->capture_default_str()
        ->group(group);
    cmd->add_option("--sbatch-option", s->submit.sbatch_options,
                    "--slurm: one more #SBATCH line, verbatim; repeatable (--sbatch-option=--exclusive, "
                    "--sbatch-option=--account=A)")
        ->allow_extra_args(false)
        ->group(group);
    cmd->add_flag("--dry-run", s->submit.dry_run,
                  "--slurm: print the sbatch script instead of submitting it; writes nothing")
        ->group(group);
    cmd->add_option("--cell", s->cell,
                    "Run only cell N of the grid (N counts models, then schemes, then tasks, from 0): what each "
                    "array task of --slurm runs")
        ->check(CLI::NonNegativeNumber)
        ->group(group);
    return s;
}

bool slurm_sweep(const CLI::App & cmd, SweepSpec & spec, const SlurmSweepOptions & s) {
    if (s.cell >= 0 && s.slurm) throw UsageError("--cell and --slurm go apart: --slurm submits tasks that use --cell");
    if (!s.slurm) {
        for (const char * name :
             {"--dry-run", "--partition", "--gres", "--time", "--array-parallel", "--sbatch-option", "--results-dir"}) {
            if (cmd.get_option(name)->count() > 0) throw UsageError(fmt::format("{} needs --slurm", name));
        }
    }
    if (s.cell >= 0) {
        const size_t n_cells = cluster::sweep_grid(spec).cells.size();
        const cluster::Cell c = cluster::narrow_to_cell(spec, s.cell, given_options(cmd));
        fmt::print(stderr, "sweep: cell {} of {}: {} {} {}\n", s.cell, n_cells,
                   std::filesystem::path(c.model).filename().string(), c.scheme, c.task);
        return false;
    }
    if (!s.slurm) return false;
    cluster::SubmitSpec sub = s.submit;
    sub.sweep_args = given_options(cmd);
    sub.cache_dir = given_value(cmd, "--cache-dir");
    auto say = [](const std::string & text) { fmt::print(stderr, "sweep: {}\n", text); };
    if (!given_value(cmd, "--db").empty()) say("--db is not used with --slurm: cell N writes <results-dir>/cell-NNNN.db");
    const cluster::SubmitOutcome out = cluster::submit_array(spec, sub, say);
    if (out.array.empty()) {
        say(out.what);
    } else if (sub.dry_run) {
        fmt::print("{}", out.script);
        say(fmt::format("dry run: would submit {} as `sbatch --array={} {}/sweep.sbatch`", out.what, out.array, out.dir));
    } else {
        fmt::print("{}\n", out.job_id);
        say(fmt::format("progress: joulebench status --slurm {}", out.dir));
        say(fmt::format("collect:  joulebench merge {}/*.db -o all.db", out.dir));
    }
    return true;
}

}  // namespace jb::cli
