#include "serve/requests.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "support/temp_dir.hpp"
#include "joulebench/error.hpp"

using namespace jb::serve;

namespace {

// Words with their leading spaces as pieces; the server adds one BOS token.
class WordTokenizer : public Tokenizer {
public:
    std::vector<std::string> pieces(const std::string & text) override {
        std::vector<std::string> out;
        std::string cur;
        for (char c : text) {
            if (c == ' ' && !cur.empty() && cur.back() != ' ') {
                out.push_back(cur);
                cur.clear();
            }
            cur += c;
        }
        if (!cur.empty()) out.push_back(cur);
        return out;
    }
    int count(const std::string & text) override {
        ++counts;
        return 1 + static_cast<int>(pieces(text).size());
    }
    int counts = 0;
};

std::string corpus() {
    std::string s;
    for (int i = 0; i < 500; ++i) s += " w" + std::to_string(i);
    return s;
}

}  // namespace

TEST(LengthDist, parses_fixed_uniform_and_normal_and_refuses_the_rest) {
    EXPECT_EQ(parse_length_dist("256", "--input-len").kind, LengthDist::Kind::fixed);
    EXPECT_EQ(parse_length_dist("256", "--input-len").value, 256);
    LengthDist u = parse_length_dist("uniform:128-512", "--input-len");
    EXPECT_EQ(u.kind, LengthDist::Kind::uniform);
    EXPECT_EQ(u.min, 128);
    EXPECT_EQ(u.max, 512);
    LengthDist n = parse_length_dist("normal:256,64", "--output-len");
    EXPECT_EQ(n.kind, LengthDist::Kind::normal);
    EXPECT_EQ(n.min, 1);
    EXPECT_EQ(n.max, 512);
    EXPECT_EQ(parse_length_dist("normal:256,64,200-300", "x").min, 200);
    EXPECT_EQ(parse_length_dist(n.str(), "x").str(), n.str());
    for (const char * bad : {"0", "-3", "abc", "uniform:5", "uniform:9-3", "normal:10", "lognormal:1,2", ""}) {
        try {
            parse_length_dist(bad, "--input-len");
            ADD_FAILURE() << bad << " was accepted";
        } catch (const jb::UsageError & e) {
            EXPECT_NE(std::string(e.what()).find("--input-len"), std::string::npos) << e.what();
        }
    }
}

TEST(LengthDist, samples_stay_in_range) {
    Rng rng(5);
    LengthDist u = parse_length_dist("uniform:10-20", "x");
    LengthDist n = parse_length_dist("normal:100,50,60-140", "x");
    std::set<int> seen;
    for (int i = 0; i < 2000; ++i) {
        int a = u.sample(rng);
        int b = n.sample(rng);
        ASSERT_GE(a, 10);
        ASSERT_LE(a, 20);
        ASSERT_GE(b, 60);
        ASSERT_LE(b, 140);
        seen.insert(a);
    }
    EXPECT_EQ(seen.size(), 11u);  // every value of 10..20 drawn
}

TEST(Synthetic, prompts_have_the_wanted_token_count_and_distinct_starts) {
    WordTokenizer tok;
    SyntheticSpec spec;
    spec.input_tokens = parse_length_dist("uniform:20-40", "x");
    spec.output_tokens = LengthDist::fixed_at(16);
    spec.n_requests = 50;
    spec.seed = 9;
    spec.corpus_text = corpus();
    std::vector<RequestShape> shapes = synthetic_requests(spec, tok);
    ASSERT_EQ(shapes.size(), 50u);
    std::set<std::string> firsts;
    for (const auto & s : shapes) {
        EXPECT_EQ(s.max_tokens, 16);
        EXPECT_GE(s.expected_prompt_tokens, 20);
        EXPECT_LE(s.expected_prompt_tokens, 40);
        EXPECT_EQ(tok.count(s.prompt), s.expected_prompt_tokens);  // what the server will count, BOS included
        firsts.insert(tok.pieces(s.prompt).front());
    }
    EXPECT_GT(firsts.size(), 40u);  // seeded random starts: (almost) no two prompts share a first word

    WordTokenizer tok2;
    std::vector<RequestShape> again = synthetic_requests(spec, tok2);
    for (size_t i = 0; i < shapes.size(); ++i) EXPECT_EQ(again[i].prompt, shapes[i].prompt);
    spec.seed = 10;
    EXPECT_NE(synthetic_requests(spec, tok2)[0].prompt, shapes[0].prompt);
}

TEST(Synthetic, wraps_around_a_short_corpus_and_refuses_an_empty_one) {
    WordTokenizer tok;
    SyntheticSpec spec;
    spec.input_tokens = LengthDist::fixed_at(1001);  // longer than the corpus (500 words): used as a ring
    spec.n_requests = 2;
    spec.corpus_text = corpus();
    auto shapes = synthetic_requests(spec, tok);
    EXPECT_EQ(shapes[0].expected_prompt_tokens, 1001);
    spec.corpus_text = "";
    EXPECT_THROW(synthetic_requests(spec, tok), jb::InputError);
}

TEST(Jsonl, reads_prompts_and_names_file_line_and_field_of_a_bad_one) {
    jb::test::TempDir dir;
    const std::string path = dir.file("prompts.jsonl");
    {
        std::ofstream out(path);
        out << "{\"prompt\": \"Hello\", \"max_tokens\": 5}\n\n{\"prompt\": \"World\"}\n";
    }
    auto shapes = jsonl_requests(path, 32);
    ASSERT_EQ(shapes.size(), 2u);
    EXPECT_EQ(shapes[0].prompt, "Hello");
    EXPECT_EQ(shapes[0].max_tokens, 5);
    EXPECT_EQ(shapes[1].max_tokens, 32);

    auto expect_error = [&](const std::string & text, const std::string & want) {
        {
            std::ofstream out(path);
            out << text;
        }
        try {
            jsonl_requests(path, 32);
            ADD_FAILURE() << "accepted: " << text;
        } catch (const jb::InputError & e) {
            EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
        }
    };
    expect_error("{\"prompt\": \"ok\"}\n{\"max_tokens\": 3}\n", path + ":2: field 'prompt': missing");
    expect_error("{\"prompt\": \"ok\", \"max_tokens\": 0}\n", path + ":1: field 'max_tokens'");
    expect_error("{\"prompt\": \"ok\"}\n{not json\n", path + ":2");
    expect_error("[1, 2]\n", path + ":1");
    expect_error("\n\n", "no requests");
}

TEST(TaskPrompts, the_shipped_mixes_are_short_medium_and_long) {
    const std::string data = std::string(JB_SOURCE_DIR) + "/data/samples";
    std::vector<double> mean_chars;
    for (const auto & name : task_prompt_preset_names()) {
        TaskPromptSpec spec = task_prompt_preset(name, data, 64);
        auto shapes = task_requests(spec);
        ASSERT_FALSE(shapes.empty()) << name;
        double sum = 0;
        for (const auto & s : shapes) {
            EXPECT_EQ(s.max_tokens, 64);
            sum += static_cast<double>(s.prompt.size());
        }
        mean_chars.push_back(sum / static_cast<double>(shapes.size()));
    }
    EXPECT_LT(mean_chars[0], mean_chars[1]) << "short < medium";
    EXPECT_LT(mean_chars[1], mean_chars[2]) << "medium < long";
    EXPECT_THROW(task_prompt_preset("huge", data, 64), jb::UsageError);
}
