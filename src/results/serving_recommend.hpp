#pragma once
// recommend --traffic / --profile serving: the scheme to serve for a described traffic, from the
// store's served levels where they match and from offline per-phase J/token where they do not
// (joulebench/serving.hpp), as a table any front end prints.

#include <optional>
#include <string>

#include "joulebench/table.hpp"
#include "results/recommend.hpp"

namespace jb {
class Store;
}

namespace jb::results {

// The serving answer when the request asks for one (`traffic` given, or profile "serving"), else
// nullopt (the decision matrix answers). Throws jb::Error when nothing can be answered, with what
// would fix it.
std::optional<Table> serving_recommendation(const Store & store, const std::string & db_name, const std::string & traffic,
                                            const RecommendRequest & request);

}  // namespace jb::results
