#include "energy/rapl.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "energy/meter.hpp"
#include "joulebench/error.hpp"

using namespace jb::energy;
namespace fs = std::filesystem;

namespace {

// A powercap tree like /sys/class/powercap, built in a temporary directory.
struct FakePowercap {
    fs::path root;

    FakePowercap() {
        root = fs::temp_directory_path() /
               ("jb-powercap-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root);
        fs::create_directories(root);
    }
    ~FakePowercap() { fs::remove_all(root); }

    void zone(const std::string & dir, const std::string & name, const std::string & energy_uj,
              const std::string & range_uj = "262143328850") const {
        fs::create_directories(root / dir);
        std::ofstream(root / dir / "name") << name << "\n";
        std::ofstream(root / dir / "energy_uj") << energy_uj << "\n";
        std::ofstream(root / dir / "max_energy_range_uj") << range_uj << "\n";
    }
    void set_energy(const std::string & dir, const std::string & energy_uj) const {
        std::ofstream(root / dir / "energy_uj") << energy_uj << "\n";
    }
    std::string str() const { return root.string(); }
};

std::string find_reason(const Discovery & d, const std::string & what) {
    for (const auto & u : d.unavailable) {
        if (u.what == what) return u.reason;
    }
    return "";
}

}  // namespace

TEST(Rapl, parses_microjoules) {
    EXPECT_DOUBLE_EQ(parse_microjoules("1234567\n", "energy_uj"), 1.234567);
    try {
        parse_microjoules("abc\n", "/x/energy_uj");
        FAIL() << "no error";
    } catch (const jb::InputError & e) {
        EXPECT_STREQ(e.what(), "/x/energy_uj: not a microjoule count: 'abc'");
    }
    EXPECT_THROW(parse_microjoules("", "energy_uj"), jb::InputError);
    EXPECT_THROW(parse_microjoules("-5", "energy_uj"), jb::InputError);
}

TEST(Rapl, finds_packages_and_dram_in_a_fake_tree) {
    FakePowercap pc;
    pc.zone("intel-rapl:0", "package-0", "1000000");
    pc.zone("intel-rapl:0:0", "core", "400000");
    pc.zone("intel-rapl:0:2", "dram", "5000000", "65532610987");
    pc.zone("intel-rapl:1", "package-1", "2500000");
    pc.zone("intel-rapl:2", "psys", "9000000");
    pc.zone("intel-rapl-mmio:0", "package-0", "1000000");  // MMIO duplicate of package 0
    fs::create_directories(pc.root / "intel-rapl");        // the control type directory

    Discovery d = discover_rapl(pc.str(), std::make_shared<ManualClock>(3.0));
    ASSERT_EQ(d.sensors.size(), 3u) << (d.unavailable.empty() ? "" : d.unavailable[0].reason);
    EXPECT_TRUE(d.unavailable.empty());
    EXPECT_EQ(d.sensors[0]->domain().str(), "cpu-package:0");
    EXPECT_EQ(d.sensors[1]->domain().str(), "dram:0");
    EXPECT_EQ(d.sensors[2]->domain().str(), "cpu-package:1");

    Reading r = d.sensors[0]->read();
    EXPECT_DOUBLE_EQ(r.value, 1.0);
    EXPECT_DOUBLE_EQ(r.t_s, 3.0);
    EXPECT_DOUBLE_EQ(d.sensors[0]->wrap_j(), 262143.32885);
    EXPECT_DOUBLE_EQ(d.sensors[1]->read().value, 5.0);
    EXPECT_DOUBLE_EQ(d.sensors[1]->wrap_j(), 65532.610987);
    EXPECT_EQ(d.sensors[0]->kind(), SensorKind::energy_counter);
    EXPECT_EQ(method_of(*d.sensors[0]), Method::counter);
}

TEST(Rapl, amd_tree_has_packages_and_no_dram) {
    FakePowercap pc;
    pc.zone("intel-rapl:0", "package-0", "42");
    pc.zone("intel-rapl:0:0", "core", "7");
    Discovery d = discover_rapl(pc.str());
    ASSERT_EQ(d.sensors.size(), 1u);
    EXPECT_EQ(find_reason(d, "dram (RAPL)"), "no RAPL dram zone (AMD CPUs and most desktop Intel CPUs expose none)");
}

TEST(Rapl, unreadable_energy_file_says_how_to_grant_access) {
    FakePowercap pc;
    pc.zone("intel-rapl:0", "package-0", "1000000");
    pc.zone("intel-rapl:1", "package-1", "1000000");
    // chmod 000 does not stop root, so the permission error is injected.
    std::string denied = pc.str() + "/intel-rapl:1/energy_uj";
    OpenFn open_file = [&](const std::string & path) { return path == denied ? -EACCES : open_readonly(path); };
    Discovery d = discover_rapl(pc.str(), steady_clock(), open_file);
    ASSERT_EQ(d.sensors.size(), 1u);
    EXPECT_EQ(find_reason(d, "cpu-package:1 (RAPL)"),
              denied +
                  ": not readable (permission denied; energy_uj is root-only since Linux 5.10): run as root, or grant "
                  "read access with `sudo chmod o+r /sys/class/powercap/intel-rapl*/energy_uj` (see docs/energy.md)");
}

TEST(Rapl, missing_powercap_means_no_rapl) {
    Discovery d = discover_rapl("/nonexistent/powercap");
    EXPECT_TRUE(d.sensors.empty());
    ASSERT_EQ(d.unavailable.size(), 1u);
    EXPECT_EQ(d.unavailable[0].reason,
              "no RAPL on this machine: /nonexistent/powercap does not exist (no powercap driver; common in VMs and "
              "containers)");
}

TEST(Rapl, empty_powercap_means_no_rapl) {
    FakePowercap pc;
    Discovery d = discover_rapl(pc.str());
    ASSERT_EQ(d.unavailable.size(), 1u);
    EXPECT_EQ(d.unavailable[0].reason, "no RAPL on this machine: no intel-rapl* zones under " + pc.str());
}

TEST(Rapl, garbage_in_energy_file_is_reported) {
    FakePowercap pc;
    pc.zone("intel-rapl:0", "package-0", "not-a-number");
    Discovery d = discover_rapl(pc.str());
    EXPECT_TRUE(d.sensors.empty());
    EXPECT_EQ(find_reason(d, "cpu-package:0 (RAPL)"),
              pc.str() + "/intel-rapl:0/energy_uj: not a microjoule count: 'not-a-number'");
}

TEST(Rapl, meter_unwraps_the_counter_at_max_energy_range) {
    FakePowercap pc;
    pc.zone("intel-rapl:0", "package-0", "262143000000");  // 0.32885 J below the wrap
    auto clock = std::make_shared<ManualClock>();
    Discovery d = discover_rapl(pc.str(), clock);
    ASSERT_EQ(d.sensors.size(), 1u);
    MeterParams p;
    p.thread = false;
    Meter m(d.sensors, p, clock);
    m.start();
    clock->set(0.5);
    pc.set_energy("intel-rapl:0", "262143200000");
    m.tick();
    clock->set(1.0);
    pc.set_energy("intel-rapl:0", "1000000");  // wrapped, then 1 J more
    Measurement r = m.stop();
    EXPECT_NEAR(r.domains[0].gross_j, 0.32885 + 1.0, 1e-9);
    EXPECT_EQ(r.domains[0].method, Method::counter);
}
