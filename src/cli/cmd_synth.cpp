// joulebench synth: writes a synthetic model (real architecture and tokenizer, seeded random
// weights) for energy and speed measurements where no trained weights can be downloaded.

#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "quant/scheme.hpp"
#include "quant/synth.hpp"
#include "quant/tables.hpp"
#include "joulebench/table.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::cli {

namespace {

struct SynthArgs {
    std::string arch;
    std::string out_path;
    uint64_t seed = 0;
    uint32_t n_layers = 0;
    std::string scale = "1";
    std::string type = "f16";
    std::string vocab_dir;
    std::string format = "table";
    bool list = false;
};

// --scale: "0.25" or "1/16".
double parse_scale(const std::string & s) {
    const size_t slash = s.find('/');
    const std::optional<double> num = parse_double(s.substr(0, slash));
    const std::optional<double> den = slash == std::string::npos ? 1.0 : parse_double(s.substr(slash + 1));
    if (!num || !den || *den == 0.0) {
        throw UsageError(fmt::format("--scale '{}': expected a number or a fraction such as 1/16", s));
    }
    return *num / *den;
}

std::string shapes_help() {
    std::string s = "Shapes:\n";
    for (const auto & sh : synth_shapes()) {
        s += fmt::format("  {:<14} {:<26} {:>5} x {:>2} layers, {:>2}/{:<2} heads, n_ff {:>5}, vocab {}{}\n", sh.name,
                         sh.description, sh.n_embd, sh.n_layer, sh.n_head, sh.n_head_kv, sh.n_ff, sh.n_vocab,
                         sh.tied_embeddings ? ", tied" : "");
    }
    s += "Examples:\n"
         "  joulebench synth --arch qwen2.5-7b qwen7b-synth.gguf\n"
         "  joulebench synth --arch llama-3-8b tiny.gguf --layers 2 --scale 1/16\n";
    return s;
}

void run_synth(const SynthArgs & a) {
    const Format fmt_out = parse_format(a.format);
    if (a.list) {
        print_table(std::cout, synth_shapes_table(), fmt_out);
        return;
    }
    if (a.arch.empty()) {
        throw UsageError("synth: --arch is required (see --list)");
    }
    if (a.out_path.empty()) {
        throw UsageError("synth: the GGUF file to write is required (joulebench synth --arch qwen2.5-7b m.gguf)");
    }
    SynthOptions o;
    o.seed = a.seed;
    o.n_layers = a.n_layers;
    o.scale = parse_scale(a.scale);
    o.vocab_dir = a.vocab_dir;
    if (!ggml_type_from_name(a.type, o.type)) {
        throw UsageError(fmt::format("--type '{}': expected f16, bf16 or f32", a.type));
    }
    const SynthShape & base = find_synth_shape(a.arch);
    const SynthShape shape = scale_shape(base, o.n_layers, o.scale);
    fmt::print(stderr, "synth: writing {} ({} layers, n_embd {}, {:.3f} B params, {}) to {}\n", base.name, shape.n_layer,
               shape.n_embd, shape.n_params() / 1e9, ggml_type_name(o.type), a.out_path);

    const SynthResult r = write_synthetic_model(base, a.out_path, o);

    print_table(std::cout, synth_result_table(r, base.name, o), fmt_out);
}

}  // namespace

void add_synth_command(CLI::App & app) {
    auto args = std::make_shared<SynthArgs>();
    CLI::App * cmd = app.add_subcommand(
        "synth", "Write a synthetic model: a real architecture and tokenizer with seeded random weights");
    cmd->add_option("--arch", args->arch, "Shape to copy (see --list)");
    cmd->add_option("file", args->out_path, "The GGUF file to write");
    cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
    cmd->add_option("--layers", args->n_layers, "Number of layers (default: the model's)");
    cmd->add_option("--scale", args->scale, "Width factor in (0,1], e.g. 1/16: keeps head_dim and the GQA ratio")
        ->capture_default_str();
    cmd->add_option("--type", args->type, "Type of the 2-D weights: f16, bf16 or f32")->capture_default_str();
    cmd->add_option("--vocab-dir", args->vocab_dir,
                    "Directory with llama.cpp's ggml-vocab-*.gguf (default: $JOULEBENCH_VOCAB_DIR, else " +
                        resolve_vocab_dir("") + ")");
    cmd->add_option("-o,--output", args->format, "Output format: table, md, csv, json")->capture_default_str();
    cmd->add_flag("--list", args->list, "List the known shapes and exit");
    cmd->footer(shapes_help());
    cmd->callback([args] { run_synth(*args); });
}

}  // namespace jb::cli
