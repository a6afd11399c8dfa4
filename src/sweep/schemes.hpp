#pragma once
// A scheme name resolved for one model: the quantized file from the cache (quantizing it once), or
// for `dynamic` the mixed-precision file chosen from measured sensitivity; and the engine settings
// a run of that file needs (KV types, flash attention). Shared by eval and sweep.

#include <functional>
#include <string>

#include "joulebench/engine_params.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"

namespace jb {

struct SchemeOptions {
    std::string cache_dir;     // "" = the default cache
    double kld_budget = 0.01;  // dynamic: mean KLD budget vs fp16
    std::string dynamic_from;  // dynamic: follow this model's plan ("" = dynamic_plan_source's rule)
    EngineParams engine;       // dynamic's calibration runs on it; its threads quantize
};

struct ResolvedScheme {
    std::string name;  // as the user gave it
    Scheme scheme;
    SchemeResult file;             // file.scheme is empty when the scheme could not be resolved
    std::string sensitivity_json;  // dynamic's measured sensitivity
    std::string error;             // the scheme cannot run on this model: why (every cell fails with it)
};

using MessageFn = std::function<void(const std::string &)>;

// Never throws for a scheme that cannot be made or run on this model: `error` says why.
ResolvedScheme resolve_scheme(const std::string & model, const std::string & name, const SchemeOptions & o,
                              const MessageFn & info, const MessageFn & warn);

// `base` for the resolved file, with the scheme's KV types and flash attention, sized for n_seq
// sequences.
EngineParams scheme_engine_params(const EngineParams & base, const ResolvedScheme & rs, int n_seq);

}  // namespace jb
