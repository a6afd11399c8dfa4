#pragma once
// joulebench sweep's options and body, also used by `joulebench run`.

#include <string>
#include <vector>

#include "cli/engine_options.hpp"
#include "cli/eval.hpp"
#include "cli/workload.hpp"

namespace jb {
class Store;
}

namespace jb::cli {

struct SweepOptions {
    std::string models;
    std::vector<std::string> families;  // --family [NAME:]base=a.gguf,distilled=b.gguf (cli/family.hpp)
    std::string schemes = "fp16,int8,dynamic,q4_k_m";
    std::string tasks = "mmlu,hellaswag,arc_challenge,arc_easy,truthfulqa,gsm8k";
    std::string data_dir = shipped_path("data/samples");
    int limit = -1;
    int shots = -1;
    uint64_t seed = 1234;
    int gen_max_tokens = 256;
    int repeat = 1;
    std::string db = "joulebench-results/results.db";
    std::string cache_dir;
    double kld_budget = 0.01;
    std::string dynamic_from;  // see dynamic_plan_source()
    double idle_s = 3.0;
    double idle_check_s = 0.5;
    double settle_s = 5.0;
    double interval_ms = 10.0;
    bool retry_failed = true;
    bool no_progress = false;
    std::string output = "table";
    std::string command_line;
    bool models_fixed = false;  // --cell: exactly --models (a family's other models are other cells)
    EngineOptions engine;
};

// Runs the sweep; prints a summary of the database's cells unless stopped by a signal.
void run_sweep(SweepOptions & o);
// The task options of a sweep's workloads (data, sample, shots, seed, generation length).
WorkloadOptions sweep_workload_options(const SweepOptions & o);
void print_sweep_summary(const Store & store, const std::string & output);

}  // namespace jb::cli
