// jb::Results::report (joulebench/results.hpp): a program gets the report `joulebench report`
// writes, from a database built here with the store's API.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>

#include <unistd.h>

#include "joulebench/error.hpp"
#include "joulebench/results.hpp"
#include "joulebench/store.hpp"
#include "support/store_builder.hpp"

namespace {

std::string two_scheme_db() {
    const std::string db = (std::filesystem::temp_directory_path() /
                            ("jb-results-report-" + std::to_string(::getpid()) + ".db"))
                               .string();
    std::filesystem::remove(db);
    jb::Store st = jb::Store::open(db, /*create=*/true);
    const auto host = jb::test::add_host(st, "alpha");
    const auto model = jb::test::add_model(st, "h1", "tiny.gguf");
    for (auto [name, energy_j] : {std::pair{"fp16", 200.0}, {"int8", 150.0}}) {
        const auto s = jb::test::add_scheme(st, std::string("ftype=") + name + ";kv=f16/f16", name);
        jb::CellRecord c = jb::test::minimal_cell(host, model, s, "arc_easy", "task:arc_easy");
        c.primary_metric = "acc";
        c.n_items = 4;
        c.score = 0.5;
        c.energy_j = energy_j;
        c.wall_t_s = 10.0;
        c.prefill_tokens = 100;
        st.commit_cell(c, jb::test::items_of({1, 0, 1, 0}, 4));
    }
    return db;
}

TEST(ResultsReport, markdown_tables_and_an_html_page_from_the_public_api) {
    const std::string db = two_scheme_db();
    const jb::Results results = jb::Results::open(db);
    const std::string md = results.report("md", {"summary"});
    // The summary's rows: both schemes, int8's energy saving vs fp16 = 1 - 150/200 = 25.0 %.
    EXPECT_NE(md.find("| int8"), std::string::npos) << md;
    EXPECT_NE(md.find("25.0"), std::string::npos) << md;
    // EOR = 50 % / (150 J / 3600 J/Wh) = 1200 %/Wh; fp16's 50 / (200 / 3600) = 900.
    EXPECT_NE(md.find("1200.0"), std::string::npos) << md;
    EXPECT_NE(md.find("900.0"), std::string::npos) << md;
    const std::string html = results.report("html");
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u) << html.substr(0, 80);
    EXPECT_NE(html.find("int8"), std::string::npos);
    EXPECT_THROW(results.report("pdf"), jb::UsageError);
    std::filesystem::remove(db);
}

}  // namespace
