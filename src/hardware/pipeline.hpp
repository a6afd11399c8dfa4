#pragma once
// The projection pipeline (docs/projection.md): measured cells of one database projected to a
// catalogue GPU this host does not have (calibration of the source's efficiencies and decode steps,
// then per cell and phase time, power and energy), written as cells of origin "projected", and
// validated against cells measured on that GPU. The formulas are hardware/projection.hpp.

#include <cstdint>
#include <string>

#include "joulebench/table.hpp"

namespace jb::hardware {

struct ProjectSpec {
    std::string from;        // database of measured cells (read only)
    std::string gpu;         // target: a catalogue id
    std::string to;          // write the projected cells here ("" = do not write)
    std::string source_gpu;  // catalogue id of the measuring GPU ("" = matched from the host's NVML name)
    std::string catalogue;   // "" = data/hardware/gpus.json
    std::string validate;    // database measured on the target: compare instead of listing
    std::string host;        // "" = every host of `from`
    double target_idle_w = 0.0;  // 0 = the catalogue's, else derived
    int64_t ubatch = 512;        // prefill micro-batch: weights are read once per this many tokens
};

struct ProjectOutcome {
    size_t n_projected = 0;
    Table table;  // the projected cells, or projected vs measured with --validate
};

// Throws UsageError / InputError for a bad spec or an unusable database.
ProjectOutcome project_cells(const ProjectSpec & spec);

}  // namespace jb::hardware
