#pragma once
// The two requests a language model answers (lm-evaluation-harness's model interface):
// the log-likelihood of a continuation given a context, and greedy generation until a
// stop string. Tasks build requests and score results; they never see llama.cpp.
// A fake implementation with scripted answers lets tasks be tested without a model.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jb {

struct LoglikRequest {
    std::string context;       // prompt (few-shot examples + question)
    std::string continuation;  // scored text, with its leading space as the task defines it
};

struct LoglikResult {
    double logprob = 0.0;   // sum of log-probabilities of the continuation's tokens
    int n_tokens = 0;       // tokens in the continuation
    bool is_greedy = false; // every continuation token was the argmax
    // Per-token detail, for scorers that need it (llama-perplexity's HellaSwag drops the
    // tokens that all choices share before averaging).
    std::vector<int32_t> tokens;
    std::vector<float> token_logprobs;
};

struct GenRequest {
    std::string context;
    std::vector<std::string> stop;  // generation ends before the first stop string
    int max_tokens = 256;
};

struct GenResult {
    std::string text;  // generated text, cut before the stop string
    int n_tokens = 0;  // tokens generated (including any that formed the stop string)
};

// Where the engine is in its work; the CLI forwards these to the energy Meter.
enum class Phase { idle, load, prefill, decode };
const char * phase_name(Phase p);

struct PhaseObserver {
    virtual ~PhaseObserver() = default;
    virtual void on_phase(Phase phase) = 0;
};

// Token and time counters over a model's lifetime (or since reset_counters()).
struct LmCounters {
    int64_t prefill_tokens = 0;  // tokens fed through the model as prompt/context
    int64_t decode_tokens = 0;   // tokens generated one step at a time
    double prefill_s = 0.0;
    double decode_s = 0.0;
    double first_token_s = -1.0;  // time to first generated token of the first generate() call, -1 if none
    int64_t n_decode_calls = 0;   // llama_decode calls (batches)
};

class LanguageModel {
public:
    virtual ~LanguageModel() = default;
    virtual std::vector<LoglikResult> loglikelihood(std::span<const LoglikRequest> requests) = 0;
    virtual std::vector<GenResult> generate(std::span<const GenRequest> requests) = 0;
    virtual std::string name() const = 0;

    virtual LmCounters counters() const { return {}; }
    virtual void reset_counters() {}
    void set_phase_observer(PhaseObserver * obs) { observer_ = obs; }
    PhaseObserver * phase_observer() const { return observer_; }

protected:
    void phase(Phase p) {
        if (observer_) observer_->on_phase(p);
    }

private:
    PhaseObserver * observer_ = nullptr;
};

}  // namespace jb
