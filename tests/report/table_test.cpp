// The printers of one Table: a flag column (0/1) reads "yes"/"no" where people read it (terminal,
// Markdown) and stays 0/1 where programs read it (CSV, JSON); an integer column stays a number.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "joulebench/table.hpp"

using namespace jb;

namespace {

Table flags() {
    Table t;
    t.add_column("scheme", "scheme");
    t.add_column("repeats", "repeats", 0);
    t.add_flag_column("pareto", "Pareto");
    t.add_row({std::string("fp16"), int64_t(1), int64_t(0)});
    t.add_row({std::string("q4_k_m"), int64_t(3), int64_t(1)});
    t.add_row({std::string("int8"), int64_t(1), Value()});  // not known: empty, never "no"
    return t;
}

}  // namespace

TEST(Table, a_flag_column_reads_yes_or_no_for_people_and_stays_0_or_1_for_programs) {
    const Table t = flags();
    const std::string md = render_table(t, Format::md);
    EXPECT_NE(md.find("|   fp16 |       1 |     no |"), std::string::npos) << md;
    EXPECT_NE(md.find("| q4_k_m |       3 |    yes |"), std::string::npos) << md;
    EXPECT_NE(md.find("|   int8 |       1 |        |"), std::string::npos) << md;
    const std::string text = render_table(t, Format::table);
    EXPECT_NE(text.find("q4_k_m        3     yes"), std::string::npos) << text;

    const std::string csv = render_table(t, Format::csv);
    EXPECT_NE(csv.find("fp16,1,0\n"), std::string::npos) << csv;
    EXPECT_NE(csv.find("q4_k_m,3,1\n"), std::string::npos) << csv;
    const auto json = nlohmann::json::parse(render_table(t, Format::json));
    EXPECT_EQ(json["rows"][1]["pareto"], 1);
    EXPECT_EQ(json["rows"][0]["pareto"], 0);

    EXPECT_EQ(format_cell(t.columns[2], int64_t(1)), "yes");
    EXPECT_EQ(format_cell(t.columns[1], int64_t(1)), "1");
}
