#pragma once
// A scheme made into a file for one model: a preset, llama.cpp type or scheme JSON quantized once
// into the cache (quantize_cached); `dynamic` searched from measured sensitivity first
// (build_dynamic_scheme, following dynamic_plan_source's model). What `joulebench quantize` does,
// and what the sweep does for each scheme before its cells.

#include <functional>
#include <string>

#include "joulebench/engine_params.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"

namespace jb {

struct SchemeFileOptions {
    QuantizeOptions quant;     // cache, threads, imatrix, force; its on_progress gets the messages
    double kld_budget = 0.01;  // dynamic: mean KLD budget vs fp16
    std::string dynamic_from;  // dynamic: follow this model's plan ("" = dynamic_plan_source's rule)
    EngineParams engine;       // dynamic: its calibration runs on it (model_path is set to the model)
    // dynamic: the budget could not be met (it then uses the most precise candidates).
    std::function<void(const std::string &)> on_warning;
};

struct SchemeFile {
    Scheme scheme;                 // as made: for dynamic, with the chosen per-tensor types and KV types
    SchemeResult file;             // the quantized file (or the model itself when it has the types)
    std::string sensitivity_json;  // dynamic: the measured sensitivity; else ""
};

// Throws jb::Error (UsageError for a bad scheme or option, InputError for a bad file).
SchemeFile make_scheme_file(const std::string & model, const Scheme & scheme, const SchemeFileOptions & o);

}  // namespace jb
