#pragma once
// A fresh directory under the system temp dir for one test, removed with its contents at the end.
// Shared by every test module.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace jb::test {

class TempDir {
public:
    // ctest runs each TEST as its own process (gtest_discover_tests), many at once: the pid keeps
    // processes apart, the counter keeps several TempDirs of one process apart, and the test's name
    // says whose a leftover directory was.
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("jb-" + std::to_string(::getpid()) + "-" + test_name() + "-" + std::to_string(counter++));
        // A directory left by a crashed process whose pid has been reused.
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;  // never throw from a destructor; a leftover directory is harmless
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir & operator=(const TempDir &) = delete;

    const std::filesystem::path & path() const { return path_; }
    std::string file(const std::string & name) const { return (path_ / name).string(); }

    // Writes `text` to `rel` (parent directories created) and returns its full path.
    std::string write(const std::string & rel, const std::string & text) const {
        const std::filesystem::path p = path_ / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }

private:
    // "Suite.test", or the suite alone inside SetUpTestSuite; '/' of parameterized names becomes '_'.
    static std::string test_name() {
        const ::testing::UnitTest * unit = ::testing::UnitTest::GetInstance();
        std::string name = "none";
        if (const ::testing::TestInfo * t = unit->current_test_info()) {
            name = std::string(t->test_suite_name()) + "." + t->name();
        } else if (const ::testing::TestSuite * s = unit->current_test_suite()) {
            name = s->name();
        }
        for (char & c : name) {
            if (c == '/') c = '_';
        }
        return name;
    }

    std::filesystem::path path_;
};

}  // namespace jb::test
