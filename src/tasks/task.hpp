#pragma once
// Benchmark tasks scored as lm-evaluation-harness scores them (docs/tasks.md says, task by
// task, what is matched and where we knowingly differ). A task is data + prompt building +
// scoring; it talks to a model only through jb::LanguageModel's two requests and never sees
// llama.cpp.
//
// Life of a task: make_task() reads the data files, applies --limit and builds every prompt
// (few-shot examples included) up front, so bad data fails before a model is loaded and the
// prompts can be inspected without running. run() then sends ALL requests of the task in ONE
// loglikelihood() or generate() call, so the engine can batch and share prefixes, and scores.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/lm.hpp"
#include "joulebench/task_options.hpp"

namespace jb::tasks {

struct Metric {
    std::string name;      // "acc", "acc_norm", "acc_norm_tokens", "acc_macro", "mc1", "mc2",
                           // "exact_match_strict", "exact_match_flexible", "exact_match"
    double value = 0.0;    // a fraction in [0, 1]
    double stderr_ = 0.0;  // standard error of value (docs/tasks.md: method per metric); NaN if n < 2
    std::string group;     // "" = whole task; else an MMLU subject or category, or a custom task's group
    int64_t n = 0;         // items behind the value
};

// One evaluated item, kept whole for later analysis.
struct ItemResult {
    std::string id;                // stable within the data set: "<subject>/<row>", ARC id, "gsm8k/<line>", ...
    std::string group;             // MMLU subject; TruthfulQA "mc1"/"mc2"; custom "group"; else ""
    int gold = -1;                 // index of the correct choice; -1 for generation
    int predicted = -1;            // argmax of the raw log-likelihoods (acc); -1 for generation
    int predicted_norm = -1;       // argmax of the length-normalised ones (acc_norm); -1 if not scored
    bool correct = false;          // the task's primary per-item outcome
    std::vector<double> logprobs;  // per choice: summed log-probability of the continuation
    std::vector<int> n_tokens;     // per choice: continuation tokens (from the engine)
    std::vector<int> n_chars;      // per choice: characters acc_norm divides by (Unicode code points)
    std::string generated;         // generation: text the model produced, cut before the stop string
    std::string target;            // generation: the reference answer after normalisation
    std::vector<std::pair<std::string, std::string>> extracted;  // generation: filter -> extracted answer
    std::vector<std::pair<std::string, double>> scores;          // metric -> this item's value
};

struct TaskResult {
    std::string task;         // "mmlu", "arc_challenge", "custom:<stem>", ...
    std::string version;      // prompt/scoring version; changes whenever prompts or scoring change
    std::string fingerprint;  // hash of name, version, shots and every request: same workload <=> same value
    int shots = 0;
    std::string primary_metric;  // the metric a single-number summary should use
    std::vector<Metric> metrics;
    std::vector<ItemResult> items;
    int64_t n_requests = 0;          // requests sent to the model (identical requests are sent once)
    std::vector<std::string> notes;  // data source and any deviation from lm-eval, for the report
};

// What an item asks of the model, exactly as run() sends it.
struct ItemPrompt {
    std::string id;
    std::string group;
    std::string context;                     // full prompt: description + few-shot examples + question
    std::vector<std::string> continuations;  // log-likelihood tasks: one per choice, with the leading " "
    std::vector<std::string> stop;           // generation tasks: stop strings
    int max_tokens = 0;                      // generation tasks
};

class Task {
public:
    virtual ~Task() = default;

    virtual std::string name() const = 0;
    virtual std::string version() const = 0;
    virtual bool generative() const = 0;  // true: generate(); false: loglikelihood()
    virtual int shots() const = 0;        // effective number of few-shot examples
    virtual std::string primary_metric() const = 0;

    // Every item's prompt in evaluation order, after --limit (for byte-for-byte tests and dry runs).
    virtual std::vector<ItemPrompt> prompts() const = 0;
    virtual size_t n_items() const = 0;

    // Exactly the requests run() sends: log-likelihood requests (identical ones once) or
    // generation requests; the other list is empty.
    virtual std::vector<LoglikRequest> loglik_requests() const = 0;
    virtual std::vector<GenRequest> gen_requests() const = 0;

    // Hash of name, version, shots, every request and every gold answer (16 hex digits): two
    // runs with the same fingerprint did the same work and are scored against the same answers.
    virtual std::string fingerprint() const = 0;

    // Data source and deviations from lm-eval, copied into TaskResult::notes.
    const std::vector<std::string> & notes() const { return notes_; }

    // Sends all requests in one call, scores every item and aggregates the metrics.
    // Throws jb::RuntimeFailure if the model answers a different number of requests.
    virtual TaskResult run(LanguageModel & lm) = 0;

protected:
    std::vector<std::string> notes_;
};

// Built-in task names, each valid for make_task().
std::vector<std::string> builtin_task_names();
// builtin_task_names() plus the pattern "custom:<path.jsonl>", for help text.
std::vector<std::string> task_names();

// Default few-shot count of a task name (docs/design.md's table); throws jb::UsageError for unknown names.
int default_shots(const std::string & name);

// Reads the task's data and builds its prompts. Throws jb::UsageError for an unknown name
// (listing the valid ones) or an impossible --shots, jb::InputError for missing or malformed
// data (naming file, line and field).
std::unique_ptr<Task> make_task(const std::string & name, const TaskOptions & opt);

}  // namespace jb::tasks
