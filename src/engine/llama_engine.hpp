#pragma once
// The engine: a thin C++ wrapper over llama.cpp's C API, and the only module that includes
// llama.h. It answers LanguageModel's two requests with batched, prefix-sharing evaluation,
// and runs llama-bench-like synthetic workloads (prefill of N tokens, decode of N tokens on
// S parallel sequences) for energy measurements.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/lm.hpp"
#include "joulebench/engine_params.hpp"

namespace jb {

// Facts about the loaded model, for provenance and reports.
struct ModelInfo {
    std::string path;
    std::string arch;         // general.architecture
    std::string name;         // general.name
    std::string desc;         // llama_model_desc, e.g. "llama 260K all F32"
    uint64_t n_params = 0;
    uint64_t size_bytes = 0;  // bytes of weights
    int n_layer = 0;
    int n_embd = 0;
    int n_vocab = 0;
    int n_ctx_train = 0;
    bool synthetic = false;   // joulebench.synthetic = true in the GGUF metadata
    std::string gpu_offload;  // "none", or the backend devices used
};

// Result of a synthetic workload (llama-bench's pp / tg tests).
struct BenchResult {
    int n_prompt = 0;     // tokens per sequence in the prefill
    int n_gen = 0;        // tokens generated per sequence
    int n_seq = 1;        // parallel sequences
    double prefill_s = 0.0;
    double decode_s = 0.0;
    int64_t prefill_tokens = 0;
    int64_t decode_tokens = 0;
};

// Log-probability distributions over the vocabulary, one row per predicted position.
struct LogprobMatrix {
    int n_rows = 0;
    int n_vocab = 0;
    std::vector<float> data;       // n_rows x n_vocab, log-softmax of the logits
    std::vector<int32_t> targets;  // the token each row predicts (the text's next token)
    const float * row(int i) const { return data.data() + size_t(i) * size_t(n_vocab); }
};

class LlamaEngine final : public LanguageModel {
public:
    // Loads the model; reports Phase::load to the observer while loading.
    // Throws InputError for a missing or unloadable file.
    explicit LlamaEngine(const EngineParams & params, PhaseObserver * observer = nullptr);
    ~LlamaEngine() override;
    LlamaEngine(const LlamaEngine &) = delete;
    LlamaEngine & operator=(const LlamaEngine &) = delete;

    std::vector<LoglikResult> loglikelihood(std::span<const LoglikRequest> requests) override;
    std::vector<GenResult> generate(std::span<const GenRequest> requests) override;
    std::string name() const override;
    LmCounters counters() const override;
    void reset_counters() override;

    const ModelInfo & info() const;
    const EngineParams & params() const;

    // A new context for other context settings (sizes, sequences, flash attention, threads, KV
    // types) on the model already loaded: what `joulebench tune` changes between trials, without
    // loading the weights again. Reports Phase::load while it builds the context. Throws UsageError
    // when `params` load the model differently (same_model_load); after any other failure the
    // engine has no context and must be dropped.
    void reconfigure(const EngineParams & params);

    // Tokenizes as the engine does for requests (BOS added when the vocabulary asks for it).
    std::vector<int32_t> tokenize(const std::string & text, bool add_bos) const;

    // The model's next-token distributions over `tokens`, evaluated in independent chunks of
    // `chunk` tokens as llama-perplexity does (the first token of a chunk is context only).
    // For fidelity against a reference: KL divergence, top-1 agreement, perplexity.
    LogprobMatrix token_distributions(const std::vector<int32_t> & tokens, int chunk = 512);

    // llama-bench's "pp N": one prefill of n_prompt random tokens on each of n_seq sequences.
    BenchResult bench_prefill(int n_prompt, int n_seq = 1);
    // llama-bench's "tg N": n_gen single-token decode steps on each of n_seq sequences.
    BenchResult bench_decode(int n_gen, int n_seq = 1);
    // Warm-up: one short decode, so kernel compilation and allocation stay out of measurements.
    void warmup();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Routes llama.cpp's and ggml's log through joulebench's callback, which prints nothing unless an
// engine runs with --verbose and keeps llama.cpp's last error for our own message. Cheap (no backend
// is loaded); main() calls it first, so no path prints llama.cpp's log lines for bad input.
void install_llama_log();

// Reads `joulebench.synthetic` and basic metadata from a GGUF without loading weights.
bool gguf_is_synthetic(const std::string & path);

// llama.cpp build facts for provenance: commit, system info (CPU features, backends).
std::string llama_build_commit();
std::string llama_system_info();
// Refuses (UsageError) --gpus entries that name no GPU and a split mode those GPUs cannot run, so
// that a sweep fails before any work rather than in every cell.
void check_placement(const EngineParams & params);
// GPU devices llama.cpp sees (name and memory), empty on a CPU build.
std::vector<std::string> llama_gpu_devices();

}  // namespace jb
