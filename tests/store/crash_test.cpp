// A sweep killed at any moment must resume without losing or duplicating a cell. These tests
// kill a real child process (fork) while it writes, then reopen the file in the parent.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "fixtures.hpp"

using namespace jb;
using namespace jb::test;

static constexpr size_t kItemsPerCell = 400;

static CellRecord sweep_cell(const Seeded & s, int i) {
    return make_cell(s.host, s.model, i % 2 ? s.int8 : s.fp16, "task" + std::to_string(i / 2), 0, double(i));
}

// Checks what a resumed sweep relies on: the file is intact, every cell present is complete
// (items and timeline), no orphans, no duplicate keys.
static void expect_consistent(const std::string & path, size_t max_cells) {
    Store st = Store::open(path);
    EXPECT_EQ(st.integrity_check(), "ok");
    const auto cells = st.list_cells();
    EXPECT_LE(cells.size(), max_cells);
    std::set<std::string> keys;
    for (const auto & c : cells) {
        EXPECT_TRUE(keys.insert(c.task + "|" + c.scheme_canonical).second) << "duplicate " << c.task;
        EXPECT_EQ(st.cell_items(c.id).size(), kItemsPerCell) << "cell " << c.id;
        const auto tl = st.cell_timeline(c.id);
        ASSERT_TRUE(tl.has_value()) << "cell " << c.id;
        EXPECT_EQ(tl->t_s.size(), 200u);
    }
    EXPECT_EQ(count_rows(st, "items WHERE cell_id NOT IN (SELECT id FROM cells)"), 0);
    EXPECT_EQ(count_rows(st, "timelines WHERE cell_id NOT IN (SELECT id FROM cells)"), 0);
    EXPECT_EQ(count_rows(st, "items"), int64_t(cells.size() * kItemsPerCell));
}

TEST(StoreCrash, sigkill_inside_commit_transaction_leaves_no_partial_cell) {
    TempDir dir;
    const std::string path = dir.file("sweep.db");
    Seeded s;
    {
        Store st = Store::open(path, true);
        s.seed(st);
    }
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        try {
            Store st = Store::open(path);
            for (int i = 0; i < 3; ++i) {
                st.commit_cell(sweep_cell(s, i), make_items(kItemsPerCell), make_timeline(200));
            }
            // Stop inside the 4th cell's transaction, with the cell row and its items written
            // (to the WAL) but not committed, tell the parent, and wait to be killed.
            st.set_commit_hook([&](std::string_view stage) {
                if (stage == "items") {
                    if (write(fds[1], "x", 1) != 1) _exit(4);
                    for (;;) pause();
                }
            });
            st.commit_cell(sweep_cell(s, 3), make_items(kItemsPerCell), make_timeline(200));
        } catch (...) {
            _exit(3);
        }
        _exit(0);
    }
    close(fds[1]);
    char c = 0;
    ASSERT_EQ(read(fds[0], &c, 1), 1) << "child did not reach the middle of the transaction";
    close(fds[0]);
    // the uncommitted transaction really is in the file system (WAL) when the kill comes
    EXPECT_TRUE(fs::exists(path + "-wal"));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);

    expect_consistent(path, 3);
    Store st = Store::open(path);
    EXPECT_EQ(st.list_cells().size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(st.has_cell(sweep_cell(s, i).key()));
    EXPECT_FALSE(st.has_cell(sweep_cell(s, 3).key(), true));  // the interrupted one is redone
    st.commit_cell(sweep_cell(s, 3), make_items(kItemsPerCell), make_timeline(200));
    EXPECT_EQ(st.list_cells().size(), 4u);
}

// The sweep loop as the CLI runs it (skip done cells, commit the rest), killed again and again
// at random moments with SIGKILL, SIGTERM or SIGINT until it gets to finish.
TEST(StoreCrash, sweep_killed_repeatedly_resumes_to_exactly_all_cells) {
    TempDir dir;
    const std::string path = dir.file("sweep.db");
    Seeded s;
    {
        Store st = Store::open(path, true);
        s.seed(st);
    }
    const int n_cells = 24;
    std::mt19937 gen(12345);
    int kills = 0;
    bool finished = false;
    for (int round = 0; round < 200 && !finished; ++round) {
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            try {
                Store st = Store::open(path);
                for (int i = 0; i < n_cells; ++i) {
                    const CellRecord c = sweep_cell(s, i);
                    if (st.has_cell(c.key())) continue;
                    st.commit_cell(c, make_items(kItemsPerCell), make_timeline(200));
                }
            } catch (...) {
                _exit(3);
            }
            _exit(0);
        }
        // Early rounds die young (often during open or the first commit); later ones live longer.
        const int delay_us = int(gen() % uint32_t(2000 + round * 3000));
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
        const int sig = std::array{SIGKILL, SIGTERM, SIGINT}[round % 3];
        kill(pid, sig);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status)) {
            ASSERT_EQ(WEXITSTATUS(status), 0) << "child failed in round " << round;
            finished = true;
        } else {
            ASSERT_TRUE(WIFSIGNALED(status));
            ++kills;
            expect_consistent(path, n_cells);
        }
    }
    ASSERT_TRUE(finished);
    RecordProperty("kills", kills);
    EXPECT_GE(kills, 3) << "the sweep was hardly interrupted; the test proved little";
    expect_consistent(path, n_cells);
    Store st = Store::open(path);
    EXPECT_EQ(st.list_cells().size(), size_t(n_cells));
    for (int i = 0; i < n_cells; ++i) {
        const auto c = st.find_cell(sweep_cell(s, i).key());
        ASSERT_TRUE(c.has_value()) << i;
        EXPECT_EQ(c->score, sweep_cell(s, i).score);
    }
}
