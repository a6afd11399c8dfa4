#pragma once
// How a sweep marks a cell whose metered GPU other processes used (energy/gpu_sharing.hpp):
// "shared_gpu": [{"domain": "gpu:0", "pids": [4242]}] in the cell's energy_json, and a warning.

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "energy/gpu_sharing.hpp"

namespace jb::cli {

inline void mark_shared_gpu(nlohmann::json & energy_json, const std::vector<energy::SharedDevice> & shared,
                            const std::string & what) {
    if (shared.empty()) return;
    nlohmann::json list = nlohmann::json::array();
    for (const auto & s : shared) list.push_back({{"domain", s.domain.str()}, {"pids", s.pids}});
    energy_json["shared_gpu"] = list;
    fmt::print(stderr,
               "sweep: warning: {}: other processes used the metered device during the cell: {}; its energy "
               "includes theirs (marked shared_gpu in energy_json)\n",
               what, energy::describe_shared(shared));
}

}  // namespace jb::cli
