#include "quant/fidelity.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "ggml-cpp.h"
#include "gguf.h"
#include "quant/gguf_file.hpp"
#include "joulebench/error.hpp"

namespace jb {

namespace {

// Index of the largest value, the first one on ties (llama-perplexity's loop with `>`).
int argmax(const float * row, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i) {
        if (row[i] > row[best]) {
            best = i;
        }
    }
    return best;
}

// llama-perplexity's percentile(): linear interpolation between the two nearest ranks.
double percentile(const std::vector<double> & sorted, double fraction) {
    if (sorted.empty()) {
        return 0.0;
    }
    if (fraction <= 0.0) {
        return sorted.front();
    }
    if (fraction >= 1.0) {
        return sorted.back();
    }
    const double pos = fraction * double(sorted.size() - 1);
    const size_t i = size_t(pos);
    const double frac = pos - double(i);
    return (1.0 - frac) * sorted[i] + frac * sorted[std::min(i + 1, sorted.size() - 1)];
}

}  // namespace

Fidelity compare_distributions(const LogprobMatrix & ref, const LogprobMatrix & test) {
    if (ref.n_vocab != test.n_vocab) {
        throw UsageError(fmt::format("cannot compare distributions over {} and {} tokens: the models have different "
                                     "vocabularies", ref.n_vocab, test.n_vocab));
    }
    if (ref.n_rows != test.n_rows || ref.targets != test.targets) {
        throw UsageError(fmt::format("cannot compare distributions over different texts ({} and {} positions, or "
                                     "different tokens): evaluate both models on the same tokens and chunk size",
                                     ref.n_rows, test.n_rows));
    }
    if (ref.n_rows == 0) {
        throw UsageError("no positions to compare: the text has fewer than 2 tokens");
    }
    const size_t want = size_t(ref.n_rows) * size_t(ref.n_vocab);
    if (ref.data.size() != want || test.data.size() != want || ref.targets.size() != size_t(ref.n_rows)) {
        throw UsageError("malformed distributions: data is not n_rows x n_vocab");
    }

    const int n_vocab = ref.n_vocab;
    std::vector<double> kld(size_t(ref.n_rows));
    double sum_nll_ref = 0.0;
    double sum_nll_test = 0.0;
    int n_same_top = 0;
    for (int i = 0; i < ref.n_rows; ++i) {
        const float * r = ref.row(i);
        const float * t = test.row(i);
        double sum = 0.0;
        for (int v = 0; v < n_vocab; ++v) {
            const double p = std::exp(double(r[v]));
            // p = 0 (a -inf log-probability) contributes nothing; 0 * (-inf) would be NaN.
            // llama-perplexity also skips log p_ref <= -16, an artifact of its 16-bit storage
            // of the reference; those terms are below 1e-7 each, so we keep them.
            if (p > 0.0) {
                sum += p * (double(r[v]) - double(t[v]));
            }
        }
        kld[size_t(i)] = sum;
        n_same_top += argmax(r, n_vocab) == argmax(t, n_vocab);
        const int32_t target = ref.targets[size_t(i)];
        if (target < 0 || target >= n_vocab) {
            throw UsageError(fmt::format("target token {} at position {} is outside the vocabulary ({})", target, i,
                                         n_vocab));
        }
        sum_nll_ref -= double(r[target]);
        sum_nll_test -= double(t[target]);
    }

    Fidelity f;
    f.n_tokens = ref.n_rows;
    double sum_kld = 0.0;
    for (double k : kld) {
        sum_kld += k;
    }
    f.mean_kld = sum_kld / double(ref.n_rows);
    std::sort(kld.begin(), kld.end());
    f.p99_kld = percentile(kld, 0.99);
    f.max_kld = kld.back();
    f.top1_agreement = double(n_same_top) / double(ref.n_rows);
    f.ppl_ref = std::exp(sum_nll_ref / double(ref.n_rows));
    f.ppl_quant = std::exp(sum_nll_test / double(ref.n_rows));
    return f;
}

std::string default_calibration_path() {
    const std::string relative = "data/calibration/calibration.txt";
    std::error_code ec;
    if (std::filesystem::is_regular_file(relative, ec)) {
        return relative;
    }
    return std::string(JOULEBENCH_SOURCE_DIR) + "/" + relative;
}

std::string read_calibration_text(const std::string & path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw InputError(path, "calibration text not found (pass a UTF-8 text file with --calib)");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw InputError(path, "cannot read calibration text");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
        throw InputError(path, "calibration text is empty");
    }
    return text;
}

EngineParams fidelity_engine_params(const EngineParams & base, const std::string & model_path, int chunk,
                                    ggml_type kv_type_k, ggml_type kv_type_v) {
    if (chunk < 2) {
        throw UsageError(fmt::format("--chunk {}: a chunk needs at least 2 tokens", chunk));
    }
    EngineParams p = base;
    p.model_path = model_path;
    // One chunk at a time on one sequence (token_distributions clears the cache between
    // chunks), so a context of one chunk is all the KV cache needed.
    p.n_ctx = std::max(chunk, 16);
    p.n_batch = std::max(chunk, 16);
    p.n_ubatch = std::min(std::max(base.n_ubatch, 1), p.n_batch);
    p.n_seq_max = 1;
    p.type_k = type_name(kv_type_k);
    p.type_v = type_name(kv_type_v);
    // A forward pass of a model this small (stories260K: 0.3 M weights) is all per-operation
    // thread synchronisation: measured on 2 shared cores, one thread is 4-20x faster than two
    // (the more the cores are shared, the worse). Only when the caller left the count to us.
    constexpr int64_t k_tiny_model_weights = 10'000'000;
    if (base.n_threads == 0) {
        try {
            if (inspect_gguf(model_path).n_elements < k_tiny_model_weights) {
                p.n_threads = 1;
            }
        } catch (const Error &) {
            // loading the model will report it
        }
    }
    if (ggml_is_quantized(kv_type_v)) {
        p.flash_attn = FlashAttn::on;  // llama.cpp needs it for a quantized V cache
    }
    return p;
}

std::string kv_cache_problem(const std::string & model_path, ggml_type kv_type_k, ggml_type kv_type_v) {
    gguf_init_params params{/*no_alloc =*/true, /*ctx =*/nullptr};
    gguf_context_ptr ctx(gguf_init_from_file(model_path.c_str(), params));
    if (!ctx) {
        return "";  // loading the model will report it
    }
    auto u32 = [&](const std::string & key) -> int64_t {
        const int64_t k = gguf_find_key(ctx.get(), key.c_str());
        return k >= 0 && gguf_get_kv_type(ctx.get(), k) == GGUF_TYPE_UINT32 ? int64_t(gguf_get_val_u32(ctx.get(), k)) : -1;
    };
    const int64_t k_arch = gguf_find_key(ctx.get(), "general.architecture");
    if (k_arch < 0 || gguf_get_kv_type(ctx.get(), k_arch) != GGUF_TYPE_STRING) {
        return "";
    }
    const std::string arch = gguf_get_val_str(ctx.get(), k_arch);
    const int64_t n_embd = u32(arch + ".embedding_length");
    const int64_t n_head = u32(arch + ".attention.head_count");  // per-layer arrays: not handled, say nothing
    const int64_t head_default = n_embd > 0 && n_head > 0 ? n_embd / n_head : -1;
    const int64_t head_k = u32(arch + ".attention.key_length") > 0 ? u32(arch + ".attention.key_length") : head_default;
    const int64_t head_v = u32(arch + ".attention.value_length") > 0 ? u32(arch + ".attention.value_length") : head_default;
    const struct {
        const char * which;
        ggml_type type;
        int64_t head;
    } caches[] = {{"K", kv_type_k, head_k}, {"V", kv_type_v, head_v}};
    for (const auto & c : caches) {
        if (c.head > 0 && ggml_is_quantized(c.type) && c.head % ggml_blck_size(c.type) != 0) {
            return fmt::format("{} cache type {} needs head sizes that are multiples of {}, and this model's are {}",
                               c.which, type_name(c.type), ggml_blck_size(c.type), c.head);
        }
    }
    return "";
}

LogprobMatrix model_distributions(const EngineParams & params, const std::vector<int32_t> & tokens, int chunk) {
    LlamaEngine engine(params);
    return engine.token_distributions(tokens, chunk);
}

FidelityReference compute_reference(const std::string & ref_model, const std::string & text, int n_tokens,
                                    const EngineParams & base, int chunk) {
    if (n_tokens < 16) {
        throw UsageError(fmt::format("--tokens {}: use at least 16 calibration tokens", n_tokens));
    }
    FidelityReference ref;
    ref.model_path = ref_model;
    ref.chunk = chunk;
    LlamaEngine engine(fidelity_engine_params(base, ref_model, chunk));
    ref.tokens = engine.tokenize(text, true);
    if (ref.tokens.size() < 16) {
        throw InputError(ref_model, fmt::format("the calibration text gives only {} tokens (at least 16 needed)",
                                                ref.tokens.size()));
    }
    if (ref.tokens.size() > size_t(n_tokens)) {
        ref.tokens.resize(size_t(n_tokens));
    }
    ref.dist = engine.token_distributions(ref.tokens, chunk);
    return ref;
}

Fidelity measure_fidelity(const FidelityReference & ref, const std::string & test_model, const EngineParams & params) {
    EngineParams p = fidelity_engine_params(params, test_model, ref.chunk, GGML_TYPE_F16, GGML_TYPE_F16);
    p.type_k = params.type_k;  // the caller's KV types and flash attention stand
    p.type_v = params.type_v;
    p.flash_attn = params.flash_attn;
    return compare_distributions(ref.dist, model_distributions(p, ref.tokens, ref.chunk));
}

Fidelity measure_fidelity(const std::string & ref_model, const std::string & test_model,
                          const std::vector<int32_t> & tokens, const EngineParams & base, int chunk) {
    LogprobMatrix ref = model_distributions(fidelity_engine_params(base, ref_model, chunk), tokens, chunk);
    EngineParams p = fidelity_engine_params(base, test_model, chunk, GGML_TYPE_F16, GGML_TYPE_F16);
    p.type_k = base.type_k;
    p.type_v = base.type_v;
    p.flash_attn = base.flash_attn;
    return compare_distributions(ref, model_distributions(p, tokens, chunk));
}

}  // namespace jb
