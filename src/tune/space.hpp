#pragma once
// The space `joulebench tune` searches: which settings matter for a workload on this backend and
// the values each may take (docs/tune.md lists them), how a point becomes engine parameters, and
// which points can run at all.

#include <string>
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

// The defaults with the point's values applied.
EngineParams apply_point(const Space & space, const Point & p, const EngineParams & defaults);
// The point whose parameters are `p` (settings the axes do not cover must equal the defaults');
// false when the space has none.
bool point_of(const Space & space, const EngineParams & p, const EngineParams & defaults, Point & out);
// Whether the engine can run the point's parameters for the workload: micro-batch within batch, a
// context that holds the workload, a quantized V cache only with flash attention allowed.
bool runnable(const EngineParams & p, const SpaceInput & in);

}  // namespace jb::tune
