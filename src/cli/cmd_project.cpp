// joulebench project --from results.db --gpu rtx-4090: what the measured cells would cost on a GPU
// this host does not have (docs/projection.md), and --validate: how far such a projection is
// from cells measured on that GPU. The pipeline is hardware/pipeline.hpp.

#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "hardware/pipeline.hpp"

namespace jb::cli {

namespace {

struct ProjectOptions {
    hardware::ProjectSpec spec;
    std::string output = "table";
};

}  // namespace

void add_project_command(CLI::App & app) {
    auto opts = std::make_shared<ProjectOptions>();
    auto * o = &opts->spec;
    CLI::App * cmd = app.add_subcommand(
        "project", "Project measured cells to a GPU from the catalogue (time, power, energy; marked 'projected')");
    cmd->add_option("--from", o->from, "Database of measured cells (read only)")->required();
    cmd->add_option("--gpu", o->gpu, "Target GPU: a catalogue id (joulebench hardware list), e.g. rtx-4090")
        ->required();
    cmd->add_option("--to", o->to,
                    "Write the projected cells here (created if missing; not --from): host 'projected <GPU>', "
                    "origin 'projected'");
    cmd->add_option("--validate", o->validate,
                    "Database of cells measured on the target GPU: print projected vs measured J/token and tokens/s "
                    "per scheme and phase, with the error");
    cmd->add_option("--host", o->host, "Project only the cells of this host of --from (fingerprint or host name)");
    cmd->add_option("--source-gpu", o->source_gpu,
                    "Catalogue id of the GPU the cells were measured on (default: matched from the host's NVML name)");
    cmd->add_option("--catalogue", o->catalogue, "GPU catalogue file (default: data/hardware/gpus.json)");
    cmd->add_option("--target-idle-w", o->target_idle_w,
                    "Idle power of the target GPU in watts (default: the catalogue's; where it has none, the source's "
                    "measured idle as the same fraction of the board limit)");
    cmd->add_option("--ubatch", o->ubatch, "Prefill micro-batch: weights are read once per this many tokens")
        ->capture_default_str();
    cmd->add_option("-o,--output", opts->output, "Output format: table, md, csv or json")->capture_default_str();
    cmd->footer(
        "Model (docs/projection.md): per cell and phase, bytes = quantized weights per forward pass, FLOPs =\n"
        "2 x parameters x tokens; the source's achieved bandwidth and compute over the catalogue's peaks give\n"
        "efficiencies; the target's time is max(bytes / (eff_bw x bandwidth), FLOPs / (eff_c x throughput)),\n"
        "with FP16 tensor throughput for float weights and INT8 for quantized ones. Decode, where the source\n"
        "has 2+ model sizes at least 2x apart per scheme (roofline-v2): a fixed time per step fitted across\n"
        "them and kept, plus a time per weight byte scaled by bandwidth (bandwidth-bound) or by SMs x clock\n"
        "(kernel-bound, e.g. k-quants); with one size, the line above. Power keeps the measured\n"
        "share of the board limit above idle. A model whose working set does not fit the target's memory is\n"
        "a failed row 'does not fit: needs X GiB of Y GiB', never projected. Scores are copied. Projected\n"
        "rows carry origin 'projected' (every report marks them) and a projection_json with their inputs.");
    cmd->callback([opts] {
        const Format format = parse_format(opts->output);
        const hardware::ProjectOutcome out = hardware::project_cells(opts->spec);
        if (!opts->spec.to.empty()) {
            fmt::print(stderr, "project: {} projected cells written to {}\n", out.n_projected, opts->spec.to);
        }
        print_table(std::cout, out.table, format);
    });
}

}  // namespace jb::cli
