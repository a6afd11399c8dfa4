#include "energy/cpu_time.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "energy/estimate.hpp"

namespace jb::energy {

namespace {

double ticks_per_second() {
    const long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? double(hz) : 100.0;
}

double seconds_of(const timeval & tv) {
    return double(tv.tv_sec) + double(tv.tv_usec) * 1e-6;
}

// The whole (small) file, or nullopt when it cannot be read (a process that has just gone).
std::optional<std::string> read_small(const std::string & path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> numeric_entries(const std::string & dir) {
    std::vector<std::string> out;
    DIR * d = opendir(dir.c_str());
    if (!d) return out;
    while (const dirent * e = readdir(d)) {
        const char * n = e->d_name;
        if (*n && std::all_of(n, n + std::char_traits<char>::length(n), [](char c) { return c >= '0' && c <= '9'; })) {
            out.emplace_back(n);
        }
    }
    closedir(d);
    return out;
}

// The direct children of pid from /proc/<pid>/task/<tid>/children (every thread's), or nullopt
// when the kernel has no such file (CONFIG_PROC_CHILDREN off).
std::optional<std::vector<int>> children_files(const std::string & proc_root, int pid) {
    const std::string task_dir = fmt::format("{}/{}/task", proc_root, pid);
    const auto tids = numeric_entries(task_dir);
    if (tids.empty()) return std::vector<int>{};  // gone
    std::vector<int> out;
    bool any_file = false;
    for (const auto & tid : tids) {
        const auto text = read_small(fmt::format("{}/{}/children", task_dir, tid));
        if (!text) continue;
        any_file = true;
        std::istringstream in(*text);
        int child = 0;
        while (in >> child) out.push_back(child);
    }
    if (!any_file) return std::nullopt;
    return out;
}

}  // namespace

const char * cpu_scope_name(CpuScope scope) {
    switch (scope) {
        case CpuScope::machine: return "machine";
        case CpuScope::process_tree: return "process tree";
        case CpuScope::children: return "child processes";
    }
    return "?";
}

std::optional<PidStat> parse_pid_stat(const std::string & line) {
    // pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const auto open = line.find('(');
    const auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
    PidStat s;
    {
        const char * b = line.data();
        auto [p, ec] = std::from_chars(b, b + open, s.pid);
        if (ec != std::errc()) return std::nullopt;
    }
    std::istringstream in(line.substr(close + 1));
    std::string state, skip;
    if (!(in >> state >> s.ppid)) return std::nullopt;
    for (int i = 0; i < 9; ++i) {  // pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
        if (!(in >> skip)) return std::nullopt;
    }
    if (!(in >> s.utime >> s.stime >> s.cutime >> s.cstime)) return std::nullopt;
    return s;
}

double live_descendants_cpu_s(const std::string & proc_root, int root_pid, double ticks_per_s) {
    auto stat_of = [&](int pid) -> std::optional<PidStat> {
        const auto text = read_small(fmt::format("{}/{}/stat", proc_root, pid));
        return text ? parse_pid_stat(*text) : std::nullopt;
    };
    uint64_t ticks = 0;
    std::set<int> seen = {root_pid};
    std::vector<int> frontier = {root_pid};
    bool scanned = false;
    std::map<int, std::vector<int>> scan;  // ppid -> children, from a scan of every process
    // Breadth first; bounded by the processes that exist (seen guards against pid reuse loops).
    while (!frontier.empty()) {
        const int pid = frontier.back();
        frontier.pop_back();
        std::optional<std::vector<int>> kids = scanned ? std::nullopt : children_files(proc_root, pid);
        if (!kids) {
            if (!scanned) {
                for (const auto & name : numeric_entries(proc_root)) {
                    if (const auto s = stat_of(std::stoi(name))) scan[s->ppid].push_back(s->pid);
                }
                scanned = true;
            }
            kids = scan[pid];
        }
        for (int child : *kids) {
            if (!seen.insert(child).second) continue;
            if (const auto s = stat_of(child)) {
                ticks += s->utime + s->stime + s->cutime + s->cstime;
                frontier.push_back(child);
            }
        }
    }
    return double(ticks) / ticks_per_s;
}

TreeCpuClock::TreeCpuClock(CpuScope scope, std::string proc_root)
    : scope_(scope), proc_root_(std::move(proc_root)), ticks_per_s_(ticks_per_second()) {
    last_s_ = 0.0;
    last_s_ = cpu_s();
}

double TreeCpuClock::cpu_s() {
    double s = 0.0;
    if (scope_ == CpuScope::machine) {
        try {
            s = double(read_proc_stat(proc_root_ + "/stat").busy) / ticks_per_s_;
        } catch (const std::exception &) {
            return last_s_;  // unreadable: the clock holds
        }
    } else {
        if (scope_ == CpuScope::process_tree) {
            timespec ts{};
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
            s += double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
        }
        // Reaped descendants first, then the live ones: one that is reaped between the two reads is
        // missed once (and the clock holds its last value) rather than counted twice.
        rusage ru{};
        getrusage(RUSAGE_CHILDREN, &ru);
        s += seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime);
        s += live_descendants_cpu_s(proc_root_, int(getpid()), ticks_per_s_);
    }
    last_s_ = std::max(last_s_, s);
    return last_s_;
}

double CpuLoad::other_cpu_s() const {
    return std::max(0.0, machine_busy_cpu_s - own_cpu_s);
}

double CpuLoad::other_cpus() const {
    return duration_s > 0.0 ? other_cpu_s() / duration_s : 0.0;
}

bool CpuLoad::busy() const {
    // Each CPU's jiffy counter is read at both ends: a short window can gain a tick or two per CPU
    // from quantisation alone, which is not load.
    const double resolution_s = kBusyMinOtherCpuSPerCpu * std::max(1, n_cpus);
    return other_cpus() >= kBusyOtherCpus && other_cpu_s() >= kBusyOtherShare * machine_busy_cpu_s &&
           other_cpu_s() >= resolution_s;
}

std::string describe_load(const CpuLoad & load) {
    return fmt::format("other processes kept {:.1f} CPUs busy ({:.1f} CPU-s beside the measured processes' {:.1f} "
                       "CPU-s over {:.1f} s)",
                       load.other_cpus(), load.other_cpu_s(), load.own_cpu_s, load.duration_s);
}

nlohmann::json cpu_load_json(const CpuLoad & load) {
    return {{"scope", cpu_scope_name(load.scope)},
            {"duration_s", load.duration_s},
            {"cpu_s", load.own_cpu_s},
            {"machine_busy_cpu_s", load.machine_busy_cpu_s},
            {"other_cpus", load.other_cpus()},
            {"n_cpus", load.n_cpus},
            {"busy", load.busy()}};
}

std::optional<CpuLoad> cpu_load_from_json(const nlohmann::json & j) {
    if (!j.is_object()) return std::nullopt;
    auto number = [&](const char * key) -> std::optional<double> {
        const auto it = j.find(key);
        if (it == j.end() || !it->is_number()) return std::nullopt;
        return it->get<double>();
    };
    const auto duration = number("duration_s"), own = number("cpu_s"), machine = number("machine_busy_cpu_s");
    if (!duration || !own || !machine) return std::nullopt;
    CpuLoad load;
    load.duration_s = *duration;
    load.own_cpu_s = *own;
    load.machine_busy_cpu_s = *machine;
    load.n_cpus = int(number("n_cpus").value_or(0));
    const std::string scope = j.value("scope", "");
    for (CpuScope s : {CpuScope::machine, CpuScope::process_tree, CpuScope::children}) {
        if (scope == cpu_scope_name(s)) load.scope = s;
    }
    return load;
}

CpuLoadWatch::CpuLoadWatch(CpuScope scope, std::string proc_root, std::shared_ptr<Clock> clock)
    : stat_path_(proc_root + "/stat"), own_(scope, proc_root), clock_(std::move(clock)) {}

void CpuLoadWatch::begin() {
    try {
        const CpuTimes t = read_proc_stat(stat_path_);
        busy0_ = t.busy;
        n_cpus_ = t.n_cpus;
        ok_ = true;
    } catch (const std::exception &) {
        ok_ = false;
    }
    own0_s_ = own_.cpu_s();
    t0_s_ = clock_->now_s();
}

std::optional<CpuLoad> CpuLoadWatch::end() {
    const double own1_s = own_.cpu_s();
    if (!ok_) return std::nullopt;
    CpuTimes t;
    try {
        t = read_proc_stat(stat_path_);
    } catch (const std::exception &) {
        return std::nullopt;
    }
    CpuLoad load;
    load.duration_s = clock_->now_s() - t0_s_;
    load.machine_busy_cpu_s = double(t.busy >= busy0_ ? t.busy - busy0_ : 0) / ticks_per_second();
    load.own_cpu_s = own1_s - own0_s_;
    load.n_cpus = n_cpus_;
    load.scope = own_.scope();
    return load;
}

}  // namespace jb::energy
