#include "util/error.hpp"

#include <gtest/gtest.h>

TEST(InputError, names_file_line_and_field) {
    jb::InputError e("data/arc.jsonl", 12, "answerKey", "missing");
    EXPECT_STREQ(e.what(), "data/arc.jsonl:12: field 'answerKey': missing");
}

TEST(InputError, file_only_message) {
    jb::InputError e("model.gguf", "not a GGUF file");
    EXPECT_STREQ(e.what(), "model.gguf: not a GGUF file");
}
