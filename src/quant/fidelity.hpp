#pragma once
// Fidelity of a quantized model against its reference (the fp16 scheme of the same source):
// KL divergence of the next-token distributions, top-1 agreement and perplexity on a
// calibration text, with the definitions llama-perplexity --kl-divergence uses
// (tools/perplexity/perplexity.cpp at de3ff81).
//
// The models are loaded one at a time, never both at once: the reference's distributions are
// computed first (FidelityReference) and kept in memory, n_positions x n_vocab floats
// (1023 x 151936 x 4 B = 620 MB for a Qwen2.5 vocabulary at the default 1024 tokens).

#include <cstdint>
#include <string>
#include <vector>

#include "engine/llama_engine.hpp"
#include "quant/scheme.hpp"

namespace jb {

struct Fidelity {
    int n_tokens = 0;             // positions compared (rows of the distributions)
    double mean_kld = 0.0;        // mean over positions of KL(ref || test), nats
    double p99_kld = 0.0;         // 99th percentile of the per-position KLD (linear interpolation)
    double max_kld = 0.0;
    double top1_agreement = 0.0;  // fraction of positions whose most likely token is the same, 0..1
    double ppl_ref = 0.0;         // exp(mean negative log-likelihood of the text's next token)
    double ppl_quant = 0.0;
};

// Compares two sets of distributions over the same text, position by position:
//   KLD_i   = sum_v p_ref(v) (log p_ref(v) - log p_test(v))
//   top-1   = argmax_v p_ref == argmax_v p_test (first index on ties, as llama-perplexity)
//   PPL     = exp(-mean_i log p(target_i))
// Throws jb::UsageError if the shapes or the targets differ, or there is nothing to compare.
Fidelity compare_distributions(const LogprobMatrix & ref, const LogprobMatrix & test);

// data/calibration/calibration.txt: from the working directory if it is there, else from the
// source tree joulebench was built from.
std::string default_calibration_path();

// The whole calibration file; throws jb::InputError naming the file if it is missing or empty.
std::string read_calibration_text(const std::string & path);

// Engine parameters for evaluating distributions over chunks of `chunk` tokens under a
// scheme's KV-cache types: one sequence, a context of one chunk, flash attention on where the
// KV types need it, one thread for a model under 10 M weights when base.n_threads is 0 (all).
// Everything else (threads, GPU layers, verbosity) comes from `base`.
EngineParams fidelity_engine_params(const EngineParams & base, const std::string & model_path, int chunk,
                                    ggml_type kv_type_k = GGML_TYPE_F16, ggml_type kv_type_v = GGML_TYPE_F16);

// Why llama.cpp cannot create a (k, v) KV cache for this model, or "" if it can (or the
// GGUF does not say enough to tell). A quantized cache with flash attention needs every
// head size to be a multiple of the type's block (32 for q8_0 and q4_0); stories260K's
// heads are 8 wide, so it runs with an F16 cache only.
std::string kv_cache_problem(const std::string & model_path, ggml_type kv_type_k, ggml_type kv_type_v);

// The reference side of a comparison: the calibration tokens (tokenized by the reference
// model, BOS first where its vocabulary asks for one, cut to n_tokens) and its distributions.
struct FidelityReference {
    std::string model_path;
    std::vector<int32_t> tokens;
    int chunk = 256;
    LogprobMatrix dist;
};

// Loads `ref_model` with an F16 KV cache (the fp16 scheme's), tokenizes `text`, keeps the
// first n_tokens and evaluates them; threads, GPU layers and flash attention come from `base`.
// Throws jb::InputError if the text gives fewer than 16 tokens.
FidelityReference compute_reference(const std::string & ref_model, const std::string & text, int n_tokens,
                                    const EngineParams & base, int chunk);

// The distributions of params.model_path over `tokens` (loaded with `params` as they are), then freed.
LogprobMatrix model_distributions(const EngineParams & params, const std::vector<int32_t> & tokens, int chunk);

// Loads `test_model` and compares it with the reference. `params` gives the test model's KV
// types and flash attention (see fidelity_engine_params()); its model path and sizes are
// replaced (context and batch of one reference chunk).
Fidelity measure_fidelity(const FidelityReference & ref, const std::string & test_model, const EngineParams & params);

// One comparison from scratch: the reference (always with an F16 KV cache) is evaluated and
// freed, then the test model, with `base`'s KV types and flash attention.
Fidelity measure_fidelity(const std::string & ref_model, const std::string & test_model,
                          const std::vector<int32_t> & tokens, const EngineParams & base, int chunk);

}  // namespace jb
