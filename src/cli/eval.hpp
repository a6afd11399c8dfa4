#pragma once
// joulebench eval's options and body, also used by `joulebench run`.

#include <cstdint>
#include <string>

#include "cli/engine_options.hpp"
#include "util/paths.hpp"

namespace jb::cli {

struct EvalOptions {
    std::string model;
    std::string scheme;
    std::string cache_dir;
    std::string tasks = "mmlu,hellaswag,arc_challenge,arc_easy,truthfulqa,gsm8k";
    std::string data_dir = shipped_path("data/samples");
    int limit = -1;
    int shots = -1;
    uint64_t seed = 1234;
    bool token_norm = false;
    int gen_max_tokens = 256;
    double idle_s = 2.0;
    double interval_ms = 10.0;
    std::string output = "table";
    std::string save_items;
    bool groups = false;
    EngineOptions engine;
};

// Runs the tasks on the model with energy metered and prints the tables (or JSON).
void run_eval(EvalOptions & o);

}  // namespace jb::cli
