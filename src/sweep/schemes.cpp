#include "sweep/schemes.hpp"

#include <cctype>

#include <fmt/format.h>

#include "quant/dynamic.hpp"
#include "quant/dynamic_plan.hpp"
#include "quant/fidelity.hpp"

namespace jb {

ResolvedScheme resolve_scheme(const std::string & model, const std::string & name, const SchemeOptions & spec,
                              const MessageFn & info, const MessageFn & warn) {
    ResolvedScheme rs;
    rs.name = name;
    rs.scheme.name = name;
    try {
        QuantizeOptions q;
        q.cache_dir = spec.cache_dir;
        q.n_threads = spec.engine.n_threads;
        q.on_progress = info;
        if (name == "dynamic") {
            DynamicOptions d;
            d.kld_budget = spec.kld_budget;
            d.quant = q;
            d.engine = spec.engine;
            d.engine.model_path = model;
            d.on_progress = q.on_progress;
            std::string note;
            d.plan_from = dynamic_plan_source(model, spec.dynamic_from, &note);
            if (!note.empty()) info(note);
            DynamicResult r = build_dynamic_scheme(model, d);
            if (!r.budget_met) {
                warn(fmt::format("dynamic could not meet --kld-budget {} on {} (measured {:.5f}); it uses the "
                                        "most precise candidates", spec.kld_budget, model, r.final_fidelity.mean_kld));
            }
            if (!r.kv_note.empty()) info("dynamic: " + r.kv_note);
            rs.scheme = r.chosen;
            rs.file = r.scheme;
            rs.sensitivity_json = r.sensitivity_json();
        } else {
            rs.scheme = parse_scheme(name);
            rs.file = quantize_cached(model, rs.scheme, q);
        }
    } catch (const std::exception & e) {
        rs.error = "scheme " + name + ": " + e.what();
        return rs;
    }
    // A quantized KV cache the model's head sizes cannot take fails every cell with the reason,
    // not with llama.cpp's "could not create a context".
    if (rs.scheme.kv_type_k != GGML_TYPE_F16 || rs.scheme.kv_type_v != GGML_TYPE_F16) {
        const std::string problem = kv_cache_problem(rs.file.path, rs.scheme.kv_type_k, rs.scheme.kv_type_v);
        if (!problem.empty()) rs.error = "scheme " + name + ": " + problem;
    }
    return rs;
}

EngineParams scheme_engine_params(const EngineParams & base, const ResolvedScheme & rs, int n_seq) {
    EngineParams ep = base;
    ep.model_path = rs.file.path;
    ep.type_k = type_name(rs.scheme.kv_type_k);
    ep.type_v = type_name(rs.scheme.kv_type_v);
    for (auto & c : ep.type_k) c = char(std::tolower(c));
    for (auto & c : ep.type_v) c = char(std::tolower(c));
    if (rs.scheme.flash_attn_required()) ep.flash_attn = FlashAttn::on;
    ep.n_seq_max = n_seq;
    return ep;
}

}  // namespace jb
