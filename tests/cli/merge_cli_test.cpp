// `joulebench merge` with bad input: one line on stderr naming the file and what is wrong, a
// non-zero exit, no output file created, and every file left byte for byte as it was.
// The SQLite files here are written byte by byte (this test does not link SQLite).

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "run_joulebench.hpp"

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kJoulebenchAppId = 0x4A424442;  // "JBDB", store.hpp's kStoreApplicationId

class MergeCli : public ::testing::Test {
protected:
    std::string file(const std::string & name) const { return dir_.file(name); }

    struct Result {
        int exit_code = -1;
        std::string out, err;
    };

    Result run(const std::string & args) const {
        std::vector<std::string> argv = {"merge"};
        std::istringstream words(args);
        for (std::string w; words >> w;) argv.push_back(w.size() > 1 && w.front() == '\'' ? w.substr(1, w.size() - 2) : w);
        const jb_test::ChildRun child = jb_test::joulebench(argv);
        return {child.status, child.out, child.err};
    }

    static std::string read(const std::string & path) {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    static void write(const std::string & path, const std::string & bytes) {
        std::ofstream(path, std::ios::binary) << bytes;
    }

    // An empty but valid SQLite database: the 100-byte header and one empty table b-tree page
    // (the schema table), as SQLite itself writes it (https://www.sqlite.org/fileformat.html).
    static std::string sqlite_file(uint32_t application_id, uint32_t user_version) {
        std::string p(4096, '\0');
        auto be32 = [&](size_t at, uint32_t v) {
            for (int i = 0; i < 4; ++i) p[at + size_t(i)] = char(v >> (24 - 8 * i));
        };
        p.replace(0, 16, std::string("SQLite format 3\0", 16));
        p[16] = 0x10;  // page size 4096, big-endian
        p[17] = 0x00;
        p[18] = 1;  // file format write/read versions: legacy (rollback journal)
        p[19] = 1;
        p[21] = 64;  // payload fractions, fixed values
        p[22] = 32;
        p[23] = 32;
        be32(24, 1);  // file change counter
        be32(28, 1);  // database size in pages
        be32(44, 4);  // schema format number
        be32(56, 1);  // text encoding UTF-8
        be32(60, user_version);
        be32(68, application_id);
        be32(92, 1);  // version-valid-for = change counter
        be32(96, 3040001);
        p[100] = 0x0D;  // leaf table b-tree page, no cells, content area at 4096
        p[105] = 0x10;
        p[106] = 0x00;
        return p;
    }

    // Runs `merge args`, expects exit 1 and exactly one stderr line that names `culprit` and says
    // `reason`; checks `untouched` files kept their bytes and `never_created` did not appear.
    void expect_refused(const std::string & args, const std::string & culprit, const std::string & reason,
                        const std::vector<std::string> & untouched, const std::string & never_created) {
        std::vector<std::string> before;
        for (const auto & f : untouched) before.push_back(read(f));
        const Result r = run(args);
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_EQ(r.err.rfind(fmt::format("joulebench: error: {}: ", culprit), 0), 0u) << r.err;
        EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
        ASSERT_FALSE(r.err.empty());
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
        for (size_t i = 0; i < untouched.size(); ++i) {
            EXPECT_EQ(read(untouched[i]), before[i]) << untouched[i] << " was modified";
        }
        if (!never_created.empty()) {
            EXPECT_FALSE(fs::exists(never_created)) << never_created << " was created";
        }
        for (const auto & e : fs::directory_iterator(dir_.path())) {
            const std::string name = e.path().filename().string();
            EXPECT_TRUE(name.find("-wal") == std::string::npos && name.find("-shm") == std::string::npos &&
                        name.find("-journal") == std::string::npos && name.find(".creating-") == std::string::npos)
                << "left behind: " << name;
        }
    }

    jb::test::TempDir dir_;  // removed after the test
};

}  // namespace

TEST_F(MergeCli, random_bytes_input) {
    const std::string in = file("random.db");
    std::mt19937 gen(3);
    std::string bytes(16384, '\0');
    for (char & c : bytes) c = char(gen());
    write(in, bytes);
    const std::string out = file("all.db");
    expect_refused(fmt::format("'{}' -o '{}'", in, out), in, "not an SQLite database", {in}, out);
}

TEST_F(MergeCli, text_file_input) {
    const std::string in = file("notes.txt");
    write(in, "these are not results\n");
    const std::string out = file("all.db");
    expect_refused(fmt::format("'{}' -o '{}'", in, out), in, "not an SQLite database", {in}, out);
}

TEST_F(MergeCli, missing_input) {
    const std::string in = file("nowhere.db");
    const std::string out = file("all.db");
    expect_refused(fmt::format("'{}' -o '{}'", in, out), in, "no such file", {}, out);
}

TEST_F(MergeCli, foreign_sqlite_input) {
    const std::string in = file("foreign.sqlite");
    write(in, sqlite_file(0, 0));
    const std::string out = file("all.db");
    expect_refused(fmt::format("'{}' -o '{}'", in, out), in, "not made by joulebench", {in}, out);
}

TEST_F(MergeCli, other_application_input) {
    const std::string in = file("other.sqlite");
    write(in, sqlite_file(0x0F0F0F0F, 3));
    const std::string out = file("all.db");
    expect_refused(fmt::format("'{}' -o '{}'", in, out), in, "another application (application_id 0x0f0f0f0f", {in},
                   out);
}

TEST_F(MergeCli, newer_schema_input) {
    const std::string in = file("future.db");
    write(in, sqlite_file(kJoulebenchAppId, 99));
    const std::string out = file("all.db");
    expect_refused(fmt::format("'{}' -o '{}'", in, out), in, "schema version 99 is newer than this joulebench", {in},
                   out);
}

TEST_F(MergeCli, one_bad_input_among_several_creates_nothing) {
    const std::string a = file("a_future.db");
    write(a, sqlite_file(kJoulebenchAppId, 99));
    const std::string b = file("b.txt");
    write(b, "junk");
    const std::string out = file("all.db");
    // the first bad input in order is reported
    expect_refused(fmt::format("'{}' '{}' -o '{}'", a, b, out), a, "newer", {a, b}, out);
}

TEST_F(MergeCli, output_that_is_not_a_joulebench_database_is_refused) {
    const std::string in = file("in.sqlite");
    write(in, sqlite_file(0, 0));
    const std::string text_out = file("report.md");
    write(text_out, "# my report\n");
    expect_refused(fmt::format("'{}' -o '{}'", in, text_out), text_out, "not an SQLite database", {in, text_out}, "");
    const std::string foreign_out = file("other.sqlite");
    write(foreign_out, sqlite_file(0x12345678, 0));
    expect_refused(fmt::format("'{}' -o '{}'", in, foreign_out), foreign_out, "another application", {in, foreign_out},
                   "");
}

TEST_F(MergeCli, usage_errors_exit_non_zero) {
    const std::string out = file("all.db");
    Result r = run(fmt::format("-o '{}'", out));  // no inputs
    EXPECT_NE(r.exit_code, 0);
    EXPECT_FALSE(fs::exists(out));
    r = run(fmt::format("'{}'", file("a.db")));  // no -o
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--output"), std::string::npos) << r.err;
}
