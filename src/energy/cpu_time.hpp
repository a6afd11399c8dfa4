#pragma once
// The CPU time of the measured processes, and how busy the machine was beside them.
//
// /proc/stat counts every CPU's busy time: another job on the machine lands in it as much as our
// own work. The CPU estimate (estimate.hpp) is therefore attributed to the measured processes'
// own CPU time (user + system), and a window during which other processes kept the CPUs busy is
// flagged (CpuLoad::busy): a measured CPU package counter (RAPL) includes their energy, and their
// contention slows ours.
//
// Whose CPU time (CpuScope, joulebench/energy.hpp):
//   process_tree  this process, all its threads (CLOCK_PROCESS_CPUTIME_ID), plus its descendants:
//                 work run in-process (sweep cells, jb::measure) and the servers it spawns
//   children      its descendants only: a command it runs and waits for (joulebench measure --)
//   machine       every CPU's busy time from /proc/stat (the whole machine; the old estimate)
// Descendants: those reaped by us (getrusage RUSAGE_CHILDREN, which includes what they reaped) plus
// the live ones (/proc/<pid>/stat utime + stime + cutime + cstime, found through
// /proc/<pid>/task/<tid>/children, or a scan of /proc where that file does not exist). A grandchild
// orphaned by its parent (a daemon) leaves the tree and is not counted.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "energy/clock.hpp"
#include "joulebench/energy.hpp"

namespace jb::energy {

const char * cpu_scope_name(CpuScope scope);  // "machine", "process tree", "child processes"

// The fields of one /proc/<pid>/stat line that attribution needs (times in clock ticks).
struct PidStat {
    int pid = 0;
    int ppid = 0;
    uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
};
// Parses a /proc/<pid>/stat line (the command name in parentheses may hold spaces and ')');
// nullopt when the line is malformed.
std::optional<PidStat> parse_pid_stat(const std::string & line);

// CPU seconds of root_pid's live descendants (root excluded), read under proc_root ("/proc"):
// each one's utime + stime + cutime + cstime over ticks_per_s.
double live_descendants_cpu_s(const std::string & proc_root, int root_pid, double ticks_per_s);

// A cumulative clock of the CPU seconds a scope has used (see above); cpu_s() never decreases.
// For CpuScope::machine it is the busy time of all CPUs from proc_root/stat.
class TreeCpuClock {
public:
    explicit TreeCpuClock(CpuScope scope, std::string proc_root = "/proc");
    double cpu_s();
    CpuScope scope() const { return scope_; }

private:
    CpuScope scope_;
    std::string proc_root_;
    double ticks_per_s_;
    double last_s_ = 0.0;
};

// {"scope": "process tree", "duration_s", "cpu_s" (the measured processes'), "machine_busy_cpu_s",
//  "other_cpus" (CPUs other processes kept busy on average), "n_cpus", "busy": CpuLoad::busy()}
nlohmann::json cpu_load_json(const CpuLoad & load);
// The same back (nullopt for anything else), for reports reading a stored cell.
std::optional<CpuLoad> cpu_load_from_json(const nlohmann::json & j);

// "other processes kept 1.9 CPUs busy (19.0 CPU-s beside the measured processes' 0.3 CPU-s over 10.0 s)"
std::string describe_load(const CpuLoad & load);

// Measures a window's CpuLoad: begin() and end() read /proc/stat (proc_root/stat) and the scope's
// clock. end() is nullopt when /proc/stat could not be read (never throws: a measurement goes on
// without the check).
class CpuLoadWatch {
public:
    explicit CpuLoadWatch(CpuScope scope, std::string proc_root = "/proc", std::shared_ptr<Clock> clock = steady_clock());
    void begin();
    std::optional<CpuLoad> end();

private:
    std::string stat_path_;
    TreeCpuClock own_;
    std::shared_ptr<Clock> clock_;
    bool ok_ = false;
    uint64_t busy0_ = 0;
    double own0_s_ = 0.0, t0_s_ = 0.0;
    int n_cpus_ = 0;
};

}  // namespace jb::energy
