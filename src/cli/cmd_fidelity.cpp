// joulebench fidelity: how far each scheme's next-token distributions are from the fp16
// reference on a calibration text (mean / p99 KL divergence, top-1 agreement, perplexity),
// next to its bits per weight and file size. `dynamic` runs (or reads from the cache) its
// sensitivity search first and shows the type it chose for each group of tensors.

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "quant/cache.hpp"
#include "quant/dynamic.hpp"
#include "quant/fidelity.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"
#include "quant/synth.hpp"
#include "joulebench/table.hpp"
#include "joulebench/error.hpp"
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

// One scheme's outcome: a measured row, or the message that replaced it.
struct Row {
    Scheme scheme;
    SchemeResult file;
    Fidelity fidelity;
    std::optional<DynamicResult> dynamic;
    std::string error;
};

Value or_empty(bool ok, Value v) {
    return ok ? v : Value{};
}

Table results_table(const std::vector<Row> & rows, const SchemeResult & ref_file, const FidelityReference & ref,
                    const std::string & calib_path) {
    Table t;
    t.title = "Fidelity against fp16";
    t.add_column("scheme", "Scheme");
    t.add_column("kv", "KV");
    t.add_column("bpw", "BPW", 3);
    t.add_column("size_mib", "Size (MiB)", 2);
    t.add_column("mean_kld", "Mean KLD", 6);
    t.add_column("p99_kld", "P99 KLD", 6);
    t.add_column("max_kld", "Max KLD", 6);
    t.add_column("top1_pct", "Top-1 (%)", 2);
    t.add_column("ppl_ref", "PPL fp16", 4);
    t.add_column("ppl", "PPL", 4);
    t.add_column("ppl_delta_pct", "PPL diff (%)", 3);
    t.add_column("cache", "Cache");
    for (const auto & r : rows) {
        const bool ok = r.error.empty();
        const Fidelity & f = r.fidelity;
        t.add_row({r.scheme.name, type_name(r.scheme.kv_type_k) + "/" + type_name(r.scheme.kv_type_v),
                   or_empty(ok, r.file.bpw), or_empty(ok, double(r.file.file_bytes) / (1024.0 * 1024.0)),
                   or_empty(ok, f.mean_kld), or_empty(ok, f.p99_kld), or_empty(ok, f.max_kld),
                   or_empty(ok, 100.0 * f.top1_agreement), or_empty(ok, f.ppl_ref), or_empty(ok, f.ppl_quant),
                   or_empty(ok, 100.0 * (f.ppl_quant / f.ppl_ref - 1.0)),
                   ok ? Value{std::string(r.dynamic ? (r.dynamic->cache_hit ? "hit" : "search")
                                                   : r.file.is_source ? "source" : r.file.cache_hit ? "hit" : "miss")}
                      : Value{std::string("failed")}});
    }
    t.notes.push_back(fmt::format("reference: fp16, {} (KV f16/f16)", ref_file.path));
    t.notes.push_back(fmt::format("calibration: {}, {} tokens in chunks of {} ({} positions scored)", calib_path,
                                  ref.tokens.size(), ref.chunk, ref.dist.n_rows));
    t.notes.push_back("KLD = KL(fp16 || scheme) per position, nats (llama-perplexity --kl-divergence's definition)");
    for (const auto & r : rows) {
        if (!r.error.empty()) {
            t.notes.push_back(fmt::format("{}: {}", r.scheme.name, r.error));
        }
        if (r.dynamic) {
            const DynamicResult & d = *r.dynamic;
            t.notes.push_back(fmt::format("{}: budget mean KLD <= {} {} (measured {:.6f} in the search, predicted "
                                          "{:.6f}, {} round(s))",
                                          r.scheme.name, d.budget, d.budget_met ? "met" : "NOT met (warning)",
                                          d.final_fidelity.mean_kld, d.predicted_kld, d.rounds));
            if (!d.kv_note.empty()) {
                t.notes.push_back(r.scheme.name + ": " + d.kv_note);
            }
        }
    }
    return t;
}

Table groups_table(const Row & r) {
    const DynamicResult & d = *r.dynamic;
    Table t;
    t.title = fmt::format("{}: chosen type per group (budget {})", r.scheme.name, d.budget);
    t.add_column("group", "Group");
    t.columns.back().right_align = false;
    t.add_column("type", "Type");
    t.add_column("actual", "Tensor types");
    t.columns.back().right_align = false;
    t.add_column("mean_kld", "KLD alone", 6);
    t.add_column("bytes", "Bytes");
    std::vector<std::string> order;
    for (const auto & s : d.sensitivity) {
        if (order.empty() || order.back() != s.group) {
            order.push_back(s.group);
        }
    }
    for (const auto & g : order) {
        const std::string & chosen = d.group_types.at(g);
        for (const auto & s : d.sensitivity) {
            if (s.group == g && s.type == chosen) {
                t.add_row({g, chosen, s.actual, s.mean_kld, s.bytes});
            }
        }
    }
    t.notes.push_back("KLD alone: mean KLD of the model with only this group at this type (the sensitivity)");
    return t;
}

Table sensitivity_table(const Row & r) {
    const DynamicResult & d = *r.dynamic;
    Table t;
    t.title = r.scheme.name + ": sensitivity (every group x candidate)";
    t.add_column("group", "Group");
    t.columns.back().right_align = false;
    t.add_column("type", "Candidate");
    t.add_column("actual", "Tensor types");
    t.columns.back().right_align = false;
    t.add_column("mean_kld", "KLD alone", 6);
    t.add_column("bytes", "Bytes");
    t.add_column("chosen", "Chosen");
    for (const auto & s : d.sensitivity) {
        t.add_row({s.group, s.type, s.actual, s.mean_kld, s.bytes,
                   std::string(d.group_types.at(s.group) == s.type ? "*" : s.same_as_lower ? "(same as lower)" : "")});
    }
    return t;
}

Table tensors_table(const Row & r) {
    Table t;
    t.title = r.scheme.name + ": tensor types";
    t.add_column("tensor", "Tensor");
    t.columns.back().right_align = false;
    t.add_column("type", "Type");
    for (const auto & [name, type] : r.file.tensor_types) {
        t.add_row({name, type_name(type)});
    }
    return t;
}

nlohmann::json fidelity_json(const Fidelity & f) {
    return {{"n_tokens", f.n_tokens}, {"mean_kld", f.mean_kld}, {"p99_kld", f.p99_kld},     {"max_kld", f.max_kld},
            {"top1_agreement", f.top1_agreement}, {"ppl_ref", f.ppl_ref}, {"ppl_quant", f.ppl_quant}};
}

void print_json(const std::vector<Row> & rows, const SchemeResult & ref_file, const FidelityReference & ref,
                const std::string & calib_path, bool show_types) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto & r : rows) {
        nlohmann::json j = {{"scheme", r.scheme.name}};
        if (!r.error.empty()) {
            j["error"] = r.error;
            results.push_back(j);
            continue;
        }
        j["scheme_canonical"] = r.file.scheme;
        j["path"] = r.file.path;
        j["bpw"] = r.file.bpw;
        j["file_bytes"] = r.file.file_bytes;
        j["cache_hit"] = r.file.cache_hit;
        j["fidelity"] = fidelity_json(r.fidelity);
        j["type_counts"] = r.file.type_counts();
        if (show_types) {
            nlohmann::json types = nlohmann::json::object();
            for (const auto & [name, t] : r.file.tensor_types) {
                types[name] = type_name(t);
            }
            j["tensor_types"] = types;
        }
        if (r.dynamic) {
            j["dynamic"] = nlohmann::json::parse(r.dynamic->sensitivity_json());
            j["dynamic"]["cache_hit"] = r.dynamic->cache_hit;
        }
        results.push_back(j);
    }
    nlohmann::json doc = {
        {"reference", {{"scheme", "fp16"}, {"path", ref_file.path}, {"kv", "f16/f16"}}},
        {"calibration", {{"path", calib_path}, {"n_tokens", ref.tokens.size()}, {"chunk", ref.chunk},
                         {"n_positions", ref.dist.n_rows}}},
        {"llama_commit", JOULEBENCH_LLAMA_COMMIT},
        {"results", results},
    };
    std::cout << doc.dump(2) << "\n";
}

void run_fidelity(const FidelityArgs & a) {
    if (a.model.empty()) {
        throw UsageError("fidelity: -m/--model is required");
    }
    const Format format = parse_format(a.format);
    if (a.n_tokens < 16) {
        throw UsageError(fmt::format("--tokens {}: use at least 16", a.n_tokens));
    }
    if (a.chunk < 2) {
        throw UsageError(fmt::format("--chunk {}: use at least 2", a.chunk));
    }
    if (!(a.kld_budget > 0.0)) {
        throw UsageError(fmt::format("--kld-budget {}: must be positive (e.g. 0.01)", a.kld_budget));
    }
    if (a.n_threads < 0) {
        throw UsageError("--threads must be >= 0");
    }
    std::vector<Scheme> schemes;
    for (const auto & name : split_list(a.schemes, "--schemes")) {
        schemes.push_back(parse_scheme(name));
    }
    const std::vector<std::string> candidates = split_list(a.candidates, "--candidates");
    for (const auto & c : candidates) {
        ggml_type t;
        if (!ggml_type_from_name(c, t)) {
            throw UsageError(fmt::format("--candidates: unknown type '{}' (ggml types: q4_k, q5_k, q6_k, q8_0, iq4_xs, "
                                         "f16, ...)", c));
        }
    }

    EngineParams base = engine_default_params();
    base.n_threads = a.n_threads;
    base.n_gpu_layers = a.n_gpu_layers;
    base.verbose = a.verbose;
    if (a.flash_attn == "on") {
        base.flash_attn = FlashAttn::on;
    } else if (a.flash_attn == "off") {
        base.flash_attn = FlashAttn::off;
    } else if (a.flash_attn != "auto") {
        throw UsageError(fmt::format("--flash-attn: '{}' is not on, off or auto", a.flash_attn));
    }

    const std::string calib_path = a.calib.empty() ? default_calibration_path() : a.calib;
    const std::string text = read_calibration_text(calib_path);

    QuantizeOptions q;
    q.n_threads = a.n_threads;
    q.cache_dir = a.cache_dir;
    q.imatrix_path = a.imatrix;
    q.verbose = a.verbose;
    q.on_progress = [](const std::string & msg) { fmt::print(stderr, "fidelity: {}\n", msg); };

    const SchemeResult ref_file = quantize_cached(a.model, parse_scheme("fp16"), q);
    fmt::print(stderr, "fidelity: reference fp16: {}\n", ref_file.path);
    const FidelityReference ref = compute_reference(ref_file.path, text, a.n_tokens, base, a.chunk);
    fmt::print(stderr, "fidelity: {} calibration tokens from {}\n", ref.tokens.size(), calib_path);

    std::vector<Row> rows;
    for (const Scheme & s : schemes) {
        Row r;
        r.scheme = s;
        try {
            if (s.kind == SchemeKind::dynamic) {
                DynamicOptions o;
                o.kld_budget = a.kld_budget;
                o.calib_path = calib_path;
                o.calib_tokens = a.n_tokens;
                o.chunk = a.chunk;
                o.candidate_types = candidates;
                o.kv_type_k = s.kv_type_k;
                o.kv_type_v = s.kv_type_v;
                o.engine = base;
                o.quant = q;
                o.on_progress = [&](const std::string & msg) { fmt::print(stderr, "fidelity: {}: {}\n", s.name, msg); };
                r.dynamic = build_dynamic_scheme(a.model, o);
                r.file = r.dynamic->scheme;
                r.scheme.kv_type_k = r.dynamic->chosen.kv_type_k;  // F16 where the model's heads need it
                r.scheme.kv_type_v = r.dynamic->chosen.kv_type_v;
            } else {
                r.file = quantize_cached(a.model, s, q);
                if (const std::string why = kv_cache_problem(r.file.path, s.kv_type_k, s.kv_type_v); !why.empty()) {
                    throw UsageError(why);
                }
            }
            // Every row against this run's reference, on the same tokens and engine settings.
            r.fidelity = measure_fidelity(ref, r.file.path,
                                          fidelity_engine_params(base, r.file.path, a.chunk, r.scheme.kv_type_k,
                                                                 r.scheme.kv_type_v));
            fmt::print(stderr, "fidelity: {}: mean KLD {:.6f}, top-1 {:.2f} %, {:.3f} bpw\n", s.name,
                       r.fidelity.mean_kld, 100.0 * r.fidelity.top1_agreement, r.file.bpw);
        } catch (const Error & e) {
            r.error = e.what();
            fmt::print(stderr, "fidelity: {}: failed: {}\n", s.name, r.error);
        }
        rows.push_back(std::move(r));
    }

    if (format == Format::json) {
        print_json(rows, ref_file, ref, calib_path, a.show_types);
        return;
    }
    Table main_table = results_table(rows, ref_file, ref, calib_path);
    if (is_synthetic_model(a.model)) {
        main_table.notes.push_back("synthetic model (random weights): the reference itself is noise");
    }
    print_table(std::cout, main_table, format);
    if (format == Format::csv) {
        return;  // one table per CSV stream
    }
    for (const auto & r : rows) {
        if (r.dynamic) {
            std::cout << "\n";
            print_table(std::cout, a.show_types ? sensitivity_table(r) : groups_table(r), format);
        }
        if (a.show_types && r.error.empty()) {
            std::cout << "\n";
            print_table(std::cout, tensors_table(r), format);
        }
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
