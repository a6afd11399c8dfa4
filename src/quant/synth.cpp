#include "quant/synth.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "ggml-cpp.h"
#include "gguf.h"
#include "llama.h"
#include "quant/hash.hpp"
#include "joulebench/error.hpp"

namespace fs = std::filesystem;

namespace jb {

// ---------------------------------------------------------------------------------------------
// shapes
//
// From each model's Hugging Face config.json (the -Instruct releases). n_vocab is the
// embedding's row count; the GGUF converter pads the tokenizer to it with [PAD<i>] tokens,
// and so do we. rms_eps does not change cost.

const std::vector<SynthShape> & synth_shapes() {
    static const std::vector<SynthShape> shapes = [] {
        auto qwen = [](const char * name, const char * desc, uint32_t n_vocab, uint32_t n_embd, uint32_t n_layer,
                       uint32_t n_head, uint32_t n_head_kv, uint32_t n_ff, float eps, bool tied) {
            SynthShape s;
            s.name = name;
            s.description = desc;
            s.arch = "qwen2";
            s.vocab_file = "ggml-vocab-qwen2.gguf";
            s.n_vocab = n_vocab;
            s.n_embd = n_embd;
            s.n_layer = n_layer;
            s.n_head = n_head;
            s.n_head_kv = n_head_kv;
            s.n_ff = n_ff;
            s.n_ctx_train = 32768;
            s.rope_freq_base = 1000000.0f;
            s.rms_eps = eps;
            s.tied_embeddings = tied;
            s.qkv_bias = true;
            return s;
        };
        auto llama = [](const char * name, const char * desc, const char * vocab, uint32_t n_vocab, uint32_t n_ctx,
                        float rope_base) {
            SynthShape s;
            s.name = name;
            s.description = desc;
            s.arch = "llama";
            s.vocab_file = vocab;
            s.n_vocab = n_vocab;
            s.n_embd = 4096;
            s.n_layer = 32;
            s.n_head = 32;
            s.n_head_kv = 8;
            s.n_ff = 14336;
            s.n_ctx_train = n_ctx;
            s.rope_freq_base = rope_base;
            s.rms_eps = 1e-5f;
            return s;
        };
        return std::vector<SynthShape>{
            qwen("qwen2.5-0.5b", "Qwen2.5-0.5B-Instruct", 151936, 896, 24, 14, 2, 4864, 1e-6f, true),
            qwen("qwen2.5-1.5b", "Qwen2.5-1.5B-Instruct", 151936, 1536, 28, 12, 2, 8960, 1e-6f, true),
            qwen("qwen2.5-3b", "Qwen2.5-3B-Instruct", 151936, 2048, 36, 16, 2, 11008, 1e-6f, true),
            qwen("qwen2.5-7b", "Qwen2.5-7B-Instruct", 152064, 3584, 28, 28, 4, 18944, 1e-6f, false),
            qwen("qwen2.5-14b", "Qwen2.5-14B-Instruct", 152064, 5120, 48, 40, 8, 13824, 1e-5f, false),
            qwen("qwen2.5-32b", "Qwen2.5-32B-Instruct", 152064, 5120, 64, 40, 8, 27648, 1e-5f, false),
            llama("llama-3-8b", "Meta-Llama-3-8B-Instruct", "ggml-vocab-llama-bpe.gguf", 128256, 8192, 500000.0f),
            llama("mistral-7b", "Mistral-7B-Instruct-v0.2", "ggml-vocab-llama-spm.gguf", 32000, 32768, 1000000.0f),
        };
    }();
    return shapes;
}

const SynthShape & find_synth_shape(const std::string & name) {
    std::string names;
    for (const auto & s : synth_shapes()) {
        if (s.name.size() == name.size() &&
            std::equal(s.name.begin(), s.name.end(), name.begin(),
                       [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); })) {
            return s;
        }
        names += (names.empty() ? "" : ", ") + s.name;
    }
    throw UsageError(fmt::format("unknown architecture '{}': known shapes are {}", name, names));
}

int64_t SynthShape::n_params() const {
    const int64_t e = n_embd, kv = (int64_t) n_head_kv * head_dim(), ff = n_ff;
    int64_t per_layer = 2 * e                   // attn_norm, ffn_norm
                        + e * e * 2 + e * kv * 2  // q, o; k, v
                        + 3 * e * ff;             // gate, up, down
    if (qkv_bias) {
        per_layer += e + 2 * kv;
    }
    return (int64_t) n_vocab * e * (tied_embeddings ? 1 : 2) + e + per_layer * n_layer;
}

SynthShape scale_shape(const SynthShape & shape, uint32_t n_layers, double scale) {
    if (!(scale > 0.0 && scale <= 1.0)) {
        throw UsageError(fmt::format("--scale {}: must be in (0, 1]", scale));
    }
    if (n_layers > 512) {  // LLAMA_MAX_LAYERS
        throw UsageError(fmt::format("--layers {}: llama.cpp supports at most 512", n_layers));
    }
    SynthShape s = shape;
    if (n_layers > 0) {
        s.n_layer = n_layers;
    }
    if (scale < 1.0) {
        const uint32_t head_dim = shape.head_dim();
        const uint32_t gqa = shape.n_head / shape.n_head_kv;
        s.n_head_kv = std::max<uint32_t>(1, (uint32_t) std::lround(shape.n_head_kv * scale));
        s.n_head = s.n_head_kv * gqa;
        s.n_embd = s.n_head * head_dim;
        s.n_ff = std::max<uint32_t>(256, (uint32_t) std::lround(shape.n_ff * scale / 256.0) * 256);
    }
    return s;
}

std::string resolve_vocab_dir(const std::string & vocab_dir) {
    if (!vocab_dir.empty()) {
        return vocab_dir;
    }
    if (const char * env = std::getenv("JOULEBENCH_VOCAB_DIR"); env && *env) {
        return env;
    }
    return std::string(JOULEBENCH_SOURCE_DIR) + "/third_party/llama.cpp/models";
}

// ---------------------------------------------------------------------------------------------
// weights

namespace {

inline uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// Unit-variance, zero-mean value number i of a stream: the sum of four 16-bit uniforms
// (Irwin-Hall, n = 4) is close to normal, bounded at 3.5 sigma, and one hash per value.
// Counter-based, so any chunk can be made by any thread, and a tensor's values depend only
// on (seed, tensor name, index).
inline float unit_normal(uint64_t stream, uint64_t i) {
    const uint64_t r = splitmix64(stream + i * 0xD1B54A32D192ED03ULL);
    const uint32_t sum = (uint32_t) (r & 0xFFFF) + (uint32_t) ((r >> 16) & 0xFFFF) + (uint32_t) ((r >> 32) & 0xFFFF) +
                         (uint32_t) (r >> 48);
    constexpr float k = 1.7320508f / 65536.0f;  // sqrt(3): Irwin-Hall(4) has variance 1/3
    return ((float) sum - 2.0f * 65536.0f) * k;
}

struct TensorSpec {
    std::string name;
    int64_t ne0 = 0;
    int64_t ne1 = 1;  // 1 for 1-D tensors
    ggml_type type = GGML_TYPE_F32;
    float stddev = 0.0f;  // 0: every value is `fill`
    float fill = 0.0f;
};

std::vector<TensorSpec> tensor_specs(const SynthShape & s, ggml_type wtype) {
    const int64_t e = s.n_embd, kv = (int64_t) s.n_head_kv * s.head_dim(), ff = s.n_ff;
    // GPT-2 / Llama initialisation: N(0, 0.02) for matrices, the projections that write to
    // the residual stream divided by sqrt(2 * n_layer) so it stays bounded; norms = 1.
    const float std_in = 0.02f;
    const float std_out = 0.02f / std::sqrt(2.0f * (float) s.n_layer);
    std::vector<TensorSpec> t;
    auto mat = [&](std::string name, int64_t ne0, int64_t ne1, float stddev) {
        t.push_back({std::move(name), ne0, ne1, wtype, stddev, 0.0f});
    };
    auto vec = [&](std::string name, int64_t ne0, float stddev, float fill) {
        t.push_back({std::move(name), ne0, 1, GGML_TYPE_F32, stddev, fill});
    };
    mat("token_embd.weight", e, s.n_vocab, std_in);
    for (uint32_t i = 0; i < s.n_layer; ++i) {
        const std::string b = fmt::format("blk.{}.", i);
        vec(b + "attn_norm.weight", e, 0.0f, 1.0f);
        mat(b + "attn_q.weight", e, e, std_in);
        if (s.qkv_bias) {
            vec(b + "attn_q.bias", e, std_in, 0.0f);
        }
        mat(b + "attn_k.weight", e, kv, std_in);
        if (s.qkv_bias) {
            vec(b + "attn_k.bias", kv, std_in, 0.0f);
        }
        mat(b + "attn_v.weight", e, kv, std_in);
        if (s.qkv_bias) {
            vec(b + "attn_v.bias", kv, std_in, 0.0f);
        }
        mat(b + "attn_output.weight", e, e, std_out);
        vec(b + "ffn_norm.weight", e, 0.0f, 1.0f);
        mat(b + "ffn_gate.weight", e, ff, std_in);
        mat(b + "ffn_up.weight", e, ff, std_in);
        mat(b + "ffn_down.weight", ff, e, std_out);
    }
    vec("output_norm.weight", e, 0.0f, 1.0f);
    if (!s.tied_embeddings) {
        mat("output.weight", e, s.n_vocab, std_in);
    }
    return t;
}

// Fills out[0, n) (in `type`) with values [first, first + n) of the tensor's stream.
void make_values(const TensorSpec & spec, uint64_t stream, int64_t first, int64_t n, void * out) {
    constexpr int64_t block = 4096;
    float tmp[block];
    for (int64_t j = 0; j < n; j += block) {
        const int64_t m = std::min(block, n - j);
        for (int64_t k = 0; k < m; ++k) {
            tmp[k] = spec.stddev > 0.0f ? spec.fill + spec.stddev * unit_normal(stream, (uint64_t) (first + j + k)) : spec.fill;
        }
        switch (spec.type) {
            case GGML_TYPE_F16:  ggml_fp32_to_fp16_row(tmp, (ggml_fp16_t *) out + j, m); break;
            case GGML_TYPE_BF16: ggml_fp32_to_bf16_row(tmp, (ggml_bf16_t *) out + j, m); break;
            default:             std::memcpy((float *) out + j, tmp, m * sizeof(float)); break;
        }
    }
}

struct FileCloser {
    void operator()(std::FILE * f) const {
        if (f) {
            std::fclose(f);
        }
    }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

void write_all(std::FILE * f, const void * data, size_t n, const std::string & path) {
    if (n > 0 && std::fwrite(data, 1, n, f) != n) {
        throw InputError(path, fmt::format("write failed: {}", std::strerror(errno)));
    }
}

// Copies the tokenizer.* keys, padding the token list to n_vocab with [PAD<i>] tokens (type
// UNUSED), as convert_hf_to_gguf.py does when a model's embedding has more rows than tokens.
void copy_tokenizer(gguf_context * out, const gguf_context * vocab, uint32_t n_vocab, const std::string & vocab_path) {
    const int64_t k_tokens = gguf_find_key(vocab, "tokenizer.ggml.tokens");
    if (k_tokens < 0 || gguf_get_arr_type(vocab, k_tokens) != GGUF_TYPE_STRING) {
        throw InputError(vocab_path, 0, "tokenizer.ggml.tokens", "missing: not a vocabulary file");
    }
    const size_t n_tokens = gguf_get_arr_n(vocab, k_tokens);
    if (n_tokens > n_vocab) {
        throw InputError(vocab_path, 0, "tokenizer.ggml.tokens",
                         fmt::format("{} tokens, more than the model's {} embedding rows", n_tokens, n_vocab));
    }

    gguf_context_ptr tmp(gguf_init_empty());
    gguf_set_kv(tmp.get(), vocab);
    std::vector<std::string> drop;
    for (int64_t i = 0; i < gguf_get_n_kv(tmp.get()); ++i) {
        const std::string key = gguf_get_key(tmp.get(), i);
        if (key.rfind("tokenizer.", 0) != 0) {
            drop.push_back(key);
        }
    }
    for (const auto & key : drop) {
        gguf_remove_key(tmp.get(), key.c_str());
    }
    gguf_set_kv(out, tmp.get());

    if (n_tokens == n_vocab) {
        return;
    }
    std::vector<std::string> pads;
    for (size_t i = n_tokens; i < n_vocab; ++i) {
        pads.push_back(fmt::format("[PAD{}]", i));
    }
    std::vector<const char *> tokens;
    for (size_t i = 0; i < n_tokens; ++i) {
        tokens.push_back(gguf_get_arr_str(vocab, k_tokens, i));
    }
    for (const auto & p : pads) {
        tokens.push_back(p.c_str());
    }
    gguf_set_arr_str(out, "tokenizer.ggml.tokens", tokens.data(), tokens.size());

    if (int64_t k = gguf_find_key(vocab, "tokenizer.ggml.token_type"); k >= 0) {
        std::vector<int32_t> types((const int32_t *) gguf_get_arr_data(vocab, k),
                                   (const int32_t *) gguf_get_arr_data(vocab, k) + gguf_get_arr_n(vocab, k));
        types.resize(n_vocab, LLAMA_TOKEN_TYPE_UNUSED);
        gguf_set_arr_data(out, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types.data(), types.size());
    }
    if (int64_t k = gguf_find_key(vocab, "tokenizer.ggml.scores"); k >= 0) {
        std::vector<float> scores((const float *) gguf_get_arr_data(vocab, k),
                                  (const float *) gguf_get_arr_data(vocab, k) + gguf_get_arr_n(vocab, k));
        scores.resize(n_vocab, 0.0f);
        gguf_set_arr_data(out, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(), scores.size());
    }
}

}  // namespace

SynthResult write_synthetic_model(const std::string & shape_name, const std::string & out_path, const SynthOptions & opts) {
    return write_synthetic_model(find_synth_shape(shape_name), out_path, opts);
}

SynthResult write_synthetic_model(const SynthShape & base_shape, const std::string & out_path, const SynthOptions & opts) {
    if (opts.type != GGML_TYPE_F16 && opts.type != GGML_TYPE_BF16 && opts.type != GGML_TYPE_F32) {
        throw UsageError(fmt::format("--type {}: synthetic weights are f16, bf16 or f32 (quantize them afterwards)",
                                     ggml_type_name(opts.type)));
    }
    const SynthShape shape = scale_shape(base_shape, opts.n_layers, opts.scale);
    if (shape.n_head == 0 || shape.n_head_kv == 0 || shape.n_head % shape.n_head_kv != 0 || shape.n_embd % shape.n_head != 0) {
        throw UsageError(fmt::format("shape {}: n_head {} / n_head_kv {} / n_embd {} are inconsistent", shape.name,
                                     shape.n_head, shape.n_head_kv, shape.n_embd));
    }

    const std::string vocab_path = (fs::path(resolve_vocab_dir(opts.vocab_dir)) / shape.vocab_file).string();
    std::error_code ec;
    if (!fs::is_regular_file(vocab_path, ec)) {
        throw InputError(vocab_path, "vocabulary file not found: pass --vocab-dir (llama.cpp's models/ directory) "
                                     "or set JOULEBENCH_VOCAB_DIR");
    }
    gguf_init_params vparams{/*no_alloc =*/true, /*ctx =*/nullptr};
    gguf_context_ptr vocab(gguf_init_from_file(vocab_path.c_str(), vparams));
    if (!vocab) {
        throw InputError(vocab_path, "not a readable GGUF vocabulary file");
    }

    // --- metadata
    gguf_context_ptr ctx(gguf_init_empty());
    gguf_context * g = ctx.get();
    const std::string & a = shape.arch;
    gguf_set_val_str(g, "general.architecture", a.c_str());
    gguf_set_val_str(g, "general.type", "model");
    gguf_set_val_str(g, "general.name", ("synthetic-" + base_shape.name).c_str());
    gguf_set_val_u32(g, "general.file_type",
                     opts.type == GGML_TYPE_F16 ? LLAMA_FTYPE_MOSTLY_F16
                     : opts.type == GGML_TYPE_BF16 ? LLAMA_FTYPE_MOSTLY_BF16 : LLAMA_FTYPE_ALL_F32);
    gguf_set_val_u32(g, (a + ".vocab_size").c_str(), shape.n_vocab);
    gguf_set_val_u32(g, (a + ".context_length").c_str(), shape.n_ctx_train);
    gguf_set_val_u32(g, (a + ".embedding_length").c_str(), shape.n_embd);
    gguf_set_val_u32(g, (a + ".block_count").c_str(), shape.n_layer);
    gguf_set_val_u32(g, (a + ".feed_forward_length").c_str(), shape.n_ff);
    gguf_set_val_u32(g, (a + ".attention.head_count").c_str(), shape.n_head);
    gguf_set_val_u32(g, (a + ".attention.head_count_kv").c_str(), shape.n_head_kv);
    gguf_set_val_u32(g, (a + ".rope.dimension_count").c_str(), shape.head_dim());
    gguf_set_val_f32(g, (a + ".rope.freq_base").c_str(), shape.rope_freq_base);
    gguf_set_val_f32(g, (a + ".attention.layer_norm_rms_epsilon").c_str(), shape.rms_eps);
    gguf_set_val_bool(g, k_key_synthetic, true);
    gguf_set_val_str(g, k_key_synth_arch, base_shape.name.c_str());
    gguf_set_val_u64(g, k_key_synth_seed, opts.seed);
    gguf_set_val_f32(g, k_key_synth_scale, (float) opts.scale);
    gguf_set_val_u32(g, k_key_synth_layers, shape.n_layer);
    gguf_set_val_str(g, "joulebench.synth.vocab", shape.vocab_file.c_str());
    copy_tokenizer(g, vocab.get(), shape.n_vocab, vocab_path);
    vocab.reset();

    // --- tensor infos (no data: a no_alloc context holds only their shapes)
    const std::vector<TensorSpec> specs = tensor_specs(shape, opts.type);
    ggml_init_params ip{ggml_tensor_overhead() * (specs.size() + 1), nullptr, /*no_alloc =*/true};
    ggml_context_ptr tctx(ggml_init(ip));
    for (const auto & sp : specs) {
        ggml_tensor * t = sp.ne1 == 1 ? ggml_new_tensor_1d(tctx.get(), sp.type, sp.ne0)
                                      : ggml_new_tensor_2d(tctx.get(), sp.type, sp.ne0, sp.ne1);
        ggml_set_name(t, sp.name.c_str());
        gguf_add_tensor(g, t);
    }

    // --- header, then each tensor's bytes in order, padded to the alignment
    const std::string part_path = out_path + ".part";
    if (const fs::path parent = fs::path(out_path).parent_path(); !parent.empty()) {
        fs::create_directories(parent, ec);
    }
    FilePtr f(std::fopen(part_path.c_str(), "wb"));
    if (!f) {
        throw InputError(part_path, fmt::format("cannot create: {}", std::strerror(errno)));
    }
    try {
        const size_t meta_bytes = gguf_get_meta_size(g);
        {
            std::vector<uint8_t> meta(meta_bytes);
            gguf_get_meta_data(g, meta.data());
            write_all(f.get(), meta.data(), meta.size(), part_path);
        }

        const int n_threads = opts.n_threads > 0 ? opts.n_threads
                                                 : (int) std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
        constexpr int64_t chunk_elems = 1 << 22;
        std::vector<uint8_t> buf;
        const std::vector<uint8_t> zeros(gguf_get_alignment(g), 0);
        uint64_t pos = meta_bytes;
        for (size_t i = 0; i < specs.size(); ++i) {
            const TensorSpec & sp = specs[i];
            const uint64_t want_pos = meta_bytes + gguf_get_tensor_offset(g, (int64_t) i);
            if (want_pos < pos) {
                throw std::logic_error("synth: tensor offsets out of order");
            }
            write_all(f.get(), zeros.data(), want_pos - pos, part_path);
            pos = want_pos;

            const uint64_t stream = splitmix64(opts.seed ^ xxh64(sp.name));
            const int64_t n = sp.ne0 * sp.ne1;
            const size_t elem_bytes = ggml_type_size(sp.type);  // F32/F16/BF16: block size 1
            for (int64_t first = 0; first < n; first += chunk_elems) {
                const int64_t m = std::min(chunk_elems, n - first);
                buf.resize((size_t) m * elem_bytes);
                const int64_t per = (m + n_threads - 1) / n_threads;
                std::vector<std::thread> workers;
                for (int t = 1; t < n_threads && t * per < m; ++t) {
                    const int64_t lo = t * per, cnt = std::min(per, m - lo);
                    workers.emplace_back(make_values, std::cref(sp), stream, first + lo, cnt, buf.data() + lo * elem_bytes);
                }
                make_values(sp, stream, first, std::min(per, m), buf.data());
                for (auto & w : workers) {
                    w.join();
                }
                write_all(f.get(), buf.data(), buf.size(), part_path);
                pos += buf.size();
            }
        }
        const uint64_t padded = GGML_PAD(pos, gguf_get_alignment(g));
        write_all(f.get(), zeros.data(), padded - pos, part_path);
        if (std::fflush(f.get()) != 0) {
            throw InputError(part_path, fmt::format("write failed: {}", std::strerror(errno)));
        }
        f.reset();
        fs::rename(part_path, out_path);
    } catch (...) {
        f.reset();
        fs::remove(part_path, ec);
        throw;
    }

    SynthResult r;
    r.path = out_path;
    r.shape = shape;
    r.file_bytes = fs::file_size(out_path, ec);
    r.n_params = shape.n_params();
    r.vocab_path = vocab_path;
    return r;
}

// ---------------------------------------------------------------------------------------------
// reading the flag back

std::optional<SynthInfo> read_synth_info(const std::string & path) {
    gguf_init_params params{/*no_alloc =*/true, /*ctx =*/nullptr};
    gguf_context_ptr g(gguf_init_from_file(path.c_str(), params));
    if (!g) {
        throw InputError(path, "not a readable GGUF file");
    }
    const int64_t k = gguf_find_key(g.get(), k_key_synthetic);
    if (k < 0 || gguf_get_kv_type(g.get(), k) != GGUF_TYPE_BOOL || !gguf_get_val_bool(g.get(), k)) {
        return std::nullopt;
    }
    SynthInfo info;
    if (int64_t i = gguf_find_key(g.get(), k_key_synth_arch); i >= 0 && gguf_get_kv_type(g.get(), i) == GGUF_TYPE_STRING) {
        info.shape = gguf_get_val_str(g.get(), i);
    }
    if (int64_t i = gguf_find_key(g.get(), k_key_synth_seed); i >= 0 && gguf_get_kv_type(g.get(), i) == GGUF_TYPE_UINT64) {
        info.seed = gguf_get_val_u64(g.get(), i);
    }
    if (int64_t i = gguf_find_key(g.get(), k_key_synth_scale); i >= 0 && gguf_get_kv_type(g.get(), i) == GGUF_TYPE_FLOAT32) {
        info.scale = gguf_get_val_f32(g.get(), i);
    }
    if (int64_t i = gguf_find_key(g.get(), k_key_synth_layers); i >= 0 && gguf_get_kv_type(g.get(), i) == GGUF_TYPE_UINT32) {
        info.n_layer = gguf_get_val_u32(g.get(), i);
    }
    return info;
}

bool is_synthetic_model(const std::string & path) {
    return read_synth_info(path).has_value();
}

}  // namespace jb
