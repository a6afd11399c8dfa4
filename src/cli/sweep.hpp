#pragma once
// joulebench sweep's options (the text the user gives) and the command body, also used by
// `joulebench run`. The runner itself is the library's jb::run_sweep (joulebench/sweep.hpp).

#include <string>
#include <vector>

#include "cli/engine_options.hpp"
#include "joulebench/sweep.hpp"
#include "util/paths.hpp"

namespace jb::cli {

struct SweepOptions {
    std::string models;
    std::vector<std::string> families;  // --family [NAME:]base=a.gguf,distilled=b.gguf
    std::string schemes = "fp16,int8,dynamic,q4_k_m";
    std::string tasks = "mmlu,hellaswag,arc_challenge,arc_easy,truthfulqa,gsm8k";
    SweepSpec spec;  // everything else, filled by the options directly
    EngineOptions engine;
    std::string ci;                   // --ci 2%: adaptive repeats to this half-width
    std::string engine_source = "default";  // --engine default|tuned
    bool no_progress = false;
    std::string output = "table";

    SweepOptions() { spec.task.data_dir = shipped_path("data/samples"); }
    // The lists and the engine options into `spec`; throws UsageError naming the option.
    void resolve();
};

// Runs the sweep with a progress line on stderr and Ctrl-C handling; prints the summary of the
// database's cells unless stopped. Sets exit_status: 128 + N when stopped by signal N, 3 when a
// cell failed.
void run_sweep_command(SweepOptions & o);

}  // namespace jb::cli
