// joulebench fidelity: how far each scheme's next-token distributions are from the fp16
// reference on a calibration text (mean / p99 KL divergence, top-1 agreement, perplexity),
// next to its bits per weight and file size. `dynamic` runs (or reads from the cache) its
// sensitivity search first and shows the type it chose for each group of tensors.

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "joulebench/error.hpp"
#include "joulebench/table.hpp"
#include "quant/cache.hpp"
#include "quant/compare.hpp"
#include "util/strings.hpp"

namespace jb::cli {

namespace {

struct FidelityArgs {
    std::string model;
    std::string schemes = "int8,q4_k_m";
    std::string calib;
    int n_tokens = 1024;
    int chunk = 256;
    double kld_budget = 0.01;
    std::string candidates = "q4_k,q6_k,q8_0";
    std::string cache_dir;
    std::string imatrix;
    std::string format = "table";
    int n_threads = 0;
    int n_gpu_layers = 99;
    std::string flash_attn = "auto";
    bool show_types = false;
    bool verbose = false;
};

void run_fidelity(const FidelityArgs & a) {
    const Format format = parse_format(a.format);
    FidelityComparisonSpec spec;
    spec.model = a.model;
    spec.schemes = split_list(a.schemes, "--schemes");
    spec.calib = a.calib;
    spec.n_tokens = a.n_tokens;
    spec.chunk = a.chunk;
    spec.kld_budget = a.kld_budget;
    spec.candidates = split_list(a.candidates, "--candidates");
    spec.cache_dir = a.cache_dir;
    spec.imatrix = a.imatrix;
    spec.n_threads = a.n_threads;
    spec.n_gpu_layers = a.n_gpu_layers;
    spec.flash_attn = parse_flash_attn(a.flash_attn);
    spec.verbose = a.verbose;
    spec.on_progress = [](const std::string & msg) { fmt::print(stderr, "fidelity: {}\n", msg); };

    const FidelityComparison c = compare_fidelity(spec);
    if (format == Format::json) {
        std::cout << fidelity_json(c, a.show_types).dump(2) << "\n";
        return;
    }
    const std::vector<Table> tables = fidelity_tables(c, a.show_types);
    for (size_t i = 0; i < tables.size(); ++i) {
        if (i > 0 && format == Format::csv) {
            return;  // one table per CSV stream
        }
        if (i > 0) std::cout << "\n";
        print_table(std::cout, tables[i], format);
    }
}

}  // namespace

void add_fidelity_command(CLI::App & app) {
    auto args = std::make_shared<FidelityArgs>();
    CLI::App * cmd = app.add_subcommand(
        "fidelity", "KL divergence, top-1 agreement and perplexity of quantization schemes against fp16 on calibration text");
    cmd->add_option("-m,--model", args->model, "Source GGUF model (F32, F16 or BF16)");
    cmd->add_option("--schemes", args->schemes,
                    "Comma-separated schemes: presets (int8, q4_k_m, dynamic, ...), llama.cpp file types, "
                    "+kv8/+kv4 suffixes, JSON files")
        ->capture_default_str();
    cmd->add_option("--calib", args->calib, "Calibration text (default: " + default_calibration_path() + ")");
    cmd->add_option("--tokens", args->n_tokens, "Calibration tokens: the first N of the text")->capture_default_str();
    cmd->add_option("--chunk", args->chunk, "Tokens per independently evaluated chunk (as llama-perplexity -c)")
        ->capture_default_str();
    cmd->add_option("--kld-budget", args->kld_budget, "dynamic: mean KLD the chosen types must stay within")
        ->capture_default_str();
    cmd->add_option("--candidates", args->candidates, "dynamic: weight types a group may get")->capture_default_str();
    cmd->add_option("--cache-dir", args->cache_dir, "Cache directory (default: " + default_cache_dir() + ")");
    cmd->add_option("--imatrix", args->imatrix, "Importance matrix for the quantizations (llama-imatrix output)");
    cmd->add_option("-o,--output", args->format, "Output format: table, md, csv, json")->capture_default_str();
    cmd->add_option("-t,--threads", args->n_threads, "Threads (0: all)")->capture_default_str();
    cmd->add_option("--ngl,--n-gpu-layers", args->n_gpu_layers, "Layers to offload to the GPU (CUDA builds)")
        ->capture_default_str();
    cmd->add_option("--fa,--flash-attn", args->flash_attn, "Flash attention: on, off or auto (on for a quantized V cache)")
        ->capture_default_str();
    cmd->add_flag("--show-types", args->show_types,
                  "Also list every tensor's type, and dynamic's full sensitivity table");
    cmd->add_flag("-v,--verbose", args->verbose, "Show llama.cpp's log");
    cmd->footer(
        "Every scheme is compared with the fp16 scheme of the same model (F16 weights, F16 KV cache), as\n"
        "llama-perplexity --kl-divergence does: mean and 99th-percentile KL(fp16 || scheme) per token,\n"
        "how often the most likely next token agrees, and perplexity of the text under both.\n"
        "dynamic searches per-group types for the budget first (cached; docs/quantization.md).\n"
        "Examples:\n"
        "  joulebench fidelity -m models/stories260K.gguf --schemes int8,q4_k_m,dynamic\n"
        "  joulebench fidelity -m model-f16.gguf --schemes dynamic --kld-budget 0.005 --show-types\n");
    cmd->callback([args] { run_fidelity(*args); });
}

}  // namespace jb::cli
