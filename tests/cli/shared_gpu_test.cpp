// A sweep marks a cell whose metered GPU another process used: through a fake NVML library
// (tests/cli/fake_nvml) whose GPU lists this sweep's process and, when asked, another one.

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "run_joulebench.hpp"
#include "store/store.hpp"

using namespace jb_test;
using jb::test::TempDir;

namespace {

std::vector<std::string> sweep_args(const std::string & db, const std::string & cache) {
    return {"sweep",
            "-m",
            JB_TEST_MODEL,
            "--schemes",
            "fp16",
            "--tasks",
            "arc_easy",
            "--data-dir",
            std::string(JB_SOURCE_DIR) + "/data/samples",
            "--limit",
            "2",
            "--db",
            db,
            "--cache-dir",
            cache,
            "--idle-s",
            "0",
            "--idle-check-s",
            "0",
            "-t",
            "2",
            "--no-progress"};
}

nlohmann::json energy_of_only_cell(const std::string & db) {
    auto store = jb::Store::open_readonly(db);
    const auto cells = store.list_cells();
    EXPECT_EQ(cells.size(), 1u);
    return cells.empty() ? nlohmann::json() : nlohmann::json::parse(cells[0].energy_json);
}

}  // namespace

TEST(SharedGpu, a_cell_is_marked_when_another_process_uses_its_gpu) {
    TempDir dir;
    const std::string cache = dir.file("cache");
    const std::string nvml = "JOULEBENCH_NVML_LIBRARY=" JB_FAKE_NVML;

    // Alone on the GPU: metered by the fake counter, not marked.
    const std::string alone = dir.file("alone.db");
    ChildRun r = joulebench(sweep_args(alone, cache), {nvml});
    ASSERT_EQ(r.status, 0) << r.err;
    auto energy = energy_of_only_cell(alone);
    EXPECT_NE(energy["domains"].dump().find("gpu:0"), std::string::npos) << energy.dump();
    EXPECT_FALSE(energy.contains("shared_gpu")) << energy.dump();
    EXPECT_EQ(r.err.find("other processes used"), std::string::npos) << r.err;

    // Process 4242 holds a context on it too: the cell says so, and so does the sweep.
    const std::string shared = dir.file("shared.db");
    r = joulebench(sweep_args(shared, cache), {nvml, "JB_FAKE_NVML_OTHER_PID=4242"});
    ASSERT_EQ(r.status, 0) << r.err;
    energy = energy_of_only_cell(shared);
    ASSERT_TRUE(energy.contains("shared_gpu")) << energy.dump();
    EXPECT_EQ(energy["shared_gpu"], nlohmann::json::parse(R"([{"domain": "gpu:0", "pids": [4242]}])"));
    EXPECT_NE(r.err.find("stories260K.gguf fp16 arc_easy: other processes used the metered device during the cell: "
                         "gpu:0 (pid 4242)"),
              std::string::npos)
        << r.err;
}
