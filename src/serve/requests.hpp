#pragma once
// What a level sends: a list of request shapes (prompt text and max_tokens), built before the
// level starts so that building costs nothing inside the measured window. Three sources:
//   synthetic   prompt and output token lengths, fixed or sampled; prompts cut from real text
//               so that the server's tokenizer counts the wanted length (checked with the
//               server's own /tokenize), each starting at a different place so that no two
//               share a prefix the server's prompt cache could reuse;
//   JSONL       the user's prompts, {"prompt": ..., "max_tokens": ...} per line;
//   tasks       the shipped task data's prompts (few-shot contexts), through tasks' prompt
//               building (never its scoring).
// With ignore_eos (LoadSpec) every request generates exactly max_tokens, so schemes do the
// same work.

#include <cstdint>
#include <string>
#include <vector>

#include "serve/random.hpp"

namespace jb::serve {

struct RequestShape {
    std::string prompt;
    int max_tokens = 0;
    int expected_prompt_tokens = -1;  // the server's count (special tokens included) when known; -1 unknown
};

// A token length: fixed, uniform over [min, max], or normal(mean, sd) rounded and clipped to
// [min, max].
struct LengthDist {
    enum class Kind { fixed, uniform, normal };
    Kind kind = Kind::fixed;
    int value = 0;  // fixed
    int min = 1;
    int max = 1;
    double mean = 0.0;
    double sd = 0.0;

    static LengthDist fixed_at(int n);
    int sample(Rng & rng) const;
    std::string str() const;  // the form parse_length_dist reads
};
// "256"; "uniform:128-512"; "normal:256,64" (clipped to [1, 2 x mean]) or "normal:256,64,32-1024".
// Throws jb::UsageError naming `option` for anything else.
LengthDist parse_length_dist(const std::string & text, const std::string & option);

// The server's tokenizer, as synthetic prompts need it.
class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    // The text's tokens as text pieces, in order, without special tokens (their concatenation
    // gives the text back).
    virtual std::vector<std::string> pieces(const std::string & text) = 0;
    // The number of tokens the server counts for `text` as a prompt (BOS and other special
    // tokens it adds included): what `usage.prompt_tokens` will say.
    virtual int count(const std::string & text) = 0;
};

// POST /tokenize on a llama-server (loopback). Throws jb::RuntimeFailure when it does not answer.
class ServerTokenizer : public Tokenizer {
public:
    ServerTokenizer(std::string host, int port, double timeout_s = 30.0);
    std::vector<std::string> pieces(const std::string & text) override;
    int count(const std::string & text) override;
    long calls() const { return calls_; }

private:
    std::string host_;
    int port_;
    double timeout_s_;
    long calls_ = 0;
};

struct SyntheticSpec {
    LengthDist input_tokens = LengthDist::fixed_at(128);   // prompt tokens as the server counts them
    LengthDist output_tokens = LengthDist::fixed_at(128);  // max_tokens
    long n_requests = 16;
    uint64_t seed = 1;
    std::string corpus_text;    // real text the prompts are cut from (default_corpus_path())
    int max_adjust_rounds = 4;  // re-tokenize and trim/extend at most this often per prompt
};

// data/calibration/calibration.txt of this source tree (GSM8K, ARC, HellaSwag and MMLU text).
std::string default_corpus_path();

// n_requests shapes. Each prompt is a run of the corpus's pieces starting at a seeded random
// place (the corpus is used as a ring), trimmed or extended until the tokenizer counts the
// sampled length (or max_adjust_rounds are spent; expected_prompt_tokens is then the count
// reached). Throws jb::InputError for an empty corpus, jb::UsageError for lengths < 1.
std::vector<RequestShape> synthetic_requests(const SyntheticSpec & spec, Tokenizer & tokenizer);

// The user's prompts: one JSON object per line, "prompt" (string, required) and "max_tokens"
// (integer >= 1, else default_max_tokens); blank lines are skipped. Throws jb::InputError
// naming file, line and field for a bad line, and for a file without requests.
std::vector<RequestShape> jsonl_requests(const std::string & path, int default_max_tokens);

struct TaskPromptSpec {
    std::string task;      // a built-in task name: "gsm8k", "truthfulqa_mc1", "mmlu", ...
    std::string data_dir;  // the tasks' data layout (docs/tasks.md)
    int shots = -1;        // -1: the task's default
    int limit = -1;        // > 0: a seeded sample of this many items
    uint64_t seed = 1234;
    int max_tokens = 128;
};
// The named mixes of the shipped tasks: "short" (MMLU zero-shot questions), "medium"
// (TruthfulQA MC1 with its 6-shot QA primer), "long" (GSM8K 5-shot chains of thought).
// Throws jb::UsageError for another name.
TaskPromptSpec task_prompt_preset(const std::string & name, const std::string & data_dir, int max_tokens);
std::vector<std::string> task_prompt_preset_names();
// One shape per task item: the item's full context (few-shot examples included) as prompt.
// Errors as tasks::make_task throws them.
std::vector<RequestShape> task_requests(const TaskPromptSpec & spec);

}  // namespace jb::serve
