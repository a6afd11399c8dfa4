#include "energy/discover.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

#include "energy/estimate.hpp"
#include "energy/nvml.hpp"
#include "joulebench/error.hpp"

namespace jb::energy {

DiscoverOptions discover_options_from_env() {
    DiscoverOptions o;
    if (const char * v = std::getenv("JOULEBENCH_NVML_LIBRARY"); v && *v) o.nvml_library = v;
    if (const char * v = std::getenv("JOULEBENCH_POWERCAP_ROOT"); v && *v) o.powercap_root = v;
    if (const char * v = std::getenv("JOULEBENCH_PROC_STAT"); v && *v) o.proc_stat = v;
    return o;
}

Discovery discover_sensors(const DiscoverOptions & o) {
    Discovery out;
    if (o.gpu) {
        const char * visible =
            o.cuda_visible_devices ? o.cuda_visible_devices->c_str() : std::getenv("CUDA_VISIBLE_DEVICES");
        out.append(discover_nvml(o.nvml_library, visible, o.clock));
    }
    if (o.rapl) out.append(discover_rapl(o.powercap_root, o.clock, o.open_file));

    bool cpu_counter = std::any_of(out.sensors.begin(), out.sensors.end(), [](const auto & s) {
        return s->domain().kind == DomainKind::cpu_package && s->kind() == SensorKind::energy_counter;
    });
    if (o.cpu_estimate && !cpu_counter) {
        try {
            std::function<double()> cpu_s;
            if (o.cpu_scope != CpuScope::machine) {
                auto tree = std::make_shared<TreeCpuClock>(o.cpu_scope);
                cpu_s = [tree] { return tree->cpu_s(); };
            }
            out.sensors.push_back(std::make_shared<CpuEstimateSensor>(o.cpu_tdp_w, o.proc_stat, o.clock, std::move(cpu_s),
                                                                      cpu_scope_name(o.cpu_scope)));
        } catch (const InputError & e) {
            out.unavailable.push_back({"cpu-package (estimate)", e.what()});
        }
    }
    return out;
}

std::string discovery_json(const Discovery & found) {
    nlohmann::json out = {{"sensors", nlohmann::json::array()}, {"unavailable", nlohmann::json::array()}};
    for (const auto & s : found.sensors) {
        const auto & p = s->provenance();
        nlohmann::json details = nlohmann::json::object();
        for (const auto & [k, v] : p.details) details[k] = v;
        out["sensors"].push_back({{"domain", s->domain().str()},
                                  {"kind", sensor_kind_name(s->kind())},
                                  {"method", method_name(method_of(*s))},
                                  {"name", p.name},
                                  {"driver", p.driver},
                                  {"update_hz", p.update_hz},
                                  {"details", details}});
    }
    for (const auto & u : found.unavailable) out["unavailable"].push_back({{"what", u.what}, {"reason", u.reason}});
    return out.dump();
}

}  // namespace jb::energy
