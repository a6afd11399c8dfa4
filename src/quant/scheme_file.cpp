#include "quant/scheme_file.hpp"

#include <fmt/format.h>

#include "quant/dynamic.hpp"
#include "quant/dynamic_plan.hpp"

namespace jb {

SchemeFile make_scheme_file(const std::string & model, const Scheme & scheme, const SchemeFileOptions & o) {
    SchemeFile out;
    if (!scheme.needs_tensor_types()) {
        out.scheme = scheme;
        out.file = quantize_cached(model, scheme, o.quant);
        return out;
    }
    const auto info = [&](const std::string & text) {
        if (o.quant.on_progress) o.quant.on_progress(text);
    };
    DynamicOptions d;
    d.kld_budget = o.kld_budget;
    d.quant = o.quant;
    d.engine = o.engine;
    d.engine.model_path = model;
    d.on_progress = o.quant.on_progress;
    std::string note;
    d.plan_from = dynamic_plan_source(model, o.dynamic_from, &note);
    if (!note.empty()) info(note);
    const DynamicResult r = build_dynamic_scheme(model, d);
    if (!r.budget_met && o.on_warning) {
        o.on_warning(
            fmt::format("dynamic could not meet --kld-budget {} on {} (measured {:.5f}); it uses the most "
                        "precise candidates",
                        o.kld_budget, model, r.final_fidelity.mean_kld));
    }
    if (!r.kv_note.empty()) info("dynamic: " + r.kv_note);
    out.scheme = r.chosen;
    out.file = r.scheme;
    out.sensitivity_json = r.sensitivity_json();
    return out;
}

}  // namespace jb
