// joulebench quantize: the quantized file for (model, scheme) from the cache, quantizing it
// through llama.cpp on a miss; prints its path, bits per weight, size and tensor types.

#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "quant/cache.hpp"
#include "quant/scheme_file.hpp"
#include "quant/synth.hpp"
#include "quant/tables.hpp"
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

void print_result(const SchemeResult & r, bool synthetic, const QuantizeArgs & a) {
    const Format f = parse_format(a.format);
    if (f == Format::json) {
        std::cout << quantized_model_json(r, synthetic).dump(2) << "\n";
        return;
    }
    const std::vector<Table> tables = quantized_model_tables(r, synthetic, a.tensors);
    if (f == Format::csv) {
        print_table(std::cout, a.tensors ? tables[1] : tables[0], f);  // one table per CSV stream
        return;
    }
    print_table(std::cout, tables[0], f);
    std::cout << "\n";
    print_table(std::cout, tables[1], f);
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

    SchemeFileOptions o;
    o.quant.n_threads = a.n_threads;
    o.quant.imatrix_path = a.imatrix;
    o.quant.cache_dir = a.cache_dir;
    o.quant.force = a.force;
    o.quant.verbose = a.verbose;
    o.quant.on_progress = [](const std::string & msg) { fmt::print(stderr, "quantize: {}\n", msg); };
    o.kld_budget = a.kld_budget;
    o.dynamic_from = a.dynamic_from;
    o.engine.n_threads = a.n_threads;
    const SchemeResult r = make_scheme_file(a.model, scheme, o).file;
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
