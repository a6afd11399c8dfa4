// joulebench quantize: the quantized file for (model, scheme) from the cache, quantizing it
// through llama.cpp on a miss; prints its path, bits per weight, size and tensor types.

#include <cstdio>
#include <iostream>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "quant/dynamic_plan.hpp"
#include "quant/dynamic.hpp"
#include "quant/cache.hpp"
#include "quant/gguf_file.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"
#include "quant/synth.hpp"
#include "joulebench/table.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

namespace {

struct QuantizeArgs {
    std::string model;
    std::string scheme;
    std::string cache_dir;
    std::string imatrix;
    std::string dynamic_from;
    double kld_budget = 0.01;
    std::string format = "table";
    int n_threads = 0;
    bool force = false;
    bool verbose = false;
    bool tensors = false;
    bool list = false;
};

Table schemes_table() {
    Table t;
    t.title = "Quantization schemes (--scheme NAME[+kv8|+kv4] or --scheme FILE.json)";
    t.add_column("name", "Scheme");
    t.add_column("weights", "Weights");
    t.add_column("kv", "KV cache");
    t.add_column("description", "Description");
    t.columns.back().right_align = false;
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

void print_result(const SchemeResult & r, bool synthetic, const QuantizeArgs & a) {
    const Format f = parse_format(a.format);
    const GgufSummary g = inspect_gguf(r.path);

    if (f == Format::json) {
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
        std::cout << doc.dump(2) << "\n";
        return;
    }

    Table s;
    s.title = "Quantized model";
    s.add_column("scheme", "Scheme");
    s.add_column("path", "Path");
    s.columns.back().right_align = false;
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
    if (a.tensors) {
        t.title = "Tensors";
        t.add_column("tensor", "Tensor");
        t.columns.back().right_align = false;
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
    if (f == Format::csv) {
        print_table(std::cout, a.tensors ? t : s, f);  // one table per CSV stream
        return;
    }
    print_table(std::cout, s, f);
    std::cout << "\n";
    print_table(std::cout, t, f);
}

void run_quantize(const QuantizeArgs & a) {
    if (a.list) {
        print_table(std::cout, schemes_table(), parse_format(a.format));
        return;
    }
    if (a.model.empty()) {
        throw UsageError("quantize: -m/--model is required");
    }
    if (a.scheme.empty()) {
        throw UsageError("quantize: --scheme is required (see --list)");
    }
    parse_format(a.format);  // reject a bad -o before quantizing
    const Scheme scheme = parse_scheme(a.scheme);

    QuantizeOptions o;
    o.n_threads = a.n_threads;
    o.imatrix_path = a.imatrix;
    o.cache_dir = a.cache_dir;
    o.force = a.force;
    o.verbose = a.verbose;
    o.on_progress = [](const std::string & msg) { fmt::print(stderr, "quantize: {}\n", msg); };

    SchemeResult r;
    if (scheme.needs_tensor_types()) {  // dynamic: search (or read from the cache) the per-tensor types
        DynamicOptions d;
        d.kld_budget = a.kld_budget;
        d.quant = o;
        d.engine.n_threads = a.n_threads;
        d.on_progress = o.on_progress;
        std::string note;
        d.plan_from = dynamic_plan_source(a.model, a.dynamic_from, &note);
        if (!note.empty()) fmt::print(stderr, "{}\n", note);
        const DynamicResult dr = build_dynamic_scheme(a.model, d);
        if (!dr.kv_note.empty()) fmt::print(stderr, "quantize: dynamic: {}\n", dr.kv_note);
        r = dr.scheme;
    } else {
        r = quantize_cached(a.model, scheme, o);
    }
    if (r.is_source) {
        fmt::print(stderr, "quantize: {} already has the scheme's types: using it as it is\n", r.path);
    } else if (r.cache_hit) {
        fmt::print(stderr, "quantize: cache hit: {}\n", r.path);
    } else {
        fmt::print(stderr, "quantize: wrote {} in {:.2f} s\n", r.path, r.quantize_s);
    }
    if (scheme.flash_attn_required()) {
        fmt::print(stderr, "quantize: note: the {} V cache needs flash attention\n", type_name(scheme.kv_type_v));
    }
    print_result(r, is_synthetic_model(r.path), a);
}

}  // namespace

void add_quantize_command(CLI::App & app) {
    auto args = std::make_shared<QuantizeArgs>();
    CLI::App * cmd = app.add_subcommand(
        "quantize", "Quantize a GGUF model to a scheme (cached): prints the file, bits per weight, size and tensor types");
    cmd->add_option("-m,--model", args->model, "Source GGUF model (F32, F16 or BF16)");
    cmd->add_option("--scheme", args->scheme,
                    "Preset (fp16 bf16 int8 q6_k q5_k_m q4_k_m iq4_xs dynamic), any llama.cpp file type, "
                    "optionally +kv8/+kv4, or a JSON scheme file");
    cmd->add_option("--cache-dir", args->cache_dir, "Cache directory (default: " + default_cache_dir() + ")");
    cmd->add_option("--imatrix", args->imatrix, "Importance matrix file (llama-imatrix output)");
    cmd->add_option("--kld-budget", args->kld_budget, "dynamic: mean KL divergence budget vs fp16")->capture_default_str();
    cmd->add_option("--dynamic-from", args->dynamic_from,
                    "dynamic: follow the plan measured on this model, by relative depth (default for synthetic "
                    "models: the shipped stories260K)");
    cmd->add_option("-t,--threads", args->n_threads, "Threads (0: all)")->capture_default_str();
    cmd->add_option("-o,--output", args->format, "Output format: table, md, csv, json")->capture_default_str();
    cmd->add_flag("--tensors", args->tensors, "List every tensor with its type instead of counts per type");
    cmd->add_flag("--force", args->force, "Quantize again even if the cache has the file");
    cmd->add_flag("-v,--verbose", args->verbose, "Show llama.cpp's quantization log");
    cmd->add_flag("--list", args->list, "List the presets and exit");
    cmd->footer(
        "JSON scheme file:\n"
        "  {\"name\": \"q4-ffn8\", \"default_type\": \"q4_k_m\",\n"
        "   \"overrides\": [{\"pattern\": \"ffn_down\", \"type\": \"q8_0\"}], \"kv\": \"q8_0\"}\n"
        "  pattern: regex searched in tensor names (as llama-quantize --tensor-type); first match wins.\n"
        "Example:\n"
        "  joulebench quantize -m model-f16.gguf --scheme int8\n");
    cmd->callback([args] { run_quantize(*args); });
}

}  // namespace jb::cli
