#pragma once
// How a benchmark task is read and sampled: data directory, item sample, few-shot count, seed,
// generation length. Every runner that evaluates tasks (eval, sweep) takes it.

#include <cstdint>
#include <string>

namespace jb::tasks {

struct TaskOptions {
    std::string data_dir;      // root of the data layout (docs/tasks.md); "" = the shipped samples; custom tasks ignore it
    int limit = -1;            // > 0: evaluate a seeded sample of this many items (MMLU: balanced over subjects)
    int shots = -1;            // -1: the task's default (docs/design.md's table)
    uint64_t seed = 1234;      // few-shot draws (lm-eval's fewshot_random_seed) and --limit samples
    bool token_norm = false;   // also report acc_norm_tokens (mean log-prob per token, llama-perplexity's
                               // HellaSwag scoring); HellaSwag --limit then picks llama-perplexity's tasks
    int gen_max_tokens = 256;  // generation tasks: lm-eval's default max_gen_toks
};

}  // namespace jb::tasks
