#pragma once
// recommend --traffic / --profile serving: the scheme to serve for a described traffic, from the
// store's served levels where they match and from offline per-phase J/token where they do not
// (joulebench/serving.hpp). Kept apart from cmd_recommend.cpp, which calls it first.

#include "cli/report_run.hpp"

namespace jb::cli {

// Handles o when it asks for a serving answer (--traffic given, or --profile serving) and returns
// true; false leaves o to the decision matrix. Throws jb::Error when nothing can be answered.
bool run_serving_recommend(const RecommendParams & o);

}  // namespace jb::cli
