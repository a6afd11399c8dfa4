// fidelity's pipeline (see compare.hpp): quantize, one fp16 reference, every scheme against it.

#include "quant/compare.hpp"

#include <fmt/format.h>

#include "joulebench/error.hpp"
#include "quant/cache.hpp"
#include "quant/synth.hpp"

namespace jb {

namespace {

Value or_empty(bool ok, Value v) {
    return ok ? v : Value{};
}

Table results_table(const std::vector<FidelityRow> & rows, const SchemeResult & ref_file, const FidelityReference & ref,
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

Table groups_table(const FidelityRow & r) {
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

Table sensitivity_table(const FidelityRow & r) {
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

Table tensors_table(const FidelityRow & r) {
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

nlohmann::json fidelity_values_json(const Fidelity & f) {
    return {{"n_tokens", f.n_tokens}, {"mean_kld", f.mean_kld}, {"p99_kld", f.p99_kld},     {"max_kld", f.max_kld},
            {"top1_agreement", f.top1_agreement}, {"ppl_ref", f.ppl_ref}, {"ppl_quant", f.ppl_quant}};
}

nlohmann::json json_of(const std::vector<FidelityRow> & rows, const SchemeResult & ref_file, const FidelityReference & ref,
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
        j["fidelity"] = fidelity_values_json(r.fidelity);
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
    return doc;
}


}  // namespace

void validate(const FidelityComparisonSpec & a) {
    if (a.model.empty()) {
        throw UsageError("fidelity: -m/--model is required");
    }
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
    if (a.schemes.empty()) {
        throw UsageError("--schemes: give at least one scheme");
    }
    for (const auto & name : a.schemes) {
        (void) parse_scheme(name);
    }
    for (const auto & c : a.candidates) {
        ggml_type t;
        if (!ggml_type_from_name(c, t)) {
            throw UsageError(fmt::format("--candidates: unknown type '{}' (ggml types: q4_k, q5_k, q6_k, q8_0, iq4_xs, "
                                         "f16, ...)", c));
        }
    }
}

FidelityComparison compare_fidelity(const FidelityComparisonSpec & a) {
    validate(a);
    auto say = [&](const std::string & msg) {
        if (a.on_progress) a.on_progress(msg);
    };
    EngineParams base = engine_default_params();
    base.n_threads = a.n_threads;
    base.n_gpu_layers = a.n_gpu_layers;
    base.verbose = a.verbose;
    base.flash_attn = a.flash_attn;

    FidelityComparison c;
    c.calib_path = a.calib.empty() ? default_calibration_path() : a.calib;
    const std::string text = read_calibration_text(c.calib_path);
    c.synthetic = is_synthetic_model(a.model);

    QuantizeOptions q;
    q.n_threads = a.n_threads;
    q.cache_dir = a.cache_dir;
    q.imatrix_path = a.imatrix;
    q.verbose = a.verbose;
    q.on_progress = say;

    c.ref_file = quantize_cached(a.model, parse_scheme("fp16"), q);
    say(fmt::format("reference fp16: {}", c.ref_file.path));
    c.ref = compute_reference(c.ref_file.path, text, a.n_tokens, base, a.chunk);
    say(fmt::format("{} calibration tokens from {}", c.ref.tokens.size(), c.calib_path));

    for (const auto & name : a.schemes) {
        FidelityRow r;
        r.scheme = parse_scheme(name);
        const Scheme & s = r.scheme;
        try {
            if (s.kind == SchemeKind::dynamic) {
                DynamicOptions o;
                o.kld_budget = a.kld_budget;
                o.calib_path = c.calib_path;
                o.calib_tokens = a.n_tokens;
                o.chunk = a.chunk;
                o.candidate_types = a.candidates;
                o.kv_type_k = s.kv_type_k;
                o.kv_type_v = s.kv_type_v;
                o.engine = base;
                o.quant = q;
                o.on_progress = [&](const std::string & msg) { say(s.name + ": " + msg); };
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
            r.fidelity = measure_fidelity(c.ref, r.file.path,
                                          fidelity_engine_params(base, r.file.path, a.chunk, r.scheme.kv_type_k,
                                                                 r.scheme.kv_type_v));
            say(fmt::format("{}: mean KLD {:.6f}, top-1 {:.2f} %, {:.3f} bpw", s.name, r.fidelity.mean_kld,
                            100.0 * r.fidelity.top1_agreement, r.file.bpw));
        } catch (const Error & e) {
            r.error = e.what();
            say(fmt::format("{}: failed: {}", s.name, r.error));
        }
        c.rows.push_back(std::move(r));
    }
    return c;
}

std::vector<Table> fidelity_tables(const FidelityComparison & c, bool show_types) {
    std::vector<Table> out;
    out.push_back(results_table(c.rows, c.ref_file, c.ref, c.calib_path));
    if (c.synthetic) {
        out.back().notes.push_back("synthetic model (random weights): the reference itself is noise");
    }
    for (const auto & r : c.rows) {
        if (r.dynamic) {
            out.push_back(show_types ? sensitivity_table(r) : groups_table(r));
        }
        if (show_types && r.error.empty()) {
            out.push_back(tensors_table(r));
        }
    }
    return out;
}

nlohmann::json fidelity_json(const FidelityComparison & c, bool show_types) {
    return json_of(c.rows, c.ref_file, c.ref, c.calib_path, show_types);
}

}  // namespace jb
