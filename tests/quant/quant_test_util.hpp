#pragma once
// Shared fixtures for the quant tests: loading a GGUF with llama.cpp to check that it decodes
// to finite logits, and running a shell command.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llama.h"
#include "support/temp_dir.hpp"

namespace jbtest {

// llama.cpp is chatty; tests keep its errors only.
inline void quiet_llama_log() {
    llama_log_set([](ggml_log_level level, const char * text, void *) {
        if (level == GGML_LOG_LEVEL_ERROR) {
            std::fputs(text, stderr);
        }
    }, nullptr);
}

struct LlamaModelDeleter {
    void operator()(llama_model * m) const { llama_model_free(m); }
};
struct LlamaContextDeleter {
    void operator()(llama_context * c) const { llama_free(c); }
};

struct DecodeCheck {
    bool loaded = false;
    bool decoded = false;
    int n_tokens = 0;
    int n_vocab = 0;
    int n_nonfinite = 0;
    float min_logit = 0.0f;
    float max_logit = 0.0f;
};

// Loads `path` on the CPU, decodes a short prompt and inspects the last token's logits.
inline DecodeCheck decode_prompt(const std::string & path, ggml_type kv_type = GGML_TYPE_F16, bool flash_attn = false) {
    static bool init = [] {
        llama_backend_init();
        quiet_llama_log();
        return true;
    }();
    (void) init;
    DecodeCheck r;
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    std::unique_ptr<llama_model, LlamaModelDeleter> model(llama_model_load_from_file(path.c_str(), mp));
    if (!model) {
        return r;
    }
    r.loaded = true;
    const llama_vocab * vocab = llama_model_get_vocab(model.get());
    r.n_vocab = llama_vocab_n_tokens(vocab);

    const std::string text = "The quick brown fox jumps over the lazy dog";
    std::vector<llama_token> tokens(64);
    const int n = llama_tokenize(vocab, text.c_str(), (int32_t) text.size(), tokens.data(), (int32_t) tokens.size(),
                                 /*add_special =*/true, /*parse_special =*/false);
    if (n <= 0) {
        return r;
    }
    tokens.resize(n);
    r.n_tokens = n;

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 128;
    cp.n_batch = 128;
    cp.n_ubatch = 128;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    cp.no_perf = true;
    cp.type_k = kv_type;
    cp.type_v = kv_type;
    cp.flash_attn_type = flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    std::unique_ptr<llama_context, LlamaContextDeleter> ctx(llama_init_from_model(model.get(), cp));
    if (!ctx) {
        return r;
    }
    if (llama_decode(ctx.get(), llama_batch_get_one(tokens.data(), (int32_t) tokens.size())) != 0) {
        return r;
    }
    r.decoded = true;
    const float * logits = llama_get_logits_ith(ctx.get(), -1);
    r.min_logit = INFINITY;
    r.max_logit = -INFINITY;
    for (int i = 0; i < r.n_vocab; ++i) {
        if (!std::isfinite(logits[i])) {
            ++r.n_nonfinite;
        } else {
            r.min_logit = std::min(r.min_logit, logits[i]);
            r.max_logit = std::max(r.max_logit, logits[i]);
        }
    }
    return r;
}

// Runs a shell command (the caller adds any redirection) and returns what it wrote to stdout;
// *status gets pclose()'s status (-1 if it could not start).
inline std::string run_shell(const std::string & cmd, int * status) {
    std::string out;
    FILE * p = ::popen(cmd.c_str(), "r");
    if (!p) {
        *status = -1;
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    *status = ::pclose(p);
    return out;
}

}  // namespace jbtest
