#include "joulebench/error.hpp"

#include <gtest/gtest.h>

TEST(InputError, names_file_line_and_field) {
    jb::InputError e("data/arc.jsonl", 12, "answerKey", "missing");
    EXPECT_STREQ(e.what(), "data/arc.jsonl:12: field 'answerKey': missing");
}

TEST(InputError, file_only_message) {
    jb::InputError e("model.gguf", "not a GGUF file");
    EXPECT_STREQ(e.what(), "model.gguf: not a GGUF file");
}

#include "util/strings.hpp"

TEST(SplitList, trims_and_keeps_order) {
    EXPECT_EQ(jb::split_list("fp16, int8 ,q4_k_m", "--schemes"), (std::vector<std::string>{"fp16", "int8", "q4_k_m"}));
    EXPECT_EQ(jb::split_list("mmlu", "--tasks"), (std::vector<std::string>{"mmlu"}));
}

TEST(SplitList, empty_element_names_the_option) {
    try {
        jb::split_list("mmlu,,arc_easy", "--tasks");
        FAIL() << "expected an error";
    } catch (const jb::UsageError & e) {
        EXPECT_STREQ(e.what(), "--tasks: empty name in 'mmlu,,arc_easy'");
    }
    EXPECT_THROW(jb::split_list("", "--tasks"), jb::UsageError);
}

TEST(ParseInt, the_whole_text_as_an_int_or_nothing) {
    EXPECT_EQ(jb::parse_int("12"), 12);
    EXPECT_EQ(jb::parse_int("-3"), -3);
    EXPECT_EQ(jb::parse_int("0"), 0);
    EXPECT_FALSE(jb::parse_int("12x"));
    EXPECT_FALSE(jb::parse_int("1.5"));
    EXPECT_FALSE(jb::parse_int(""));
    EXPECT_FALSE(jb::parse_int("auto"));
    EXPECT_FALSE(jb::parse_int("99999999999"));  // does not fit
}

TEST(ParseDouble, the_whole_text_as_a_finite_number_or_nothing) {
    EXPECT_EQ(jb::parse_double("2.5"), 2.5);
    EXPECT_EQ(jb::parse_double("1e3"), 1000.0);
    EXPECT_EQ(jb::parse_double("-0.25"), -0.25);
    EXPECT_FALSE(jb::parse_double("2%"));
    EXPECT_FALSE(jb::parse_double(""));
    EXPECT_FALSE(jb::parse_double("inf"));
    EXPECT_FALSE(jb::parse_double("nan"));
    EXPECT_FALSE(jb::parse_double("1/16"));
}

TEST(Ordinal, english_suffixes_with_the_teens) {
    EXPECT_EQ(jb::ordinal(1), "1st");
    EXPECT_EQ(jb::ordinal(2), "2nd");
    EXPECT_EQ(jb::ordinal(3), "3rd");
    EXPECT_EQ(jb::ordinal(4), "4th");
    EXPECT_EQ(jb::ordinal(11), "11th");
    EXPECT_EQ(jb::ordinal(12), "12th");
    EXPECT_EQ(jb::ordinal(13), "13th");
    EXPECT_EQ(jb::ordinal(21), "21st");
    EXPECT_EQ(jb::ordinal(22), "22nd");
    EXPECT_EQ(jb::ordinal(112), "112th");
}

TEST(SplitNumbers, a_list_of_numbers_naming_the_option_and_element_it_refuses) {
    EXPECT_EQ(jb::split_numbers("1, 4,16", "--concurrency", true), (std::vector<double>{1, 4, 16}));
    EXPECT_EQ(jb::split_numbers("0.5,2", "--rate", false), (std::vector<double>{0.5, 2}));
    try {
        jb::split_numbers("1,2.5", "--concurrency", true);
        FAIL() << "expected an error";
    } catch (const jb::UsageError & e) {
        EXPECT_STREQ(e.what(), "--concurrency: '2.5' is not a whole number");
    }
    try {
        jb::split_numbers("1,x", "--rate", false);
        FAIL() << "expected an error";
    } catch (const jb::UsageError & e) {
        EXPECT_STREQ(e.what(), "--rate: 'x' is not a number");
    }
}

TEST(ShellQuote, safe_words_bare_others_in_single_quotes) {
    EXPECT_EQ(jb::shell_quote("--schemes"), "--schemes");
    EXPECT_EQ(jb::shell_quote("fp16,int8"), "fp16,int8");
    EXPECT_EQ(jb::shell_quote("my model.gguf"), "'my model.gguf'");
    EXPECT_EQ(jb::shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(jb::shell_quote(""), "''");
}

TEST(ClosestName, a_near_miss_or_a_prefix_but_nothing_far) {
    EXPECT_EQ(jb::edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(jb::edit_distance("", "abc"), 3u);
    const std::vector<std::string> tasks = {"mmlu", "hellaswag", "arc_challenge", "arc_easy", "gsm8k"};
    EXPECT_EQ(jb::closest_name("arc_esy", tasks), "arc_easy");
    EXPECT_EQ(jb::closest_name("hellaswg", tasks), "hellaswag");
    EXPECT_EQ(jb::closest_name("mmlu_pro", tasks), "mmlu");  // a name it starts with
    EXPECT_EQ(jb::closest_name("squad", tasks), "");
}

TEST(Lower, ascii_letters_only) {
    EXPECT_EQ(jb::lower("Q4_K_M"), "q4_k_m");
    EXPECT_EQ(jb::lower("Content-Length: 12"), "content-length: 12");
}
