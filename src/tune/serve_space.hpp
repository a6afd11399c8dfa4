#pragma once
// The space `joulebench tune` searches for a served load (workload serve:c<N> or serve:r<R>):
// llama-server's own settings, as the serve runner passes them (ServeServerOptions), in the same
// axes-and-points form as the engine's space (tune/space.hpp), so the same search runs over both.
// docs/tune.md lists the axes and says why these.

#include <string>
#include <vector>

#include "joulebench/serve.hpp"
#include "joulebench/tune.hpp"
#include "tune/space.hpp"

namespace jb::tune {

struct ServeSpaceInput {
    // The defaults, every searched setting explicit: slots, batch, micro-batch, flash attention,
    // threads (0: the server's), KV types; ctx_size 0 (serve sizes it from the requests).
    ServeServerOptions defaults;
    bool on_gpu = false;  // the model is offloaded (else threads matter)
    int hardware_threads = 1;
    bool flash_attn_fixed = false;  // the scheme's quantized V cache needs flash attention on
    bool search_kv = false;
    std::vector<TuneAxis> overrides;  // --axis (cps only this way)
};

// The built-in axes (np, ub, b, fa; t on a CPU; kv with search_kv), each holding the default's value;
// then the overrides. Throws jb::UsageError for an axis that is not a server setting ("c": use cps).
Space build_serve_space(const ServeSpaceInput & in);

// The defaults with the point's values applied (cps: ctx_size = slots x cells per slot).
ServeServerOptions apply_serve_point(const Space & space, const Point & p, const ServeServerOptions & defaults);
// The point whose settings are `o` (settings the axes do not cover must equal the defaults');
// false when the space has none.
bool serve_point_of(const Space & space, const ServeServerOptions & o, const ServeServerOptions & defaults,
                    Point & out);
// Whether llama-server can run the settings: micro-batch within batch, a quantized V cache only
// with flash attention allowed.
bool serve_runnable(const ServeServerOptions & o);

// "np 32, b 2048, ub 512, fa auto, server's threads, KV f16/f16, ctx/slot auto"
std::string serve_settings_label(const ServeServerOptions & o);

}  // namespace jb::tune
