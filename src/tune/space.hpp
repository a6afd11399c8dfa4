#pragma once
// The space `joulebench tune` searches: which settings matter for a workload on this backend and
// the values each may take (docs/tune.md lists them), how a point becomes engine parameters, and
// which points can run at all.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/engine_params.hpp"
#include "joulebench/tune.hpp"
#include "tune/search.hpp"

namespace jb::tune {

// What the space depends on.
struct SpaceInput {
    EngineParams defaults;  // as a sweep would run the cell
    bool on_gpu = false;    // the model runs on a GPU (else threads matter)
    int hardware_threads = 1;
    bool task = false;              // a scored task (log-likelihood or generation), not a synthetic workload
    bool prefill = false;           // a synthetic prefill workload (pp<N>)
    int tokens_per_call = 1;        // a synthetic workload's tokens per sequence (N) x sequences (S)
    int sequences = 1;              // its S
    int n_tokens = 1;               // its N
    bool flash_attn_fixed = false;  // the scheme needs flash attention on (a quantized V cache)
    bool search_kv = false;
    std::vector<TuneAxis> overrides;  // --axis: replace (or add) the axis of the same name
};

struct Space {
    std::vector<Axis> axes;
    Point start;  // the defaults
};

// The built-in axes for the input, in the order the descent visits them (the settings that move
// energy most for that kind of work first), each holding the default's value; then the overrides.
// Throws jb::UsageError for an override of an unknown axis or with a value it cannot take.
Space build_space(const SpaceInput & in);

// Shared by the engine's space and a served load's (tune/serve_space.hpp):
// The axes with the overrides applied (replacing the axis of the same name, or added), each
// holding its default's value (default_of(name)), inserted first where missing; the start is the
// point of those values.
Space finish_space(std::vector<Axis> axes, const std::vector<TuneAxis> & overrides,
                   const std::function<std::string(const std::string &)> & default_of);
// The point whose value on each axis is value_of(axis name); false when an axis lacks it.
bool point_with(const Space & space, const std::function<std::string(const std::string &)> & value_of, Point & out);
// An --axis count: a whole number >= 0 for t, >= 16 for c and cps, >= 1 otherwise; throws
// jb::UsageError naming the axis.
int count_of(const std::string & axis, const std::string & value);
// An --axis fa value: on, off or auto, returned as it is; throws jb::UsageError otherwise.
const std::string & fa_of(const std::string & value);
// An --axis kv value K/V ("f16/f16", "q8_0/q8_0") as {K, V}; throws jb::UsageError otherwise.
std::pair<std::string, std::string> kv_of(const std::string & value);
// Counts up to `most`, the default's among them, ascending, each once.
std::vector<std::string> counts(std::vector<int> values, int most, int dflt);
// A KV cache type that is quantized (not f16, bf16 or f32; "" is the default, f16).
bool quantized_cache(const std::string & type);

// The defaults with the point's values applied.
EngineParams apply_point(const Space & space, const Point & p, const EngineParams & defaults);
// The point whose parameters are `p` (settings the axes do not cover must equal the defaults');
// false when the space has none.
bool point_of(const Space & space, const EngineParams & p, const EngineParams & defaults, Point & out);
// Whether the engine can run the point's parameters for the workload: micro-batch within batch, a
// context that holds the workload, a quantized V cache only with flash attention allowed.
bool runnable(const EngineParams & p, const SpaceInput & in);

}  // namespace jb::tune
