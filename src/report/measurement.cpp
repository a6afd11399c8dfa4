#include "report/measurement.hpp"

#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "energy/cpu_time.hpp"
#include "joulebench/error.hpp"

namespace jb::report {

namespace {

Value optional_value(const std::optional<double> & v) {
    return v ? Value(*v) : Value();
}

}  // namespace

Table measurement_table(const MeteredRun & r, const std::string & command_text) {
    const energy::Measurement & m = r.measurement;
    Table t;
    t.title = "joulebench measure: " + command_text;
    t.add_text_column("domain", "Domain");
    t.add_text_column("method", "Method");
    t.add_text_column("basis", "Basis");
    t.add_column("gross_j", "Energy (J)", 1);
    t.add_column("net_j", "Net (J)", 1);
    t.add_column("idle_w", "Idle (W)", 1);
    t.add_column("avg_w", "Avg (W)", 1);
    t.add_column("peak_w", "Peak (W)", 1);
    t.add_column("time_s", "Time (s)", 3);
    t.add_column("counter_j", "Counter (J)", 1);
    t.add_column("samples_j", "Samples (J)", 1);
    t.add_column("n_samples", "Samples");
    t.add_text_column("sensor", "Sensor");

    double time_s = m.duration_s();
    for (const auto & e : m.domains) {
        t.add_row({e.domain.str(), std::string(energy::method_name(e.method)),
                   std::string(e.estimated() ? "estimated" : "measured"), e.gross_j, optional_value(e.net_j),
                   optional_value(e.idle_w), e.avg_w, e.peak_w, time_s, optional_value(e.counter_j),
                   optional_value(e.samples_j), static_cast<int64_t>(e.n_samples), e.sensor});
    }

    // Sums: all GPUs (when several), everything measured, and, apart, everything estimated.
    auto sum_row = [&](const std::string & label, const std::string & basis, auto && include) {
        double gross = 0.0, net = 0.0;
        bool all_net = true;
        for (const auto & e : m.domains) {
            if (!include(e)) continue;
            gross += e.gross_j;
            all_net = all_net && e.net_j.has_value();
            net += e.net_j.value_or(0.0);
        }
        t.add_row({label, std::string("sum"), basis, gross, all_net ? Value(net) : Value(), Value(),
                   time_s > 0 ? Value(gross / time_s) : Value(), Value(), time_s, Value(), Value(), Value(), Value()});
    };
    int n_gpus = 0;
    for (const auto & e : m.domains) n_gpus += e.domain.kind == energy::DomainKind::gpu && !e.estimated();
    if (n_gpus > 1) {
        sum_row("gpu:all", "measured", [](const energy::DomainEnergy & e) {
            return e.domain.kind == energy::DomainKind::gpu && !e.estimated();
        });
    }
    if (m.has_measured()) sum_row("total", "measured", [](const energy::DomainEnergy & e) { return !e.estimated(); });
    if (m.has_estimated()) {
        sum_row("total (estimated)", "estimated", [](const energy::DomainEnergy & e) { return e.estimated(); });
    }

    for (const auto & e : m.domains) {
        if (e.estimated()) {
            t.notes.push_back(
                fmt::format("{} is an estimate from {}, not a measurement; it is kept out of the measured total",
                            e.domain.str(), e.sensor));
        }
        if (!e.error.empty())
            t.notes.push_back(fmt::format("{}: sensor error during the run: {}", e.domain.str(), e.error));
    }
    if (r.load && r.load->busy()) {
        t.notes.push_back(fmt::format(
            "other load during the command: {}; a CPU energy counter includes their energy (the CPU estimate "
            "counts only the command's processes)",
            energy::describe_load(*r.load)));
    }
    if (r.idle_load && r.idle_load->busy()) {
        t.notes.push_back(fmt::format("the idle baseline ran beside other load: {}; idle power and net energy are "
                                      "biased",
                                      energy::describe_load(*r.idle_load)));
    }
    if (m.domains.empty()) t.notes.push_back("nothing on this machine can be metered (see `joulebench sensors`)");
    if (m.idle_s <= 0.0 && !m.domains.empty())
        t.notes.push_back("no idle baseline (--idle-s 0): net energy not computed");
    if (time_s < 2.0 && !m.domains.empty()) {
        t.notes.push_back(fmt::format(
            "short run ({:.2f} s): counters update every few to 100 ms, so energy carries a large relative error; "
            "measure several seconds or repeat",
            time_s));
    }
    return t;
}

std::string command_text(const std::vector<std::string> & command) {
    std::string text;
    for (const auto & a : command) {
        text += (text.empty() ? "" : " ") + (a.find(' ') == std::string::npos ? a : "'" + a + "'");
    }
    return text;
}

nlohmann::json measurement_json(const MeteredRun & r, const std::vector<std::string> & command, double interval_ms) {
    const energy::Measurement & m = r.measurement;
    const nlohmann::json sensors = nlohmann::json::parse(r.sensors_json);
    nlohmann::json domains = nlohmann::json::array();
    for (const auto & e : m.domains) {
        domains.push_back({{"domain", e.domain.str()}, {"counter_update_hz", e.counter_update_hz}, {"error", e.error}});
    }
    const double duration_s = m.duration_s();
    nlohmann::json load = r.load ? energy::cpu_load_json(*r.load) : nlohmann::json(nullptr);
    nlohmann::json idle_load = r.idle_load ? energy::cpu_load_json(*r.idle_load) : nlohmann::json(nullptr);
    nlohmann::json doc = nlohmann::json::parse(render_table(measurement_table(r, command_text(command)), Format::json));
    doc["context"] = {{"command", command},
                      {"exit_status", r.exit_status},
                      {"duration_s", duration_s},
                      {"t_start_monotonic_s", m.t_start_s},
                      {"t_end_monotonic_s", m.t_end_s},
                      {"idle_s", m.idle_s},
                      {"interval_ms", interval_ms},
                      {"n_ticks", m.n_ticks},
                      {"sampler_cpu_s", m.sampler_cpu_s},
                      {"sampler_cpu_pct", duration_s > 0 ? 100.0 * m.sampler_cpu_s / duration_s : 0.0},
                      {"domains", domains},
                      {"cpu_load", load},
                      {"idle_cpu_load", idle_load},
                      {"sensors", sensors["sensors"]},
                      {"unavailable", sensors["unavailable"]}};
    return doc;
}

void write_timeline_csv(const std::string & path, const energy::Measurement & m) {
    std::ofstream out(path);
    if (!out) throw InputError(path, "cannot write the timeline file");
    out << "t_s,domain,power_w\n";
    for (const auto & p : m.timeline) {
        out << fmt::format("{:.6f},{},{:.3f}\n", p.t_s, m.domains[static_cast<size_t>(p.domain)].domain.str(),
                           p.power_w);
    }
}

}  // namespace jb::report
