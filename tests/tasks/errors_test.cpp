// Bad input gets one clear error naming file, line and field.

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include "tasks/task.hpp"
#include "joulebench/error.hpp"

using namespace jb::tasks;
using jb::test::TempDir;

namespace {

// Task options that read the data from `dir`.
TaskOptions opts(const TempDir & dir) {
    TaskOptions o;
    o.data_dir = dir.path().string();
    return o;
}

// The message of the jb::InputError that make_task throws ("" if it throws nothing).
std::string input_error(const std::string & task, const TaskOptions & o) {
    try {
        make_task(task, o);
    } catch (const jb::InputError & e) {
        return e.what();
    }
    return "";
}

std::string usage_error(const std::string & task, const TaskOptions & o) {
    try {
        make_task(task, o);
    } catch (const jb::UsageError & e) {
        return e.what();
    }
    return "";
}

const char * kArcLine =
    R"({"id":"q1","question":{"stem":"Why?","choices":[{"text":"a","label":"A"},{"text":"b","label":"B"}]},"answerKey":"B"})";

}  // namespace

TEST(Errors, bad_json_line_names_file_and_line) {
    TempDir d;
    const std::string f = d.write("arc/ARC-Easy/ARC-Easy-Test.jsonl", std::string(kArcLine) + "\n{not json\n");
    const std::string msg = input_error("arc_easy", opts(d));
    EXPECT_EQ(msg.rfind(f + ":2: invalid JSON: ", 0), 0u) << msg;
}

TEST(Errors, missing_field_names_file_line_and_field) {
    TempDir d;
    const std::string f = d.write(
        "arc/ARC-Easy/ARC-Easy-Test.jsonl",
        std::string(kArcLine) + "\n" +
            R"({"id":"q2","question":{"stem":"Why?","choices":[{"text":"a","label":"A"}, {"label":"B"}]},"answerKey":"B"})" +
            "\n");
    EXPECT_EQ(input_error("arc_easy", opts(d)), f + ":2: field 'question.choices[1].text': missing");
}

TEST(Errors, answer_key_not_among_labels) {
    TempDir d;
    const std::string f = d.write(
        "arc/ARC-Easy/ARC-Easy-Test.jsonl",
        R"({"id":"q1","question":{"stem":"Why?","choices":[{"text":"a","label":"A"},{"text":"b","label":"B"}]},"answerKey":"E"})"
        "\n");
    EXPECT_EQ(input_error("arc_easy", opts(d)), f + ":1: field 'answerKey': 'E' is not one of the choice labels A, B");
}

TEST(Errors, wrong_type_is_named) {
    TempDir d;
    const std::string f = d.write("gsm8k/test.jsonl", R"({"question": "q", "answer": 42})"
                                                      "\n");
    EXPECT_EQ(input_error("gsm8k",
                          [&] {
                              TaskOptions o = opts(d);
                              o.shots = 0;
                              return o;
                          }()),
              f + ":1: field 'answer': expected a string, found a number");
}

TEST(Errors, csv_column_count_names_the_record_line) {
    TempDir d;
    // Record 2 spans lines 2-3 (a quoted newline); record 3, on line 4, has 5 columns.
    const std::string f = d.write("mmlu/test/anatomy_test.csv", "q,a,b,c,d,A\n\"two\nlines\",a,b,c,d,B\nq,a,b,c,D\n");
    TaskOptions o = opts(d);
    o.shots = 0;
    EXPECT_EQ(input_error("mmlu", o),
              f + ":4: field 'columns': expected 6 columns (question, A, B, C, D, answer), found 5");
}

TEST(Errors, csv_bad_answer_letter) {
    TempDir d;
    const std::string f = d.write("mmlu/test/anatomy_test.csv", "q,a,b,c,d,E\n");
    TaskOptions o = opts(d);
    o.shots = 0;
    EXPECT_EQ(input_error("mmlu", o), f + ":1: field 'answer': expected one of A, B, C, D in column 6, found 'E'");
}

TEST(Errors, mmlu_missing_dev_file_for_few_shot) {
    TempDir d;
    d.write("mmlu/test/anatomy_test.csv", "q,a,b,c,d,A\n");
    const std::string msg = input_error("mmlu", opts(d));
    EXPECT_NE(msg.find("mmlu/dev/anatomy_dev.csv: missing: MMLU few-shot examples come from the dev split"),
              std::string::npos)
        << msg;
}

TEST(Errors, missing_data_dir_says_where_data_is_expected) {
    TaskOptions o;
    o.data_dir = "/nonexistent/jb-data";
    const std::string msg = input_error("gsm8k", o);
    EXPECT_EQ(msg.rfind("--data-dir /nonexistent/jb-data: no gsm8k/test.jsonl found; small samples are in " +
                            std::string(JB_SOURCE_DIR) + "/data/samples; ",
                        0),
              0u)
        << msg;
    EXPECT_NE(input_error("mmlu", o).find("no mmlu/test/*_test.csv found"), std::string::npos);
    EXPECT_NE(input_error("hellaswag", o).find("hellaswag_val_full.txt"), std::string::npos);
    EXPECT_NE(input_error("arc_challenge", o).find("arc/ARC-Challenge/ARC-Challenge-Test.jsonl"), std::string::npos);
    EXPECT_NE(input_error("truthfulqa", o).find("truthfulqa/mc_task.json"), std::string::npos);
}

// The hint names the full data sets only where they are: a folder that does not exist is never
// suggested (a clone in /tmp has no /tmp/shared/datasets).
TEST(Errors, missing_data_hint_names_only_folders_that_exist) {
    TaskOptions o;
    o.data_dir = "/nonexistent/jb-data";
    TempDir full;
    ::setenv("JOULEBENCH_DATA_DIR", full.path().c_str(), 1);
    const std::string with_env = input_error("gsm8k", o);
    EXPECT_NE(with_env.find("; the full data sets are in " + full.path().string() + " (see docs/tasks.md"),
              std::string::npos)
        << with_env;
    ::setenv("JOULEBENCH_DATA_DIR", "/nonexistent/full-sets", 1);
    const std::string missing_env = input_error("gsm8k", o);
    EXPECT_EQ(missing_env.find("/nonexistent/full-sets"), std::string::npos) << missing_env;
    ::unsetenv("JOULEBENCH_DATA_DIR");
    const std::string none = input_error("gsm8k", o);
    const std::filesystem::path beside =
        (std::filesystem::path(JB_SOURCE_DIR) / ".." / "shared" / "datasets").lexically_normal();
    if (std::filesystem::is_directory(beside)) {
        EXPECT_NE(none.find("the full data sets are in " + beside.string()), std::string::npos) << none;
    } else {
        EXPECT_NE(none.find("docs/tasks.md says where to get the full data sets"), std::string::npos) << none;
        EXPECT_EQ(none.find("shared/datasets"), std::string::npos) << none;
    }
}

TEST(Errors, truthfulqa_element_errors_name_its_line) {
    TempDir d;
    const std::string f = d.write("truthfulqa/mc_task.json",
                                  "[\n"
                                  "  {\n"
                                  "    \"question\": \"Q1?\",\n"
                                  "    \"mc1_targets\": {\"yes\": 1, \"no\": 0},\n"
                                  "    \"mc2_targets\": {\"yes\": 1, \"no\": 0}\n"
                                  "  },\n"
                                  "  {\n"
                                  "    \"question\": \"Q2?\",\n"
                                  "    \"mc1_targets\": {\"yes\": 1, \"no\": 0}\n"
                                  "  }\n"
                                  "]\n");
    EXPECT_EQ(input_error("truthfulqa", opts(d)), f + ":7: field '[1].mc2_targets': missing");
}

TEST(Errors, truthfulqa_mc1_first_answer_must_be_true) {
    TempDir d;
    const std::string f =
        d.write("truthfulqa/mc_task.json",
                R"([{"question": "Q?", "mc1_targets": {"no": 0, "yes": 1}, "mc2_targets": {"yes": 1, "no": 0}}])");
    EXPECT_NE(input_error("truthfulqa_mc1", opts(d)).find(f + ":1: field '[0].mc1_targets': the first answer"),
              std::string::npos);
}

TEST(Errors, json_syntax_error_names_the_line) {
    TempDir d;
    const std::string f = d.write("truthfulqa/mc_task.json", "[\n  {\"question\": \"Q?\",\n  oops\n]\n");
    const std::string msg = input_error("truthfulqa", opts(d));
    EXPECT_EQ(msg.rfind(f + ":3: invalid JSON: ", 0), 0u) << msg;
}

TEST(Errors, hellaswag_text_format_label_and_line_count) {
    TempDir d;
    const std::string f = d.write("hellaswag/hellaswag_val_full.txt", "ctx\n7\ne0\ne1\ne2\ne3\n");
    EXPECT_EQ(input_error("hellaswag", opts(d)),
              f + ":2: field 'label': expected the gold ending's index 0-3 on line 2 of the task, found '7'");
    d.write("hellaswag/hellaswag_val_full.txt", "ctx\n1\ne0\ne1\ne2\n");
    EXPECT_NE(input_error("hellaswag", opts(d)).find("not a multiple of 6"), std::string::npos);
}

TEST(Errors, custom_task_errors) {
    TempDir d;
    const std::string f = d.write("c.jsonl", R"({"question": "q", "choices": ["a", "b"], "answer": 2})"
                                             "\n");
    EXPECT_EQ(input_error("custom:" + f, TaskOptions{}),
              f + ":1: field 'answer': index 2 is outside the 2 choices (0-based)");
    const std::string g = d.write("g.jsonl", R"({"question": "q", "choices": ["a", "b"], "answer": 0})"
                                             "\n"
                                             R"({"prompt": "p", "answer": "a"})"
                                             "\n");
    EXPECT_NE(input_error("custom:" + g, TaskOptions{}).find(g + ":2: field 'choices': missing; the first record"),
              std::string::npos);
    EXPECT_NE(input_error("custom:" + (d.path() / "nope.jsonl").string(), TaskOptions{}).find("not found"),
              std::string::npos);
}

TEST(Errors, unknown_task_lists_valid_names) {
    const std::string msg = usage_error("mmlu_pro", TaskOptions{});
    EXPECT_NE(msg.find("unknown task 'mmlu_pro'"), std::string::npos);
    for (const auto & n : builtin_task_names()) EXPECT_NE(msg.find(n), std::string::npos) << n;
    EXPECT_NE(msg.find("custom:<path.jsonl>"), std::string::npos);
}

TEST(Errors, impossible_shots_are_usage_errors) {
    TaskOptions o;
    o.data_dir = std::string(JB_SOURCE_DIR) + "/data/samples";
    o.shots = 3;
    EXPECT_NE(usage_error("truthfulqa", o).find("has no few-shot split"), std::string::npos);
    o.shots = 6;
    EXPECT_NE(usage_error("mmlu", o).find("has only 5 examples"), std::string::npos);
    o.shots = 11;
    EXPECT_NE(usage_error("gsm8k", o).find("has only 10 examples"), std::string::npos);
    o.shots = -1;
    o.limit = 0;
    EXPECT_NE(usage_error("arc_easy", o).find("--limit 0"), std::string::npos);
}
