#pragma once
// What a sweep cell runs: a scored task (MMLU, HellaSwag, ...) or a synthetic llama-bench-like
// workload (prefill of N tokens, decode of N tokens on S parallel sequences). Both give a
// TaskResult (the synthetic ones with no scores), so the sweep, the store and the reports treat
// them alike.
//
//   pp2048     prefill of 2048 random tokens on one sequence (llama-bench -p 2048)
//   tg256      256 single-token decode steps on one sequence (llama-bench -n 256)
//   tg256x8    the same on 8 sequences decoded together (batched decoding)
//   pp512x4    prefill of 512 tokens on each of 4 sequences
//   pp2048r30  any of them repeated 30 times inside the cell (default 5, as llama-bench -r 5)
//
// The repetition count is part of the name and the fingerprint, so every scheme does the same
// work in a cell and cell energies compare; choose it so a fast workload still spans a few
// seconds (NVML's energy counter updates at ~10 Hz: short windows carry ±10-20 %).

#include <memory>
#include <string>
#include <vector>

#include "engine/llama_engine.hpp"
#include "tasks/task.hpp"

namespace jb::sweep {

class Workload {
public:
    virtual ~Workload() = default;
    virtual std::string name() const = 0;
    virtual std::string fingerprint() const = 0;
    virtual std::string primary_metric() const = 0;  // "" for synthetic workloads
    virtual size_t n_items() const = 0;
    virtual tasks::TaskResult run(LlamaEngine & engine) = 0;
    // Sequences it decodes side by side: a synthetic workload's S (tgNxS), 0 for a task (as many
    // as the engine allows).
    virtual int sequences() const { return 0; }
    // Measured runs of a synthetic workload inside one cell (its r<R>); 1 for a task.
    virtual int repetitions() const { return 1; }
    // A synthetic prefill workload (pp<N>): its time to first token is one repetition's prefill.
    virtual bool prefill_only() const { return false; }
};

// True for names like pp2048, tg256, tg256x8, tg256r10.
bool is_bench_workload(const std::string & name);

// A task (tasks::make_task) or a synthetic workload; throws UsageError for unknown names.
std::unique_ptr<Workload> make_workload(const std::string & name, const tasks::TaskOptions & options);

}  // namespace jb::sweep
