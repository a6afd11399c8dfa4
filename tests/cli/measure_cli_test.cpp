// joulebench measure / sensors, run as a child process the way a user runs them.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_joulebench.hpp"

namespace fs = std::filesystem;

namespace {

using namespace jb_test;
using jb::test::TempDir;

const nlohmann::json * row(const nlohmann::json & doc, const std::string & domain) {
    for (const auto & r : doc["rows"]) {
        if (r["domain"] == domain) return &r;
    }
    return nullptr;
}

}  // namespace

TEST(MeasureCli, exits_with_the_commands_status) {
    EXPECT_EQ(joulebench({"measure", "--", "true"}).status, 0);
    EXPECT_EQ(joulebench({"measure", "--", "false"}).status, 1);
    EXPECT_EQ(joulebench({"measure", "--", "sh", "-c", "exit 3"}).status, 3);
}

TEST(MeasureCli, command_killed_by_signal_exits_128_plus_signal) {
    ChildRun r = joulebench({"measure", "--", "sh", "-c", "kill -TERM $$"});
    EXPECT_EQ(r.status, 128 + 15);
    EXPECT_NE(r.err.find("killed by signal 15"), std::string::npos) << r.err;
}

TEST(MeasureCli, command_that_cannot_run_exits_127) {
    ChildRun r = joulebench({"measure", "--", "/nonexistent/joulebench-no-such-command"});
    EXPECT_EQ(r.status, 127);
    EXPECT_EQ(error_line(r.err),
              "joulebench: error: cannot execute '/nonexistent/joulebench-no-such-command': command not found");
    EXPECT_EQ(r.out, "");
}

TEST(MeasureCli, zero_interval_is_a_usage_error) {
    ChildRun r = joulebench({"measure", "--interval-ms", "0", "--", "true"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err), "joulebench: error: --interval-ms must be > 0 (got 0)");
}

TEST(MeasureCli, negative_idle_is_a_usage_error) {
    ChildRun r = joulebench({"measure", "--idle-s", "-1", "--", "true"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err), "joulebench: error: --idle-s must be >= 0 seconds (got -1)");
}

TEST(MeasureCli, missing_command_is_a_usage_error) {
    ChildRun r = joulebench({"measure"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err),
              "joulebench: error: no command to measure: joulebench measure [options] -- <command> [args]");
}

TEST(MeasureCli, unknown_output_format_is_a_usage_error) {
    ChildRun r = joulebench({"measure", "-o", "xml", "--", "true"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(error_line(r.err), "joulebench: error: unknown output format 'xml' (expected table, md, csv or json)");
}

TEST(MeasureCli, non_numeric_option_fails) {
    ChildRun r = joulebench({"measure", "--idle-s", "soon", "--", "true"});
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.out, "");
}

TEST(MeasureCli, json_labels_the_cpu_estimate) {
    ChildRun r = joulebench({"measure", "-o", "json", "--", "true"});
    ASSERT_EQ(r.status, 0) << r.err;
    nlohmann::json doc = nlohmann::json::parse(r.out);
    const nlohmann::json * cpu = row(doc, "cpu-package:0");
    ASSERT_NE(cpu, nullptr) << r.out;
    EXPECT_EQ((*cpu)["method"], "estimate");
    EXPECT_EQ((*cpu)["basis"], "estimated");
    EXPECT_EQ(row(doc, "total"), nullptr);  // nothing measured: no measured total
    ASSERT_NE(row(doc, "total (estimated)"), nullptr);
    EXPECT_EQ(doc["context"]["exit_status"], 0);
    EXPECT_EQ(doc["context"]["command"], nlohmann::json::array({"true"}));
}

TEST(MeasureCli, meters_a_rapl_counter_from_a_fake_tree) {
    TempDir dir;
    fs::path zone = dir.path() / "intel-rapl:0";
    fs::create_directories(zone);
    std::ofstream(zone / "name") << "package-0\n";
    std::ofstream(zone / "energy_uj") << "1000000\n";
    std::ofstream(zone / "max_energy_range_uj") << "262143328850\n";
    // The command itself moves the counter by 2.5 J.
    std::string cmd = "echo 3500000 > '" + (zone / "energy_uj").string() + "'";
    ChildRun r = joulebench({"measure", "-o", "json", "--idle-s", "0.05", "--", "sh", "-c", cmd},
                            {"JOULEBENCH_POWERCAP_ROOT=" + dir.path().string()});
    ASSERT_EQ(r.status, 0) << r.err;
    nlohmann::json doc = nlohmann::json::parse(r.out);
    const nlohmann::json * cpu = row(doc, "cpu-package:0");
    ASSERT_NE(cpu, nullptr) << r.out;
    EXPECT_EQ((*cpu)["method"], "counter");
    EXPECT_EQ((*cpu)["basis"], "measured");
    EXPECT_DOUBLE_EQ((*cpu)["gross_j"].get<double>(), 2.5);
    EXPECT_DOUBLE_EQ((*cpu)["counter_j"].get<double>(), 2.5);
    EXPECT_DOUBLE_EQ((*cpu)["idle_w"].get<double>(), 0.0);  // the counter did not move while idle
    EXPECT_DOUBLE_EQ((*cpu)["net_j"].get<double>(), 2.5);
    EXPECT_TRUE((*cpu)["samples_j"].is_null());
    EXPECT_DOUBLE_EQ((*row(doc, "total"))["gross_j"].get<double>(), 2.5);
    EXPECT_EQ(row(doc, "total (estimated)"), nullptr);  // a CPU counter exists: no estimate
}

TEST(MeasureCli, sensors_lists_what_is_unavailable_and_why) {
    ChildRun r = joulebench({"sensors", "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    nlohmann::json doc = nlohmann::json::parse(r.out);
    const nlohmann::json * gpu = row(doc, "gpu (NVML)");
    ASSERT_NE(gpu, nullptr) << r.out;
    EXPECT_EQ((*gpu)["status"], "unavailable");
    EXPECT_EQ((*gpu)["detail"].get<std::string>().rfind("libnvidia-ml-absent-in-tests.so.1 not found", 0), 0u);
    const nlohmann::json * cpu = row(doc, "cpu-package:0");
    ASSERT_NE(cpu, nullptr);
    EXPECT_EQ((*cpu)["method"], "estimate");
}

TEST(MeasureCli, report_file_leaves_stdout_to_the_command) {
    TempDir dir;
    const std::string report = dir.file("r.json");
    auto r = joulebench({"measure", "-o", "json", "--report", report, "--", "echo", "hello"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hello\n");
    auto doc = nlohmann::json::parse(slurp(report));
    EXPECT_EQ(doc["context"]["exit_status"], 0);
    auto bad = joulebench({"measure", "--report", "/nonexistent/dir/r.json", "--", "true"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(error_line(bad.err).find("/nonexistent/dir/r.json"), std::string::npos) << bad.err;
}
