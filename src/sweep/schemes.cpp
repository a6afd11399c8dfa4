#include "sweep/schemes.hpp"


#include <fmt/format.h>

#include "quant/fidelity.hpp"
#include "quant/scheme_file.hpp"

namespace jb {

ResolvedScheme resolve_scheme(const std::string & model, const std::string & name, const SchemeOptions & spec,
                              const MessageFn & info, const MessageFn & warn) {
    ResolvedScheme rs;
    rs.name = name;
    rs.scheme.name = name;
    try {
        SchemeFileOptions o;
        o.quant.cache_dir = spec.cache_dir;
        o.quant.n_threads = spec.engine.n_threads;
        o.quant.on_progress = info;
        o.kld_budget = spec.kld_budget;
        o.dynamic_from = spec.dynamic_from;
        o.engine = spec.engine;
        o.on_warning = warn;
        SchemeFile made = make_scheme_file(model, parse_scheme(name), o);
        rs.scheme = std::move(made.scheme);
        rs.file = std::move(made.file);
        rs.sensitivity_json = std::move(made.sensitivity_json);
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
    ep.type_k = cache_type_name(rs.scheme.kv_type_k);
    ep.type_v = cache_type_name(rs.scheme.kv_type_v);
    if (rs.scheme.flash_attn_required()) ep.flash_attn = FlashAttn::on;
    ep.n_seq_max = n_seq;
    return ep;
}

}  // namespace jb
