#include "quant/tables.hpp"

#include <map>
#include <tuple>

#include <fmt/format.h>

#include "quant/gguf_file.hpp"
#include "quant/scheme.hpp"
#include "quant/synth.hpp"

namespace jb {

Table schemes_table() {
    Table t;
    t.title = "Quantization schemes (--scheme NAME[+kv8|+kv4] or --scheme FILE.json)";
    t.add_column("name", "Scheme");
    t.add_column("weights", "Weights");
    t.add_column("kv", "KV cache");
    t.add_text_column("description", "Description");
    for (const auto & [name, desc] : scheme_presets()) {
        const Scheme s = parse_scheme(name);
        t.add_row({name, ftype_name(s.ftype), type_name(s.kv_type_k) + "/" + type_name(s.kv_type_v), desc});
    }
    std::string all;
    for (const auto & n : ftype_names()) {
        all += (all.empty() ? "" : " ") + n;
    }
    t.notes.push_back("any llama.cpp file type by name is accepted too: " + all);
    t.notes.push_back("+kv8: Q8_0 KV cache (needs flash attention); +kv4: Q4_0 KV cache");
    return t;
}

nlohmann::json quantized_model_json(const SchemeResult & r, bool synthetic) {
    nlohmann::json types = nlohmann::json::object();
    for (const auto & [name, t] : r.tensor_types) {
        types[name] = type_name(t);
    }
    nlohmann::json fallbacks = nlohmann::json::array();
    for (const auto & fb : r.fallbacks) {
        fallbacks.push_back({{"tensor", fb.tensor}, {"wanted", type_name(fb.wanted)}, {"used", type_name(fb.used)}});
    }
    nlohmann::json doc = {
        {"scheme", r.scheme_name},     {"scheme_canonical", r.scheme}, {"path", r.path},
        {"source", r.source_path},     {"source_xxh64", r.source_xxh64},
        {"file_bytes", r.file_bytes},  {"bpw", r.bpw},                 {"n_params", r.n_params},
        {"cache_hit", r.cache_hit},    {"is_source", r.is_source},     {"quantize_s", r.quantize_s},   {"synthetic", synthetic},
        {"type_counts", r.type_counts()}, {"tensor_types", types},     {"fallbacks", fallbacks},
    };
    return doc;
}

std::vector<Table> quantized_model_tables(const SchemeResult & r, bool synthetic, bool tensors) {
    const GgufSummary g = inspect_gguf(r.path);
    Table s;
    s.title = "Quantized model";
    s.add_column("scheme", "Scheme");
    s.add_text_column("path", "Path");
    s.add_column("file_bytes", "Size (bytes)");
    s.add_column("size_mib", "Size (MiB)", 2);
    s.add_column("bpw", "BPW", 3);
    s.add_column("n_params", "Params");
    s.add_column("cache", "Cache");
    s.add_column("quantize_s", "Quantize (s)", 2);
    s.add_row({r.scheme_name, r.path, (int64_t) r.file_bytes, r.file_bytes / (1024.0 * 1024.0), r.bpw, r.n_params,
               std::string(r.is_source ? "source" : r.cache_hit ? "hit" : "miss"), r.quantize_s});
    s.notes.push_back("scheme: " + r.scheme);
    if (synthetic) {
        s.notes.push_back("synthetic model (random weights): accuracy is chance by construction");
    }
    if (!r.fallbacks.empty()) {
        s.notes.push_back(fmt::format("{} tensor(s) got another type than asked because their row length is not a "
                                      "multiple of the block size (see --tensors)", r.fallbacks.size()));
    }

    Table t;
    if (tensors) {
        t.title = "Tensors";
        t.add_text_column("tensor", "Tensor");
        t.add_column("type", "Type");
        t.add_column("shape", "Shape");
        t.add_column("n_elements", "Elements");
        t.add_column("bytes", "Bytes");
        t.add_column("fallback_from", "Fallback from");
        for (const auto & ten : g.tensors) {
            std::string shape = std::to_string(ten.ne[0]);
            for (int d = 1; d < ten.n_dims; ++d) {
                shape += "x" + std::to_string(ten.ne[d]);
            }
            std::string fb;
            for (const auto & x : r.fallbacks) {
                if (x.tensor == ten.name) {
                    fb = type_name(x.wanted);
                }
            }
            t.add_row({ten.name, type_name(ten.type), shape, ten.n_elements, (int64_t) ten.n_bytes, fb});
        }
    } else {
        t.title = "Tensor types";
        t.add_column("type", "Type");
        t.add_column("tensors", "Tensors");
        t.add_column("n_elements", "Elements");
        t.add_column("bytes", "Bytes");
        t.add_column("share", "Share of bytes (%)", 1);
        std::map<std::string, std::tuple<int64_t, int64_t, int64_t>> by_type;
        for (const auto & ten : g.tensors) {
            auto & [n, e, b] = by_type[type_name(ten.type)];
            n += 1;
            e += ten.n_elements;
            b += (int64_t) ten.n_bytes;
        }
        for (const auto & [type, v] : by_type) {
            const auto & [n, e, b] = v;
            t.add_row({type, n, e, b, g.tensor_bytes ? 100.0 * (double) b / (double) g.tensor_bytes : 0.0});
        }
    }
    return {s, t};
}

Table synth_shapes_table() {
    Table t;
    t.title = "Synthetic model shapes (joulebench synth --arch NAME)";
    t.add_text_column("name", "Name");
    t.add_text_column("model", "Copies");
    t.add_text_column("arch", "llama.cpp arch");
    t.add_column("n_embd", "n_embd");
    t.add_column("n_layer", "Layers");
    t.add_column("n_head", "Heads");
    t.add_column("n_head_kv", "KV heads");
    t.add_column("head_dim", "Head dim");
    t.add_column("n_ff", "n_ff");
    t.add_column("n_vocab", "Vocab");
    t.add_column("n_ctx_train", "Context");
    t.add_column("rope_freq_base", "RoPE base", 0);
    t.add_column("rms_eps", "RMS eps", 7);
    t.add_column("tied_embeddings", "Tied emb");
    t.add_column("qkv_bias", "QKV bias");
    t.add_column("params_b", "Params (B)", 2);
    t.add_column("f16_gib", "F16 size (GiB)", 1);
    for (const auto & s : synth_shapes()) {
        t.add_row({s.name, s.description, s.arch, (int64_t) s.n_embd, (int64_t) s.n_layer, (int64_t) s.n_head,
                   (int64_t) s.n_head_kv, (int64_t) s.head_dim(), (int64_t) s.n_ff, (int64_t) s.n_vocab,
                   (int64_t) s.n_ctx_train, (double) s.rope_freq_base, (double) s.rms_eps,
                   std::string(s.tied_embeddings ? "yes" : "no"), std::string(s.qkv_bias ? "yes" : "no"),
                   s.n_params() / 1e9, s.n_params() * 2.0 / (1024.0 * 1024.0 * 1024.0)});
    }
    t.notes.push_back("tokenizers come from llama.cpp's models/ggml-vocab-*.gguf (padded to the embedding's rows)");
    return t;
}

Table synth_result_table(const SynthResult & r, const std::string & shape_name, const SynthOptions & o) {
    Table t;
    t.title = "Synthetic model";
    t.add_column("path", "Path");
    t.add_column("arch", "Shape");
    t.add_column("n_layer", "Layers");
    t.add_column("n_embd", "n_embd");
    t.add_column("n_head", "Heads");
    t.add_column("n_head_kv", "KV heads");
    t.add_column("n_ff", "n_ff");
    t.add_column("n_vocab", "Vocab");
    t.add_column("type", "Type");
    t.add_column("seed", "Seed");
    t.add_column("n_params", "Params");
    t.add_column("file_bytes", "Bytes");
    t.add_row({r.path, shape_name, (int64_t) r.shape.n_layer, (int64_t) r.shape.n_embd, (int64_t) r.shape.n_head,
               (int64_t) r.shape.n_head_kv, (int64_t) r.shape.n_ff, (int64_t) r.shape.n_vocab,
               std::string(ggml_type_name(o.type)), (int64_t) o.seed, r.n_params, (int64_t) r.file_bytes});
    t.notes.push_back("synthetic weights: accuracy is chance by construction (joulebench.synthetic = true)");
    return t;
}

}  // namespace jb
