#include "energy/estimate.hpp"

#include <gtest/gtest.h>

#include "energy/discover.hpp"
#include "support/temp_dir.hpp"
#include "joulebench/error.hpp"

using namespace jb::energy;
using jb::test::TempDir;

namespace {

// user nice system idle iowait irq softirq steal guest guest_nice
const char * stat_a =
    "cpu  100 20 30 800 50 5 5 10 0 0\n"
    "cpu0 50 10 15 400 25 3 2 5 0 0\n"
    "cpu1 50 10 15 400 25 2 3 5 0 0\n"
    "intr 12345\n";

}  // namespace

TEST(ProcStat, parses_the_aggregate_cpu_line) {
    CpuTimes t = parse_proc_stat(stat_a, "/proc/stat");
    EXPECT_EQ(t.busy, 100u + 20 + 30 + 5 + 5);
    EXPECT_EQ(t.total, 160u + 800 + 50 + 10);
    EXPECT_EQ(t.n_cpus, 2);
}

TEST(ProcStat, bad_field_names_file_line_and_field) {
    try {
        parse_proc_stat("intr 1\ncpu  100 x 30 800\n", "stat.txt");
        FAIL() << "no error";
    } catch (const jb::InputError & e) {
        EXPECT_STREQ(e.what(), "stat.txt:2: field 'nice': not a jiffies count");
    }
    EXPECT_THROW(parse_proc_stat("intr 1\n", "stat.txt"), jb::InputError);
    EXPECT_THROW(parse_proc_stat("cpu  1 2\n", "stat.txt"), jb::InputError);
}

TEST(CpuEstimate, default_tdp_is_watts_per_cpu_times_cpus) {
    EXPECT_DOUBLE_EQ(default_cpu_tdp_w(2), 8.0);
    EXPECT_DOUBLE_EQ(default_cpu_tdp_w(64), 256.0);
}

TEST(CpuEstimate, energy_is_tdp_times_utilisation_times_time) {
    TempDir dir;
    std::string path = dir.write("stat", stat_a);
    auto clock = std::make_shared<ManualClock>(10.0);
    CpuEstimateSensor s(100.0, path, clock);
    // +1000 jiffies in all, 250 of them busy (user): utilisation 0.25.
    dir.write("stat", "cpu  350 20 30 1500 100 5 5 10 0 0\ncpu0 0\ncpu1 0\n");
    clock->set(12.0);
    Reading r = s.read();
    EXPECT_DOUBLE_EQ(r.value, 100.0 * 0.25 * 2.0);
    EXPECT_DOUBLE_EQ(r.t_s, 12.0);
    EXPECT_TRUE(s.provenance().estimated);
    EXPECT_EQ(method_of(s), Method::estimate);
}

TEST(CpuEstimate, default_tdp_rule_is_recorded) {
    TempDir dir;
    CpuEstimateSensor s(0.0, dir.write("stat", stat_a), std::make_shared<ManualClock>());
    EXPECT_DOUBLE_EQ(s.tdp_w(), 8.0);
    bool found = false;
    for (const auto & [k, v] : s.provenance().details) {
        if (k == "tdp_rule") {
            EXPECT_EQ(v, "default: 4 W x 2 logical CPUs");
            found = true;
        }
    }
    EXPECT_TRUE(found);
}

TEST(Discover, falls_back_to_the_estimate_and_says_why) {
    TempDir dir;
    DiscoverOptions o;
    o.nvml_library = "libnvidia-ml-does-not-exist.so.1";
    o.powercap_root = dir.file("no-powercap");
    o.proc_stat = dir.write("stat", stat_a);
    o.clock = std::make_shared<ManualClock>();
    Discovery d = discover_sensors(o);
    ASSERT_EQ(d.sensors.size(), 1u);
    EXPECT_EQ(d.sensors[0]->domain().str(), "cpu-package:0");
    EXPECT_EQ(method_of(*d.sensors[0]), Method::estimate);
    ASSERT_EQ(d.unavailable.size(), 2u);
    EXPECT_EQ(d.unavailable[0].what, "gpu (NVML)");
    EXPECT_NE(d.unavailable[0].reason.find("libnvidia-ml-does-not-exist.so.1 not found"), std::string::npos);
    EXPECT_EQ(d.unavailable[1].what, "cpu-package (RAPL)");
    EXPECT_NE(d.unavailable[1].reason.find("no RAPL on this machine"), std::string::npos);
}

TEST(Discover, unreadable_proc_stat_is_reported) {
    DiscoverOptions o;
    o.gpu = false;
    o.powercap_root = "/nonexistent-powercap";
    o.proc_stat = "/nonexistent/stat";
    Discovery d = discover_sensors(o);
    EXPECT_TRUE(d.sensors.empty());
    ASSERT_EQ(d.unavailable.size(), 2u);
    EXPECT_EQ(d.unavailable[1].what, "cpu-package (estimate)");
    EXPECT_EQ(d.unavailable[1].reason, "/nonexistent/stat: cannot open (needed for the CPU utilisation estimate)");
}
