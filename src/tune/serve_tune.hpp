#pragma once
// `joulebench tune` over llama-server's settings at one served load (serve:c<N>, serve:r<R>): the
// same search as the engine's (tune/search.hpp), each trial a level run by jb::run_serve and stored
// in the result store as a tune trial. docs/tune.md, "Serving".

#include "joulebench/tune.hpp"

namespace jb::tune {

// Whether a workload names a served load ("serve:c32", "serve:r2.5").
bool is_serve_workload(const std::string & workload);

// The tune of a served load; spec passed check_spec. Throws jb::UsageError for a bad load, SLO or
// server option before any measurement.
TuneOutcome tune_serving(const TuneSpec & spec, TuneObserver * observer);

}  // namespace jb::tune
