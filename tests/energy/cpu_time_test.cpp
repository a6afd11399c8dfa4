// The CPU estimate attributed to the measured processes' CPU time (energy/cpu_time.hpp), and the
// check for other load beside a measurement: hand-computed cases on fake /proc trees, and real
// processes burning CPU beside `joulebench measure -- sleep 1`.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/run_joulebench.hpp"
#include "energy/cpu_time.hpp"
#include "energy/estimate.hpp"
#include "joulebench/meter.hpp"
#include "support/temp_dir.hpp"

extern char ** environ;

using namespace jb::energy;
using jb::test::TempDir;

namespace {

// A /proc/<pid>/stat line with the given ppid and times (ticks); the command name holds a space
// and a ')' as real ones may.
std::string stat_line(int pid, int ppid, int utime, int stime, int cutime = 0, int cstime = 0) {
    return std::to_string(pid) + " (my (odd) cmd) S " + std::to_string(ppid) + " 1 1 0 -1 4194304 10 0 0 0 " +
           std::to_string(utime) + " " + std::to_string(stime) + " " + std::to_string(cutime) + " " +
           std::to_string(cstime) + " 20 0 1 0 100 1000 10\n";
}

double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Spawns argv (PATH searched) as a child of this process; -1 if it could not.
pid_t spawn(std::vector<std::string> args) {
    std::vector<char *> argv;
    for (auto & a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
    return pid;
}

}  // namespace

TEST(PidStat, parses_the_times_after_an_odd_command_name) {
    const auto s = parse_pid_stat(stat_line(4242, 17, 150, 50, 7, 3));
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->pid, 4242);
    EXPECT_EQ(s->ppid, 17);
    EXPECT_EQ(s->utime, 150u);
    EXPECT_EQ(s->stime, 50u);
    EXPECT_EQ(s->cutime, 7u);
    EXPECT_EQ(s->cstime, 3u);
    EXPECT_FALSE(parse_pid_stat("4242 (cut short) S 1 2 3").has_value());
    EXPECT_FALSE(parse_pid_stat("no parentheses at all").has_value());
}

TEST(PidStat, reads_this_process_from_the_real_proc) {
    const auto text = jb_test::slurp("/proc/self/stat");
    const auto s = parse_pid_stat(text);
    ASSERT_TRUE(s.has_value()) << text;
    EXPECT_EQ(s->pid, int(getpid()));
    EXPECT_EQ(s->ppid, int(getppid()));
}

// root 100 -> 200 (-> 400), 300; 500 is someone else's. Ticks at 100 per second.
void write_tree(const TempDir & proc, bool children_files) {
    proc.write("100/stat", stat_line(100, 1, 9000, 9000));  // the root: never counted
    proc.write("200/stat", stat_line(200, 100, 100, 20, 30, 0));
    proc.write("300/stat", stat_line(300, 100, 50, 0));
    proc.write("400/stat", stat_line(400, 200, 10, 10));
    proc.write("500/stat", stat_line(500, 1, 7000, 0));
    for (int pid : {100, 200, 300, 400, 500}) {
        proc.write(std::to_string(pid) + "/task/" + std::to_string(pid) + "/comm", "x\n");
    }
    if (children_files) {
        proc.write("100/task/100/children", "200 300 ");
        proc.write("200/task/200/children", "400 ");
        proc.write("300/task/300/children", "");
        proc.write("400/task/400/children", "");
        proc.write("500/task/500/children", "");
    }
}

TEST(TreeCpu, live_descendants_sum_their_own_and_reaped_children_time) {
    // 200: 100 + 20 + 30 (a child it reaped); 300: 50; 400: 10 + 10. 220 ticks = 2.2 s; 500 is not ours.
    TempDir with_files;
    write_tree(with_files, true);
    EXPECT_DOUBLE_EQ(live_descendants_cpu_s(with_files.path().string(), 100, 100.0), 2.2);
    EXPECT_DOUBLE_EQ(live_descendants_cpu_s(with_files.path().string(), 200, 100.0), 0.2);
    // Without /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN off): a scan of every ppid.
    TempDir scan;
    write_tree(scan, false);
    EXPECT_DOUBLE_EQ(live_descendants_cpu_s(scan.path().string(), 100, 100.0), 2.2);
    EXPECT_DOUBLE_EQ(live_descendants_cpu_s(scan.path().string(), 999, 100.0), 0.0);
}

TEST(TreeCpu, a_real_child_burning_cpu_is_counted_for_children_not_the_machine_only) {
    TreeCpuClock children(CpuScope::children);
    const double before_s = children.cpu_s();
    // A shell busy loop of about a tenth of a second; waited for, so getrusage(RUSAGE_CHILDREN) has it.
    const pid_t pid = spawn({"sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"});
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const double used_s = children.cpu_s() - before_s;
    EXPECT_GT(used_s, 0.02);
    EXPECT_LT(used_s, 30.0);
}

TEST(CpuEstimate, attributed_energy_is_watts_per_cpu_times_our_cpu_time) {
    // 4 CPUs, TDP 100 W: 25 W per busy CPU. The machine's jiffies say 3 of 4 CPUs were busy for the
    // 2 s (the old estimate: 100 x 0.75 x 2 = 150 J); our processes used 0.5 CPU-s: 25 x 0.5 = 12.5 J.
    TempDir dir;
    const std::string path = dir.write("stat", "cpu  0 0 0 800 0 0 0 0\ncpu0 0\ncpu1 0\ncpu2 0\ncpu3 0\n");
    auto clock = std::make_shared<ManualClock>(10.0);
    double ours_s = 1.0;
    CpuEstimateSensor s(100.0, path, clock, [&] { return ours_s; }, "process tree");
    EXPECT_TRUE(s.attributed());
    dir.write("stat", "cpu  600 0 0 1000 0 0 0 0\ncpu0 0\ncpu1 0\ncpu2 0\ncpu3 0\n");
    ours_s = 1.5;
    clock->set(12.0);
    EXPECT_DOUBLE_EQ(s.read().value, 12.5);
    // At most every CPU for the elapsed time: 9 CPU-s claimed in 1 s on 4 CPUs count as 4 (100 J).
    ours_s = 10.5;
    clock->set(13.0);
    EXPECT_DOUBLE_EQ(s.read().value, 12.5 + 100.0);
    EXPECT_TRUE(s.provenance().estimated);
    EXPECT_EQ(s.provenance().name, "TDP per CPU x CPU time of the process tree");
    EXPECT_DOUBLE_EQ(watts_per_busy_cpu(100.0, 4), 25.0);
}

TEST(CpuLoad, other_load_is_the_machines_busy_time_beyond_ours) {
    CpuLoad load;
    load.duration_s = 10.0;
    load.machine_busy_cpu_s = 20.0;  // the case: another job beside a quiet command
    load.own_cpu_s = 1.0;
    EXPECT_DOUBLE_EQ(load.other_cpu_s(), 19.0);
    EXPECT_DOUBLE_EQ(load.other_cpus(), 1.9);
    EXPECT_TRUE(load.busy());
    EXPECT_EQ(describe_load(load),
              "other processes kept 1.9 CPUs busy (19.0 CPU-s beside the measured processes' 1.0 CPU-s over 10.0 s)");
    load.machine_busy_cpu_s = 2.2;  // background noise: 0.02 CPUs
    load.own_cpu_s = 2.0;
    EXPECT_FALSE(load.busy());
    load.machine_busy_cpu_s = 43.0;  // 0.3 CPUs of others, but 7 % of the machine's busy time
    load.own_cpu_s = 40.0;
    EXPECT_DOUBLE_EQ(load.other_cpus(), 0.3);
    EXPECT_FALSE(load.busy());
    load.own_cpu_s = 50.0;  // ours above the machine's (clock granularity): no negative load
    EXPECT_DOUBLE_EQ(load.other_cpu_s(), 0.0);
    CpuLoad blink;  // 30 ms on 2 CPUs, 2 ticks of others: 0.67 CPUs, but within /proc/stat's resolution
    blink.duration_s = 0.03;
    blink.machine_busy_cpu_s = 0.03;
    blink.own_cpu_s = 0.01;
    blink.n_cpus = 2;
    EXPECT_NEAR(blink.other_cpus(), 0.667, 1e-3);
    EXPECT_FALSE(blink.busy());
    blink.machine_busy_cpu_s = 0.06;  // 5 ticks of others: beyond 2 x 0.02 s
    EXPECT_TRUE(blink.busy());

    const auto back = cpu_load_from_json(cpu_load_json(load));
    ASSERT_TRUE(back.has_value());
    EXPECT_DOUBLE_EQ(back->machine_busy_cpu_s, 43.0);
    EXPECT_DOUBLE_EQ(back->own_cpu_s, 50.0);
    EXPECT_EQ(back->scope, CpuScope::process_tree);
    EXPECT_FALSE(cpu_load_from_json(nlohmann::json::array()).has_value());
}

TEST(CpuLoadWatch, reads_a_fake_proc_stat_window) {
    TempDir proc;
    proc.write("stat", "cpu  100 0 0 1000 0 0 0 0\ncpu0 0\ncpu1 0\n");
    auto clock = std::make_shared<ManualClock>(5.0);
    CpuLoadWatch watch(CpuScope::children, proc.path().string(), clock);
    watch.begin();
    proc.write("stat", "cpu  300 0 0 1100 0 0 0 0\ncpu0 0\ncpu1 0\n");  // +200 busy jiffies
    clock->set(7.0);
    const auto load = watch.end();
    ASSERT_TRUE(load.has_value());
    EXPECT_DOUBLE_EQ(load->duration_s, 2.0);
    EXPECT_DOUBLE_EQ(load->machine_busy_cpu_s, 200.0 / double(sysconf(_SC_CLK_TCK)));
    EXPECT_EQ(load->n_cpus, 2);
    EXPECT_DOUBLE_EQ(load->own_cpu_s, 0.0);  // no child of this process ran in the fake tree
    CpuLoadWatch missing(CpuScope::children, proc.file("nothing-here"), clock);
    missing.begin();
    EXPECT_FALSE(missing.end().has_value());
}

TEST(CpuEstimate, in_process_work_is_attributed_to_the_process) {
    // jb::measure runs the work in this process: the estimate is 4 W per CPU x its CPU time.
    setenv("JOULEBENCH_NVML_LIBRARY", "libnvidia-ml-absent-in-tests.so.1", 1);
    setenv("JOULEBENCH_POWERCAP_ROOT", "/nonexistent-powercap", 1);
    const int n_cpus = int(std::thread::hardware_concurrency());
    jb::MeterOptions o;
    o.cpu_tdp_w = 4.0 * n_cpus;
    double burned_s = 0.0;
    volatile double sink = 0.0;
    const jb::MeteredRun r = jb::measure(
        [&](const jb::PhaseMark &) {
            const double t0 = thread_cpu_s();
            while (thread_cpu_s() - t0 < 0.3) sink = sink + std::sqrt(sink + 2.0);
            burned_s = thread_cpu_s() - t0;
        },
        o);
    ASSERT_TRUE(r.measurement.has_estimated());
    // The burn, plus the sampling thread's and the rest of the process's CPU time (well under 0.15 s).
    EXPECT_GE(r.measurement.estimated_total_j, 4.0 * burned_s * 0.98);
    EXPECT_LE(r.measurement.estimated_total_j, 4.0 * (burned_s + 0.15));
    ASSERT_TRUE(r.load.has_value());
    EXPECT_GE(r.load->own_cpu_s, burned_s * 0.98);
}

TEST(MeasureLoad, a_busy_neighbour_does_not_inflate_the_estimate_of_sleep) {
    // The case: `measure --idle-s 1 -- sleep 1` beside another job read 8.1 J on a busy
    // machine. A shell loop burns a CPU beside the command; the estimate counts only sleep's own
    // CPU time (a few ms: well under 0.25 J at 4 W per CPU), where the whole machine's busy time
    // would give at least 4 W x 0.5 CPU x 1 s = 2 J. The run and its idle baseline are flagged.
    // A child of this test (not of joulebench), spinning until killed or for 20 s at most.
    const pid_t burner = fork();
    ASSERT_GE(burner, 0);
    if (burner == 0) {
        alarm(20);
        volatile unsigned long spin = 0;
        for (;;) spin = spin + 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int n_cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
    const jb_test::ChildRun r = jb_test::joulebench(
        {"measure", "-o", "json", "--idle-s", "0.5", "--cpu-tdp-w", std::to_string(4 * n_cpus), "--", "sleep", "1"});
    kill(burner, SIGKILL);
    int status = 0;
    waitpid(burner, &status, 0);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    double estimate_j = -1.0;
    for (const auto & row : doc["rows"]) {
        if (row["domain"] == "cpu-package:0") estimate_j = row["gross_j"].get<double>();
    }
    EXPECT_GE(estimate_j, 0.0) << r.out;
    EXPECT_LT(estimate_j, 0.25) << r.out;
    const auto & load = doc["context"]["cpu_load"];
    ASSERT_TRUE(load.is_object()) << r.out;
    EXPECT_EQ(load["scope"], "child processes");
    EXPECT_GE(load["other_cpus"].get<double>(), 0.5) << load.dump();
    EXPECT_LT(load["cpu_s"].get<double>(), 0.05) << load.dump();
    EXPECT_TRUE(load["busy"].get<bool>());
    EXPECT_TRUE(doc["context"]["idle_cpu_load"]["busy"].get<bool>()) << doc["context"].dump();
    bool noted = false;
    for (const auto & n : doc["notes"]) noted = noted || n.get<std::string>().rfind("other load during the command", 0) == 0;
    EXPECT_TRUE(noted) << doc["notes"].dump();
}
