#include "sweep/host_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "energy/discover.hpp"
#include "engine/llama_engine.hpp"

namespace jb::sweep {

namespace {

std::string cpuinfo_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    }
    return "unknown";
}

int64_t mem_total_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    int64_t kib = 0;
    while (in >> key >> kib) {
        if (key == "MemTotal:") return kib * 1024;
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

std::string detail(const energy::Provenance & p, const std::string & key) {
    for (const auto & [k, v] : p.details) {
        if (k == key) return v;
    }
    return "";
}

}  // namespace

HostRecord describe_host(const energy::Discovery & found) {
    HostRecord h;
    char name[256] = {0};
    gethostname(name, sizeof(name) - 1);
    h.hostname = name;
    h.cpu_model = cpuinfo_model();
    h.cpu_cores = int64_t(std::thread::hardware_concurrency());
    h.ram_bytes = mem_total_bytes();
    utsname u{};
    if (uname(&u) == 0) h.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
    h.llama_commit = llama_build_commit();
    h.joulebench_version = JOULEBENCH_VERSION;

    nlohmann::json gpus = nlohmann::json::array();
    std::set<int> seen;
    for (const auto & s : found.sensors) {
        const auto d = s->domain();
        if (d.kind != energy::DomainKind::gpu || !seen.insert(d.index).second) continue;
        const auto & p = s->provenance();
        gpus.push_back({{"index", d.index},
                        {"name", detail(p, "device")},
                        {"uuid", detail(p, "uuid")},
                        {"memory_gib", detail(p, "memory_gib")},
                        {"power_limit_w", detail(p, "power_limit_w")}});
        if (h.driver.empty()) h.driver = p.driver;
    }
    h.gpus_json = gpus.dump();
    return h;
}

std::vector<std::string> host_gpu_names() {
    energy::DiscoverOptions options = energy::discover_options_from_env();
    options.rapl = false;
    options.cpu_estimate = false;
    const HostRecord host = describe_host(energy::discover_sensors(options));
    std::vector<std::string> names;
    const auto gpus = nlohmann::json::parse(host.gpus_json, nullptr, false);
    if (gpus.is_array()) {
        for (const auto & g : gpus) {
            if (g.is_object() && g.contains("name") && g["name"].is_string() && !g["name"].get<std::string>().empty())
                names.push_back(g["name"].get<std::string>());
        }
    }
    return names;
}

}  // namespace jb::sweep
