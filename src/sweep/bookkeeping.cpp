#include "sweep/bookkeeping.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace jb::sweep {

nlohmann::json energy_json(const energy::Measurement & m) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto & d : m.domains) {
        nlohmann::json j = {{"domain", d.domain.str()},
                            {"method", energy::method_name(d.method)},
                            {"sensor", d.sensor},
                            {"gross_j", d.gross_j},
                            {"duration_s", d.duration_s},
                            {"avg_w", d.avg_w},
                            {"peak_w", d.peak_w},
                            {"n_samples", d.n_samples}};
        if (d.net_j) j["net_j"] = *d.net_j;
        if (d.idle_w) j["idle_w"] = *d.idle_w;
        if (d.counter_j) j["counter_j"] = *d.counter_j;
        if (d.samples_j) j["samples_j"] = *d.samples_j;
        if (!d.error.empty()) j["error"] = d.error;
        out.push_back(std::move(j));
    }
    return out;
}

PowerTimeline timeline_of(const energy::Measurement & m) {
    PowerTimeline tl;
    for (const auto & d : m.domains) tl.domains.push_back(d.domain.str());
    std::vector<double> last(m.domains.size(), NAN);
    tl.power_w.assign(m.domains.size(), {});
    for (const auto & p : m.timeline) {
        if (p.domain < 0 || size_t(p.domain) >= m.domains.size()) continue;
        last[size_t(p.domain)] = p.power_w;
        if (!tl.t_s.empty() && tl.t_s.back() == p.t_s) {
            for (size_t d = 0; d < last.size(); ++d) tl.power_w[d].back() = last[d];
            continue;
        }
        tl.t_s.push_back(p.t_s);
        for (size_t d = 0; d < last.size(); ++d) tl.power_w[d].push_back(last[d]);
    }
    for (const auto & ph : m.phases) tl.phases.push_back({ph.name, ph.t_begin_s, ph.t_end_s});
    return tl;
}

SchemeRecord scheme_record(const ResolvedScheme & rs) {
    const bool resolved = !rs.file.scheme.empty();  // a KV problem leaves the file resolved
    SchemeRecord srec;
    srec.name = rs.name;
    srec.canonical = resolved ? rs.file.scheme : "unresolved:" + rs.name;
    srec.default_type = resolved ? ftype_name(rs.scheme.ftype) : "";
    srec.kv_type = type_name(rs.scheme.kv_type_k) + "/" + type_name(rs.scheme.kv_type_v);
    srec.bpw = resolved ? rs.file.bpw : NAN;
    srec.file_bytes = int64_t(rs.file.file_bytes);
    nlohmann::json types = nlohmann::json::object();
    for (const auto & [t, ty] : rs.file.tensor_types) types[t] = type_name(ty);
    srec.tensor_types_json = types.dump();
    srec.sensitivity_json = rs.sensitivity_json;
    return srec;
}

void keep_placement_gpus(energy::Discovery & found, const std::vector<int> & gpus) {
    if (gpus.empty()) return;
    std::vector<int> order;
    for (const auto & sensor : found.sensors) {
        const auto d = sensor->domain();
        if (d.kind == energy::DomainKind::gpu && std::find(order.begin(), order.end(), d.index) == order.end()) {
            order.push_back(d.index);
        }
    }
    energy::SensorList kept;
    for (const auto & sensor : found.sensors) {
        const auto d = sensor->domain();
        if (d.kind == energy::DomainKind::gpu) {
            const auto pos = int(std::find(order.begin(), order.end(), d.index) - order.begin());
            if (std::find(gpus.begin(), gpus.end(), pos) == gpus.end()) continue;
        }
        kept.push_back(sensor);
    }
    found.sensors = std::move(kept);
}

void mark_shared_gpu(nlohmann::json & ej, const std::vector<energy::SharedDevice> & shared, const std::string & what,
                     const WarnFn & warn) {
    if (shared.empty()) return;
    nlohmann::json list = nlohmann::json::array();
    for (const auto & s : shared) list.push_back({{"domain", s.domain.str()}, {"pids", s.pids}});
    ej["shared_gpu"] = list;
    warn(fmt::format("{}: other processes used the metered device during the cell: {}; its energy includes "
                     "theirs (marked shared_gpu in energy_json)", what, energy::describe_shared(shared)));
}

void mark_shared_meter(nlohmann::json & ej, const std::vector<energy::OtherMeter> & others, const std::string & what,
                       const WarnFn & warn) {
    if (others.empty()) return;
    nlohmann::json list = nlohmann::json::array();
    for (const auto & o : others) list.push_back({{"pid", o.pid}, {"what", o.what}, {"devices", o.devices}});
    ej["shared_meter"] = list;
    warn(fmt::format("{}: another joulebench run metered the same devices during the cell: {}; its energy "
                     "includes that run's load (marked shared_meter in energy_json)",
                     what, energy::describe_other_meters(others)));
}

std::vector<std::pair<energy::Domain, double>> idle_baseline(const energy::SensorList & sensors,
                                                             const energy::MeterParams & mp, double seconds,
                                                             std::optional<energy::CpuLoad> * load) {
    energy::Meter m(sensors, mp);
    energy::CpuLoadWatch watch(energy::CpuScope::process_tree);
    if (load) watch.begin();
    m.measure_idle(seconds);
    if (load) *load = watch.end();
    return m.idle_power();
}

void mark_cpu_load(nlohmann::json & ej, const std::optional<energy::CpuLoad> & load,
                   const std::optional<energy::CpuLoad> & idle_load, const std::string & what, const WarnFn & warn) {
    if (idle_load) ej["idle_cpu_load"] = energy::cpu_load_json(*idle_load);
    if (!load) return;
    ej["cpu_load"] = energy::cpu_load_json(*load);
    if (load->busy()) {
        warn(fmt::format("{}: ran beside other load: {}; a CPU energy counter includes their energy and "
                         "contention slows the cell (marked cpu_load.busy in energy_json)",
                         what, energy::describe_load(*load)));
    }
}

double total_w(const std::vector<std::pair<energy::Domain, double>> & idle) {
    double w = 0;
    for (const auto & [d, dw] : idle) w += dw;
    return w;
}

energy::Settle settle_device(const energy::SensorList & sensors, const energy::MeterParams & mp, double check_s,
                             double baseline_w, double max_wait_s, const std::function<bool()> & stop) {
    return energy::settle_to_idle(
        [&] {
            if (stop()) return 0.0;
            return total_w(idle_baseline(sensors, mp, check_s));
        },
        check_s, baseline_w > 0 ? baseline_w : INFINITY, max_wait_s);
}

}  // namespace jb::sweep
