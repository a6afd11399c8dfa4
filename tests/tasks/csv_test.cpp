#include "tasks/csv.hpp"

#include <gtest/gtest.h>

#include "joulebench/error.hpp"

using namespace jb::tasks;

TEST(Csv, quoted_fields_hold_commas_quotes_and_newlines) {
    const auto recs = parse_csv("plain,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",last\n", "t.csv");
    ASSERT_EQ(recs.size(), 1u);
    ASSERT_EQ(recs[0].fields.size(), 5u);
    EXPECT_EQ(recs[0].fields[0], "plain");
    EXPECT_EQ(recs[0].fields[1], "a, b");
    EXPECT_EQ(recs[0].fields[2], "say \"hi\"");
    EXPECT_EQ(recs[0].fields[3], "two\nlines");
    EXPECT_EQ(recs[0].fields[4], "last");
}

TEST(Csv, crlf_ends_records_but_is_kept_inside_quotes) {
    const auto recs = parse_csv("a,b\r\n\"x\r\ny\",z\r\nlast,row", "t.csv");
    ASSERT_EQ(recs.size(), 3u);
    EXPECT_EQ(recs[0].fields, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"x\r\ny", "z"}));  // bytes as in the file
    EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"last", "row"}));  // no final newline
}

TEST(Csv, line_numbers_count_embedded_newlines_and_blank_lines_are_skipped) {
    const auto recs = parse_csv("\"q\non two lines\",1\n\nnext,2\n", "t.csv");
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].line, 1);
    EXPECT_EQ(recs[1].line, 4);
}

TEST(Csv, empty_fields_and_python_style_leniency) {
    const auto recs = parse_csv(",\"\",x\n\"ab\"c,d\"e\n", "t.csv");
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].fields, (std::vector<std::string>{"", "", "x"}));
    EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"abc", "d\"e"}));  // as Python's csv.reader
}

TEST(Csv, unterminated_quote_names_file_and_line) {
    try {
        parse_csv("a,b\nc,\"never closed\nmore\n", "data/bad.csv");
        FAIL() << "expected InputError";
    } catch (const jb::InputError & e) {
        EXPECT_STREQ(e.what(), "data/bad.csv:2: quoted field is never closed (a missing '\"')");
    }
}
