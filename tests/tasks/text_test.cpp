// Python-semantics string helpers and GSM8K answer extraction. Expected values were checked
// against CPython's re / str with lm-eval's exact patterns.

#include "tasks/text.hpp"

#include <gtest/gtest.h>

using namespace jb::tasks;

TEST(Text, utf8_length_counts_code_points_like_python_len) {
    EXPECT_EQ(utf8_length(""), 0u);
    EXPECT_EQ(utf8_length("abc"), 3u);
    EXPECT_EQ(utf8_length("caf\xc3\xa9 \xe2\x98\x95"), 6u);  // "café ☕"
    EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80"), 1u);          // one emoji, four bytes
}

TEST(Text, py_strip_removes_unicode_whitespace) {
    EXPECT_EQ(py_strip("  a b \n"), "a b");
    EXPECT_EQ(py_strip("\xc2\xa0 hi\xe3\x80\x80 "), "hi");  // NBSP and ideographic space, as str.strip()
    EXPECT_EQ(py_strip("caf\xc3\xa9"), "caf\xc3\xa9");      // a trailing multibyte letter stays
    EXPECT_EQ(py_strip(" \t\r\n"), "");
}

TEST(Text, py_capitalize_lowers_the_rest) {
    EXPECT_EQ(py_capitalize("instead OF Doing"), "Instead of doing");
    EXPECT_EQ(py_capitalize("he"), "He");
    EXPECT_EQ(py_capitalize(""), "");
}

TEST(Text, hellaswag_preprocess_matches_lm_eval) {
    EXPECT_EQ(hellaswag_preprocess("Family Life: [header] How to entertain a toddler [title] Ask the toddler what he "
                                   "or she would like to do. Instead of doing"),
              "Family Life: How to entertain a toddler. Ask the toddler what he or she would like to do. Instead of "
              "doing");
    EXPECT_EQ(hellaswag_preprocess(" [step] Visit a site like [www.kiddio.org] to find activities.  Choose games. "),
              " Visit a site like to find activities. Choose games.");
    // '.' does not cross a newline, so this '[' has no partner.
    EXPECT_EQ(hellaswag_preprocess("Tap the \" [\" button\nthen ] ok"), "Tap the \" [\" button\nthen ] ok");
    // One pass of "  " -> " ", as str.replace does.
    EXPECT_EQ(hellaswag_preprocess("a   b [x] [y]"), "a  b ");
}

struct Gsm8kCase {
    const char * response;
    const char * strict;
    const char * flexible;
    const char * strict_norm;
    const char * flexible_norm;
};

TEST(Gsm8k, extraction_and_normalisation_on_tricky_strings) {
    const Gsm8kCase cases[] = {
        {"The answer is #### 1,234", "1,234", "1,234", "1234", "1234"},
        {"#### -5", "-5", "-5", "-5", "-5"},
        {"#### $5", "[invalid]", "$5", "[invalid]", "5"},
        {"So she makes $18.", "[invalid]", "$18.", "[invalid]", "18"},
        {"It costs 3.50 dollars", "[invalid]", "3.50", "[invalid]", "3.50"},
        {"no numbers here", "[invalid]", "[invalid]", "[invalid]", "[invalid]"},
        {"5 apples and 12 pears", "[invalid]", "12", "[invalid]", "12"},
        {"The total is 1,000,000.", "[invalid]", "1,000,000.", "[invalid]", "1000000"},
        {"-3 degrees", "[invalid]", "-3", "[invalid]", "-3"},
        {"answer: -.5", "[invalid]", "-.5", "[invalid]", "-.5"},
        {"#### 42 and then #### 43", "42", "43", "42", "43"},
        {"1. First step 2. second", "[invalid]", "2.", "[invalid]", "2"},
        {"#### -", "[invalid]", "[invalid]", "[invalid]", "[invalid]"},
        {"##### 7", "7", "7", "7", "7"},
        {"Total: 5.\n", "[invalid]", "5.", "[invalid]", "5"},
    };
    for (const auto & c : cases) {
        SCOPED_TRACE(c.response);
        const std::string strict = gsm8k_extract_strict(c.response);
        const std::string flexible = gsm8k_extract_flexible(c.response);
        EXPECT_EQ(strict, c.strict);
        EXPECT_EQ(flexible, c.flexible);
        EXPECT_EQ(gsm8k_normalize(strict), c.strict_norm);
        EXPECT_EQ(gsm8k_normalize(flexible), c.flexible_norm);
    }
}

TEST(Gsm8k, reference_answer_normalises_to_the_number) {
    EXPECT_EQ(gsm8k_normalize("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = "
                              "$<<9*2=18>>18 every day at the farmer\xe2\x80\x99s market.\n#### 18"),
              "18");
    EXPECT_EQ(gsm8k_normalize("so #### 1,000 then #### 2,500"), "2500");  // greedy: up to the last "#### "
    EXPECT_EQ(gsm8k_normalize("Total: 5.\n"), "total: 5\n");              // '$' also matches before a final \n
}

TEST(Fnv1a, length_prefix_separates_pieces) {
    Fnv1a a, b;
    a.add("ab");
    a.add("c");
    b.add("a");
    b.add("bc");
    EXPECT_NE(a.hex(), b.hex());
    EXPECT_EQ(a.hex().size(), 16u);
}
