#pragma once
// llama-server settings as `joulebench tune --workload serve:...` stores them, read back:
// a setting's suffix ("np=32,b=2048,ub=512,fa=auto,t=0,kv=f16/f16,cps=auto") in its trials'
// workload fingerprint ("<load>|tune=r<repeat>|<suffix>"), and the best stored setting of a load
// under the latest tune's constraints, for `serve --tuned` (docs/tune.md, "Serving").

#include <cmath>
#include <optional>
#include <string>

#include "joulebench/serve.hpp"
#include "joulebench/store.hpp"
#include "metrics/confidence.hpp"
#include "joulebench/serving.hpp"

namespace jb::serve {

// Every searched setting written out; cps (context cells per slot) is "auto" when ctx_size is 0.
std::string settings_suffix(const ServeServerOptions & o);
// The settings of a suffix applied to o; false (o unchanged) when it is not a complete suffix.
bool apply_settings_suffix(const std::string & suffix, ServeServerOptions & o);

struct TunedServer {
    ServeServerOptions server;  // the chosen setting applied to the options given
    std::string suffix;
    int settings = 0;                 // settings the tunes measured
    int trials = 0;                   // repeats of the chosen one
    double j_per_output_token = NAN;  // its mean over the trials
};

// A tune trial of a load is a served level whose workload fingerprint is the load's followed by
// "|tune=r<repeat>|<settings suffix>": trial_suffix writes that tail, trial_name reads it back
// (nullopt for a fingerprint that is not a trial of `load_fp`).
struct TrialName {
    int repeat = 0;
    std::string settings;  // settings_suffix
};
std::string trial_suffix(int repeat, const std::string & settings);
std::optional<TrialName> trial_name(const std::string & workload_fp, const std::string & load_fp);

// A served level as a repeat of its setting, as the serve tune measures and serve --tuned ranks it:
// J per output token (steady window where there is one), output tok/s, TTFT p99 and, with an SLO,
// its latency ratio; ok only for an ok level with a finite J per output token.
metrics::Trial level_trial(const ServeLevelRecord & level, const metrics::Slo * slo);

// Whether a stored level ran on the server joulebench would start now with these extra arguments:
// the same --server-arg words, and its prompt cache off (levels stored before it was turned off are
// another server). The tune reuses, and serve --tuned ranks, only such trials.
bool same_server(const ServeLevelRecord & level, const std::vector<std::string> & extra_args);

// The best setting stored for a load: the trials of (host, model, scheme, level) whose workload
// fingerprint is `load_fp` followed by "|tune=r", ranked as the tune ranks them (metrics::
// pick_setting) under the constraints the latest of them was run with (its workload_json "tune").
// nullopt when no trial of that load (on the same server, same_server) is stored.
std::optional<TunedServer> tuned_server(const Store & store, const ServeLevelKey & load, const std::string & load_fp,
                                        const ServeServerOptions & given);

}  // namespace jb::serve
