#include "energy/estimate.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb::energy {

CpuTimes parse_proc_stat(const std::string & text, const std::string & path) {
    // Field order of the cpu lines (proc(5)): user nice system idle iowait irq softirq steal guest guest_nice.
    static const char * names[] = {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"};
    CpuTimes times;
    bool found = false;
    std::istringstream in(text);
    std::string line;
    long line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.rfind("cpu", 0) != 0) continue;
        if (line.size() > 3 && line[3] >= '0' && line[3] <= '9') {
            ++times.n_cpus;
            continue;
        }
        if (line.size() > 3 && line[3] != ' ') continue;
        // The aggregate line. Older kernels have fewer fields (steal since 2.6.11); at least 4 are required.
        uint64_t v[8] = {};
        const char * p = line.data() + 3;
        const char * end = line.data() + line.size();
        int n = 0;
        for (; n < 8; ++n) {
            while (p < end && *p == ' ') ++p;
            if (p == end) break;
            auto [next, ec] = std::from_chars(p, end, v[n]);
            if (ec != std::errc() || (next < end && *next != ' ')) {
                throw InputError(path, line_no, names[n], "not a jiffies count");
            }
            p = next;
        }
        if (n < 4) throw InputError(path, line_no, names[n], "missing (the cpu line needs at least 4 fields)");
        times.busy = v[0] + v[1] + v[2] + v[5] + v[6];
        times.total = times.busy + v[3] + v[4] + v[7];
        found = true;
    }
    if (!found) throw InputError(path, "no aggregate 'cpu' line");
    if (times.n_cpus == 0) times.n_cpus = 1;
    return times;
}

CpuTimes read_proc_stat(const std::string & path) {
    std::ifstream in(path);
    if (!in) throw InputError(path, "cannot open (needed for the CPU utilisation estimate)");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_proc_stat(ss.str(), path);
}

double default_cpu_tdp_w(int n_cpus) {
    return k_default_watts_per_cpu * (n_cpus > 0 ? n_cpus : 1);
}

double watts_per_busy_cpu(double tdp_w, int n_cpus) {
    return tdp_w / (n_cpus > 0 ? n_cpus : 1);
}

CpuEstimateSensor::CpuEstimateSensor(double tdp_w, std::string proc_stat_path, std::shared_ptr<Clock> clock,
                                     std::function<double()> cpu_s, std::string attribution)
    : path_(std::move(proc_stat_path)), clock_(std::move(clock)), cpu_s_(std::move(cpu_s)) {
    last_ = read_proc_stat(path_);
    if (cpu_s_) last_cpu_s_ = cpu_s_();
    last_t_s_ = clock_->now_s();
    bool default_tdp = tdp_w <= 0.0;
    tdp_w_ = default_tdp ? default_cpu_tdp_w(last_.n_cpus) : tdp_w;
    if (cpu_s_) {
        provenance_.name = "TDP per CPU x CPU time of the " + (attribution.empty() ? std::string("measured processes")
                                                                                     : attribution);
        provenance_.driver = "getrusage, /proc/<pid>/stat";
    } else {
        provenance_.name = "TDP x CPU utilisation";
        provenance_.driver = path_;
    }
    provenance_.update_hz = 100.0;  // USER_HZ
    provenance_.estimated = true;
    provenance_.details.emplace_back("tdp_w", fmt::format("{:.1f}", tdp_w_));
    provenance_.details.emplace_back(
        "tdp_rule", default_tdp ? fmt::format("default: {} W x {} logical CPUs", k_default_watts_per_cpu, last_.n_cpus)
                                : std::string("given"));
    provenance_.details.emplace_back("cpus", std::to_string(last_.n_cpus));
    provenance_.details.emplace_back("attribution", cpu_s_ ? (attribution.empty() ? "measured processes" : attribution)
                                                           : std::string("machine (all CPUs)"));
}

Reading CpuEstimateSensor::read() {
    if (cpu_s_) {
        // The measured processes' CPU time since the last read, at TDP / CPUs per busy CPU; no
        // more than every CPU busy for the whole interval (clock granularity can overshoot).
        const double cpu = cpu_s_();
        const double t = clock_->now_s();
        if (t > last_t_s_) {
            const double used_s = std::min(std::max(0.0, cpu - last_cpu_s_), (t - last_t_s_) * last_.n_cpus);
            energy_j_ += watts_per_busy_cpu(tdp_w_, last_.n_cpus) * used_s;
            last_cpu_s_ = cpu;
            last_t_s_ = t;
        }
        return {energy_j_, t};
    }
    CpuTimes now;
    try {
        now = read_proc_stat(path_);
    } catch (const InputError & e) {
        throw RuntimeFailure(e.what());
    }
    double t = clock_->now_s();
    if (now.total <= last_.total) {
        // No jiffy has passed since the last read: the interval is carried into the next one
        // rather than counted as idle.
        return {energy_j_, t};
    }
    uint64_t d_total = now.total - last_.total;
    uint64_t d_busy = now.busy >= last_.busy ? now.busy - last_.busy : 0;
    double utilisation = std::min(1.0, static_cast<double>(d_busy) / static_cast<double>(d_total));
    if (t > last_t_s_) energy_j_ += tdp_w_ * utilisation * (t - last_t_s_);
    last_ = now;
    last_t_s_ = t;
    return {energy_j_, t};
}

}  // namespace jb::energy
