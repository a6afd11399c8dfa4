// Sweeps metered by a fake NVML library (tests/cli/fake_nvml): a cell whose GPU another process
// used is marked; a GPU that never settles back to idle between cells is reported once, then counted.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "run_joulebench.hpp"
#include "joulebench/store.hpp"

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

TEST(SettleWait, a_gpu_that_never_cools_down_is_reported_once_and_counted_at_the_end) {
    TempDir dir;
    const std::string db = dir.file("warm.db");
    auto args = sweep_args(db, dir.file("cache"));
    // Three cells, an idle baseline, and a settle wait of two 0.1 s windows after each cell but the last.
    std::find(args.begin(), args.end(), "--idle-s")[1] = "0.2";
    std::find(args.begin(), args.end(), "--idle-check-s")[1] = "0.1";
    args.insert(args.end(), {"--repeat", "3", "--settle-s", "0.2"});
    ChildRun r = joulebench(args, {"JOULEBENCH_NVML_LIBRARY=" JB_FAKE_NVML, "JB_FAKE_NVML_WARMING=1"});
    ASSERT_EQ(r.status, 0) << r.err;

    const std::string once = "the device has not settled";
    const size_t first = r.err.find(once);
    ASSERT_NE(first, std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(once, first + 1), std::string::npos) << "said more than once:\n" << r.err;
    EXPECT_NE(r.err.find("sweep: after 2 of 3 cells the device had not settled within --settle-s 0.2 s"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(jb::Store::open_readonly(db).list_cells().size(), 3u);
}
