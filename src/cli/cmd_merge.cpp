// joulebench merge a.db b.db ... -o all.db: results from several hosts in one database.

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "cli/commands.hpp"
#include "joulebench/store.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

namespace {

struct MergeParams {
    std::vector<std::string> inputs;
    std::string output;
};

void print_counts(const std::string & src, const MergeCounts & n) {
    fmt::print(
        "{}: cells: {} added, {} replaced, {} skipped; items: {} added; timelines: {} added; "
        "hosts: {} added, {} known; models: {} added, {} known; schemes: {} added, {} known; "
        "runs: {} added, {} known; model sizes: {} added, {} known; model relations: {} added, {} known; "
        "serve levels: {} added, {} replaced, {} skipped\n",
        src, n.cells_added, n.cells_replaced, n.cells_skipped, n.items_added, n.timelines_added, n.hosts.added,
        n.hosts.skipped, n.models.added, n.models.skipped, n.schemes.added, n.schemes.skipped, n.runs.added,
        n.runs.skipped, n.model_schemes.added, n.model_schemes.skipped, n.model_relations.added,
        n.model_relations.skipped, n.serve_levels_added, n.serve_levels_replaced, n.serve_levels_skipped);
}

void run_merge(const MergeParams & p) {
    merge_files(
        p.output, p.inputs, [&](const std::string & in) { fmt::print(stderr, "merging {} into {}\n", in, p.output); },
        print_counts);
    const Store dst = Store::open_readonly(p.output);
    const auto cells = dst.list_cells();
    const auto failed = std::count_if(cells.begin(), cells.end(), [](const CellRecord & c) { return !c.ok(); });
    fmt::print("{}: {} cells ({} failed), {} hosts, {} models, {} schemes, {} serve levels\n", p.output, cells.size(),
               failed, dst.list_hosts().size(), dst.list_models().size(), dst.list_schemes().size(),
               dst.list_serve_levels().size());
}

}  // namespace

void add_merge_command(CLI::App & app) {
    auto params = std::make_shared<MergeParams>();
    CLI::App * cmd =
        app.add_subcommand("merge", "Combine result databases (from several hosts) into one, without duplicates");
    cmd->add_option("inputs", params->inputs, "joulebench databases to merge (only read, never modified)")
        ->required()
        ->expected(1, -1);
    cmd->add_option("-o,--output", params->output,
                    "database to merge into: created if missing, else must be a joulebench database")
        ->required();
    cmd->footer(
        "Cells with the same (host, model, scheme, task, workload, repeat) become one row: the output's row\n"
        "stays, unless it failed and the input's succeeded. Hosts, models, schemes and runs are matched by\n"
        "identity. Merging the same file twice changes nothing.");
    cmd->callback([params] { run_merge(*params); });
}

}  // namespace jb::cli
