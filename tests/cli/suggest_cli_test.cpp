// A mistyped option or command gets the closest valid name (issue 18, item 4), exit status 2.

#include <string>

#include <gtest/gtest.h>

#include "run_joulebench.hpp"

using namespace jb_test;

TEST(SuggestCli, mistyped_option_names_the_closest_one) {
    const ChildRun r = joulebench({"eval", "-m", "x.gguf", "--task", "arc_easy"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("unknown option --task; did you mean --tasks?"), std::string::npos) << r.err;
}

TEST(SuggestCli, mistyped_command_names_the_closest_one) {
    const ChildRun r = joulebench({"evl", "--tasks", "arc_easy"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("unknown command 'evl'; did you mean 'eval'?"), std::string::npos) << r.err;
}

TEST(SuggestCli, far_off_option_is_named_without_a_guess) {
    const ChildRun r = joulebench({"report", "--zzzzzzzzzz"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("unknown option --zzzzzzzzzz (joulebench report --help lists them)"), std::string::npos) << r.err;
}

TEST(SuggestCli, output_format_is_dash_o_everywhere) {
    // quantize and fidelity once took -o/--output-format; every command now takes -o/--output.
    for (const char * cmd : {"quantize", "fidelity", "report", "recommend", "eval", "sweep"}) {
        const ChildRun r = joulebench({cmd, "--help"});
        EXPECT_EQ(r.status, 0) << cmd << ": " << r.err;
        EXPECT_NE(r.out.find("--output"), std::string::npos) << cmd;
        EXPECT_EQ(r.out.find("--output-format"), std::string::npos) << cmd;
    }
}

TEST(SuggestCli, a_bad_number_names_the_option_and_the_value) {
    struct Case {
        std::vector<std::string> args;
        const char * says;
    };
    const std::vector<Case> cases = {
        {{"sweep", "-m", "x.gguf", "--ci", "2x%"}, "--ci '2x%': expected a half-width in percent"},
        {{"sweep", "-m", "x.gguf", "--ci", "100"}, "--ci '100': expected a half-width in percent"},
        {{"serve", "-m", "x.gguf", "--concurrency", "1,2.5"}, "--concurrency: '2.5' is not a whole number"},
        {{"serve", "-m", "x.gguf", "--rate", "1,fast"}, "--rate: 'fast' is not a number"},
        {{"serve", "-m", "x.gguf", "--rate", "0.01", "--duration", "10"},
         "--rate 0.01 with --duration 10: 0.1 arrivals a level, fewer than one"},
        {{"synth", "--arch", "qwen2.5-7b", "--scale", "1/0", "/tmp/jb-never-written.gguf"},
         "--scale '1/0': expected a number or a fraction"},
    };
    for (const Case & c : cases) {
        const ChildRun r = joulebench(c.args);
        EXPECT_EQ(r.status, 2) << c.args[0] << ": " << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    }
}

TEST(SuggestCli, a_mistyped_task_scheme_or_profile_names_the_closest_one) {
    const ChildRun task = joulebench({"eval", "-m", JB_TEST_MODEL, "--tasks", "arc_esy"});
    EXPECT_EQ(task.status, 2) << task.err;
    EXPECT_NE(task.err.find("unknown task 'arc_esy'; did you mean arc_easy?"), std::string::npos) << task.err;
    const ChildRun scheme = joulebench({"quantize", "-m", JB_TEST_MODEL, "--scheme", "q4_k_n"});
    EXPECT_EQ(scheme.status, 2) << scheme.err;
    EXPECT_NE(scheme.err.find("unknown scheme 'q4_k_n'; did you mean q4_k_m?"), std::string::npos) << scheme.err;
    const ChildRun profile = joulebench({"recommend", "/nonexistent/results.db", "--profile", "datacentre"});
    EXPECT_EQ(profile.status, 2) << profile.err;
    EXPECT_NE(profile.err.find("unknown profile 'datacentre'; did you mean datacenter?"), std::string::npos)
        << profile.err;
}
