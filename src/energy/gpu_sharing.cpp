#include "energy/gpu_sharing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace jb::energy {

std::vector<SharedDevice> other_device_processes(const SensorList & sensors, const std::vector<unsigned> & ours) {
    std::map<Domain, std::vector<unsigned>> found;
    std::vector<Domain> asked;
    for (const auto & sensor : sensors) {
        const Domain d = sensor->domain();
        if (std::find(asked.begin(), asked.end(), d) != asked.end()) continue;
        std::optional<std::vector<unsigned>> pids;
        try {
            pids = sensor->device_pids();
        } catch (const std::exception &) {
            continue;  // this sensor cannot tell; another of the same domain may
        }
        if (!pids) continue;
        asked.push_back(d);
        for (unsigned pid : *pids) {
            if (std::find(ours.begin(), ours.end(), pid) == ours.end()) found[d].push_back(pid);
        }
    }
    std::vector<SharedDevice> out;
    for (auto & [d, pids] : found) {
        std::sort(pids.begin(), pids.end());
        pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
        out.push_back({d, pids});
    }
    return out;
}

SharingWatch::SharingWatch(SensorList sensors, std::vector<unsigned> ours)
    : sensors_(std::move(sensors)), ours_(std::move(ours)) {}

void SharingWatch::begin() {
    at_begin_ = other_device_processes(sensors_, ours_);
}

std::vector<SharedDevice> SharingWatch::end() {
    std::map<Domain, std::vector<unsigned>> all;
    for (const auto & s : at_begin_) all[s.domain] = s.pids;
    for (const auto & s : other_device_processes(sensors_, ours_)) {
        auto & pids = all[s.domain];
        pids.insert(pids.end(), s.pids.begin(), s.pids.end());
    }
    at_begin_.clear();
    std::vector<SharedDevice> out;
    for (auto & [d, pids] : all) {
        std::sort(pids.begin(), pids.end());
        pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
        out.push_back({d, pids});
    }
    return out;
}

std::string describe_shared(const std::vector<SharedDevice> & shared) {
    std::string out;
    for (const auto & s : shared) {
        std::string pids;
        for (unsigned p : s.pids) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
        out += fmt::format("{}{} (pid{} {})", out.empty() ? "" : "; ", s.domain.str(), s.pids.size() == 1 ? "" : "s",
                           pids);
    }
    return out;
}

}  // namespace jb::energy
