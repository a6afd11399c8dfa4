#include "cli/host_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/llama_engine.hpp"

namespace jb::cli {

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

std::string sensors_json(const energy::Discovery & found) {
    nlohmann::json out = {{"sensors", nlohmann::json::array()}, {"unavailable", nlohmann::json::array()}};
    for (const auto & s : found.sensors) {
        const auto & p = s->provenance();
        nlohmann::json details = nlohmann::json::object();
        for (const auto & [k, v] : p.details) details[k] = v;
        out["sensors"].push_back({{"domain", s->domain().str()},
                                  {"kind", energy::sensor_kind_name(s->kind())},
                                  {"method", energy::method_name(energy::method_of(*s))},
                                  {"name", p.name},
                                  {"driver", p.driver},
                                  {"update_hz", p.update_hz},
                                  {"details", details}});
    }
    for (const auto & u : found.unavailable) out["unavailable"].push_back({{"what", u.what}, {"reason", u.reason}});
    return out.dump();
}

std::string utc_now_iso() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace jb::cli
