// Scoring and aggregation, end to end through Task::run with a scripted model.

#include <gtest/gtest.h>

#include <cmath>

#include "fake_lm.hpp"
#include "support/temp_dir.hpp"
#include "tasks/sampling.hpp"
#include "tasks/task.hpp"
#include "tasks/task_base.hpp"
#include "joulebench/error.hpp"

using namespace jb::tasks;
using jb::tasks::test::FakeLm;
using jb::test::TempDir;

namespace {

const std::string kSamples = std::string(JB_SOURCE_DIR) + "/data/samples";

TaskOptions samples_opts() {
    TaskOptions o;
    o.data_dir = kSamples;
    return o;
}

const Metric * find_metric(const TaskResult & r, const std::string & name, const std::string & group = "") {
    for (const auto & m : r.metrics) {
        if (m.name == name && m.group == group) return &m;
    }
    return nullptr;
}

double score_of(const ItemResult & it, const std::string & name) {
    for (const auto & [n, v] : it.scores) {
        if (n == name) return v;
    }
    return std::nan("");
}

jb::LoglikResult ll(double logprob, int n_tokens = 1) {
    jb::LoglikResult r;
    r.logprob = logprob;
    r.n_tokens = n_tokens;
    return r;
}

// A result with per-token detail, as the engine reports it.
jb::LoglikResult ll_tokens(std::vector<int32_t> tokens, std::vector<float> logprobs) {
    jb::LoglikResult r;
    r.tokens = std::move(tokens);
    r.token_logprobs = std::move(logprobs);
    r.n_tokens = static_cast<int>(r.tokens.size());
    for (const float lp : r.token_logprobs) r.logprob += lp;
    return r;
}

}  // namespace

TEST(Scoring, acc_norm_divides_by_characters_of_the_choice_without_the_space) {
    McDoc d;
    d.choices = {"ab", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};  // 2 chars; 6 chars in 12 bytes
    d.gold = 1;
    // raw: -2 > -4.5 picks 0; per char: -2/2 = -1 < -4.5/6 = -0.75 picks 1; per token: -2/1 > -4.5/2 picks 0.
    const ItemResult r = score_mc(d, {ll(-2.0, 1), ll(-4.5, 2)}, true, "acc_norm");
    EXPECT_EQ(r.predicted, 0);
    EXPECT_EQ(r.predicted_norm, 1);
    EXPECT_EQ(r.n_chars, (std::vector<int>{2, 6}));
    EXPECT_EQ(score_of(r, "acc"), 0.0);
    EXPECT_EQ(score_of(r, "acc_norm"), 1.0);
    EXPECT_EQ(score_of(r, "acc_norm_tokens"), 0.0);
    EXPECT_TRUE(r.correct);  // primary metric acc_norm
}

TEST(Scoring, token_norm_drops_tokens_all_choices_share_like_llama_perplexity) {
    McDoc d;
    d.choices = {"x", "y"};
    d.gold = 1;
    // Both continuations start with token 7. Means over whole continuations: -10/2 = -5 vs
    // -12/3 = -4, choice 1; after dropping the shared token: -1 vs -1.5, choice 0.
    // llama-perplexity scores the latter.
    const ItemResult r =
        score_mc(d, {ll_tokens({7, 1}, {-9.0f, -1.0f}), ll_tokens({7, 2, 3}, {-9.0f, -1.5f, -1.5f})}, true, "acc");
    EXPECT_EQ(score_of(r, "acc_norm_tokens"), 0.0);
    // Without per-token detail the whole continuation is averaged.
    const ItemResult plain = score_mc(d, {ll(-10.0, 2), ll(-12.0, 3)}, true, "acc");
    EXPECT_EQ(score_of(plain, "acc_norm_tokens"), 1.0);
}

TEST(Scoring, ties_go_to_the_first_choice_like_numpy_argmax) {
    McDoc d;
    d.choices = {"x", "y"};
    d.gold = 1;
    const ItemResult r = score_mc(d, {ll(-1.0), ll(-1.0)}, false, "acc");
    EXPECT_EQ(r.predicted, 0);
    EXPECT_EQ(r.predicted_norm, 0);
    EXPECT_TRUE(std::isnan(score_of(r, "acc_norm_tokens")));  // only with token_norm
}

TEST(Scoring, mc2_is_probability_mass_on_true_answers) {
    McDoc d;
    d.scoring = McScoring::mc2;
    d.choices = {"t1", "t2", "f1", "f2"};
    d.labels = {1, 1, 0, 0};
    const ItemResult r =
        score_mc(d, {ll(std::log(0.4)), ll(std::log(0.1)), ll(std::log(0.3)), ll(std::log(0.2))}, false, "mc2");
    EXPECT_NEAR(score_of(r, "mc2"), 0.5, 1e-12);
    EXPECT_TRUE(r.correct);  // the most likely answer (0.4) is a true one

    d.choices = {"t", "f1", "f2"};
    d.labels = {1, 0, 0};
    const ItemResult r2 = score_mc(d, {ll(-1), ll(-2), ll(-3)}, false, "mc2");
    const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), e3 = std::exp(-3.0);
    EXPECT_NEAR(score_of(r2, "mc2"), e1 / (e1 + e2 + e3), 1e-12);  // 0.665241
}

TEST(Scoring, mc2_treats_everything_after_the_first_false_label_as_false) {
    // lm-eval splits at labels.index(0); TruthfulQA has two questions with a true answer after a false one.
    McDoc d;
    d.scoring = McScoring::mc2;
    d.choices = {"t", "f", "t-late"};
    d.labels = {1, 0, 1};
    const ItemResult r = score_mc(d, {ll(std::log(0.2)), ll(std::log(0.3)), ll(std::log(0.5))}, false, "mc2");
    EXPECT_NEAR(score_of(r, "mc2"), 0.2, 1e-12);
}

TEST(Scoring, mc2_does_not_underflow_for_tiny_probabilities) {
    McDoc d;
    d.scoring = McScoring::mc2;
    d.choices = {"t", "f"};
    d.labels = {1, 0};
    const ItemResult r = score_mc(d, {ll(-1000.0), ll(-1001.0)}, false, "mc2");
    EXPECT_NEAR(score_of(r, "mc2"), 1.0 / (1.0 + std::exp(-1.0)), 1e-12);
}

TEST(Scoring, mmlu_samples_subjects_categories_and_one_call) {
    // The model always answers B. Golds in data/samples: abstract_algebra BCDBBAAD (3 B),
    // college_mathematics BDDACDCC (1), clinical_knowledge ADABBDBA (3), formal_logic DACABDDB (2),
    // high_school_geography BDCADDDC (1), world_religions DBDADAAA (1).
    FakeLm lm;
    lm.on_loglik = [](const jb::LoglikRequest & r) { return ll(r.continuation == " B" ? -0.5 : -3.0); };
    const auto task = make_task("mmlu", samples_opts());
    const TaskResult res = task->run(lm);
    EXPECT_EQ(lm.loglik_calls, 1);
    EXPECT_EQ(res.n_requests, 48 * 4);
    EXPECT_EQ(res.items.size(), 48u);
    EXPECT_EQ(res.primary_metric, "acc");

    EXPECT_NEAR(find_metric(res, "acc")->value, 11.0 / 48.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc_macro")->value, (3 + 1 + 3 + 2 + 1 + 1) / 8.0 / 6.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "stem")->value, 4.0 / 16.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "humanities")->value, 3.0 / 16.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "social_sciences")->value, 1.0 / 8.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "other")->value, 3.0 / 8.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "abstract_algebra")->value, 3.0 / 8.0, 1e-12);
    EXPECT_EQ(find_metric(res, "acc", "stem")->n, 16);

    // Per-item results are kept whole.
    const ItemResult & first = res.items[0];
    EXPECT_EQ(first.id, "abstract_algebra/0");
    EXPECT_EQ(first.predicted, 1);
    EXPECT_EQ(first.gold, 1);
    EXPECT_TRUE(first.correct);
    EXPECT_EQ(first.logprobs, (std::vector<double>{-3.0, -0.5, -3.0, -3.0}));
}

TEST(Scoring, mmlu_macro_differs_from_micro_on_unequal_subjects) {
    TempDir dir;
    dir.write("mmlu/test/abstract_algebra_test.csv", "q1,a,b,c,d,B\nq2,a,b,c,d,B\nq3,a,b,c,d,B\nq4,a,b,c,d,A\n");
    dir.write("mmlu/test/formal_logic_test.csv", "q1,a,b,c,d,A\nq2,a,b,c,d,C\n");
    TaskOptions o;
    o.data_dir = dir.path().string();
    o.shots = 0;
    FakeLm lm;
    lm.on_loglik = [](const jb::LoglikRequest & r) { return ll(r.continuation == " B" ? -0.5 : -3.0); };
    const TaskResult res = make_task("mmlu", o)->run(lm);
    // stem {1,1,1,0}: .75 ± .25; humanities {0,0}: 0 ± 0.
    EXPECT_NEAR(find_metric(res, "acc")->value, 0.5, 1e-12);                            // lm-eval: weighted by size
    EXPECT_NEAR(find_metric(res, "acc")->stderr_, std::sqrt(0.75 / 4.0 / 6.0), 1e-12);  // pooled
    EXPECT_NEAR(find_metric(res, "acc_macro")->value, 0.375, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc_macro")->stderr_, 0.125, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "stem")->value, 0.75, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "stem")->stderr_, 0.25, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "humanities")->value, 0.0, 1e-12);
    EXPECT_EQ(find_metric(res, "acc", "other"), nullptr);  // no subject of that category present
}

TEST(Scoring, arc_digit_answer_keys_map_to_the_choice_index) {
    // NYSEDREGENTS_2008_8_34 has labels 1-4 and answerKey "2"; TIMSS_1995_8_J7 has five choices.
    FakeLm lm;
    const auto task = make_task("arc_challenge", samples_opts());
    const TaskResult res = task->run(lm);
    bool seen_digit = false, seen_five = false;
    for (const auto & it : res.items) {
        if (it.id == "NYSEDREGENTS_2008_8_34") {
            seen_digit = true;
            EXPECT_EQ(it.gold, 1);
        }
        if (it.id == "TIMSS_1995_8_J7") {
            seen_five = true;
            EXPECT_EQ(it.logprobs.size(), 5u);
        }
    }
    EXPECT_TRUE(seen_digit);
    EXPECT_TRUE(seen_five);
    EXPECT_EQ(res.items.size(), 40u);
    ASSERT_NE(find_metric(res, "acc_norm"), nullptr);
    EXPECT_EQ(res.primary_metric, "acc_norm");
}

TEST(Scoring, truthfulqa_runs_mc1_and_mc2_in_one_call_sharing_identical_requests) {
    FakeLm lm;
    // The first answer (always true in MC1 and MC2 here) is the most likely.
    lm.on_loglik = [](const jb::LoglikRequest & r) {
        return ll(r.continuation.find("Nauru") != std::string::npos ? -1.0 : -2.0);
    };
    TaskOptions o = samples_opts();
    const auto task = make_task("truthfulqa", o);
    size_t total_choices = 0;
    for (const auto & p : task->prompts()) total_choices += p.continuations.size();
    const TaskResult res = task->run(lm);
    EXPECT_EQ(lm.loglik_calls, 1);
    EXPECT_EQ(res.items.size(), 80u);                                // 40 questions x (MC1, MC2)
    EXPECT_LT(res.n_requests, static_cast<int64_t>(total_choices));  // MC1 answers reappear in MC2
    EXPECT_EQ(static_cast<size_t>(res.n_requests), lm.loglik_seen.size());
    ASSERT_NE(find_metric(res, "mc1"), nullptr);
    ASSERT_NE(find_metric(res, "mc2"), nullptr);
    EXPECT_EQ(find_metric(res, "mc1")->n, 40);
    EXPECT_EQ(res.items[0].id, "truthfulqa/0/mc1");
    EXPECT_EQ(res.items[1].id, "truthfulqa/0/mc2");
    EXPECT_EQ(score_of(res.items[0], "mc1"), 1.0);
    EXPECT_EQ(res.primary_metric, "mc2");
}

TEST(Scoring, gsm8k_strict_and_flexible_exact_match) {
    // Sample golds: item 0 is 18 (Janet's ducks), item 18 is 7. The model answers "#### 18" to
    // Janet's question and "I think it is 7." to every other one.
    FakeLm lm;
    lm.on_generate = [](const jb::GenRequest & r) {
        const std::string last = r.context.substr(r.context.rfind("Question: "));
        return jb::GenResult{last.find("Janet") != std::string::npos ? " 16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\n#### 18"
                                                                     : " I think it is 7.",
                             12};
    };
    const auto task = make_task("gsm8k", samples_opts());
    const TaskResult res = task->run(lm);
    EXPECT_EQ(lm.generate_calls, 1);
    EXPECT_EQ(res.n_requests, 20);
    EXPECT_NEAR(find_metric(res, "exact_match_strict")->value, 1.0 / 20.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "exact_match_flexible")->value, 2.0 / 20.0, 1e-12);
    EXPECT_EQ(res.items[0].target, "18");
    EXPECT_EQ(res.items[0].extracted[0].second, "18");
    EXPECT_TRUE(res.items[0].correct);
    EXPECT_EQ(res.items[1].extracted[0].second, "[invalid]");
    EXPECT_EQ(res.items[1].extracted[1].second, "7.");
    EXPECT_EQ(res.items[1].generated, " I think it is 7.");
    EXPECT_EQ(lm.gen_seen[0].stop, (std::vector<std::string>{"Question:", "</s>", "<|im_end|>"}));
}

TEST(Scoring, a_model_that_answers_too_few_requests_is_an_error) {
    FakeLm lm;
    lm.drop_last = true;
    TaskOptions o = samples_opts();
    EXPECT_THROW(make_task("arc_easy", o)->run(lm), jb::RuntimeFailure);
    EXPECT_THROW(make_task("gsm8k", o)->run(lm), jb::RuntimeFailure);
}

TEST(Scoring, hellaswag_jsonl_is_preprocessed_like_lm_eval) {
    TempDir dir;
    dir.write(
        "hellaswag/hellaswag_val.jsonl",
        R"({"ind": 4, "activity_label": "Family Life", "ctx_a": "[header] How to entertain a toddler [title] Ask the toddler what he or she would like to do.", "ctx_b": "instead OF Doing", "endings": [" [step] Visit a site like [www.kiddio.org] to find activities.  Choose games. ", "b", "c", "d"], "label": "2", "split": "val"})"
        "\n");
    TaskOptions o;
    o.data_dir = dir.path().string();
    const auto task = make_task("hellaswag", o);
    const auto p = task->prompts().at(0);
    EXPECT_EQ(p.id, "hellaswag/4");
    EXPECT_EQ(p.context,
              "Family Life: How to entertain a toddler. Ask the toddler what he or she would like to do. Instead of "
              "doing");
    EXPECT_EQ(p.continuations[0], "  Visit a site like to find activities. Choose games.");
    FakeLm lm;
    lm.on_loglik = [](const jb::LoglikRequest & r) { return ll(r.continuation == " c" ? -0.01 : -5.0); };
    const TaskResult res = task->run(lm);
    EXPECT_EQ(res.items[0].gold, 2);
    EXPECT_TRUE(res.items[0].correct);
}

TEST(Scoring, token_norm_adds_a_metric_and_selects_llama_perplexity_tasks) {
    TaskOptions o = samples_opts();
    o.token_norm = true;
    o.limit = 10;
    const auto task = make_task("hellaswag", o);
    const auto expected = llama_hellaswag_selection(40, 10);
    const auto prompts = task->prompts();
    ASSERT_EQ(prompts.size(), 10u);
    for (size_t i = 0; i < 10; ++i) EXPECT_EQ(prompts[i].id, "hellaswag/" + std::to_string(expected[i]));
    FakeLm lm;
    const TaskResult res = task->run(lm);
    EXPECT_NE(find_metric(res, "acc_norm_tokens"), nullptr);
    EXPECT_NE(find_metric(res, "acc_norm"), nullptr);
}

TEST(Scoring, custom_multiple_choice_example_file) {
    const auto task = make_task("custom:" + kSamples + "/custom_example.jsonl", TaskOptions{});
    EXPECT_EQ(task->name(), "custom:custom_example");
    const auto prompts = task->prompts();
    ASSERT_EQ(prompts.size(), 6u);
    EXPECT_EQ(prompts[0].context, "Question: How many joules are in one watt-hour?\nAnswer:");
    EXPECT_EQ(prompts[0].continuations[2], " 3600");
    EXPECT_EQ(prompts[4].context, "Decoding one token at a time is usually limited by");
    // Log-likelihood -(bytes of the continuation): acc picks the shortest choice, acc_norm
    // (divided by the characters without the space) the longest. Only units-2 ("watt") is right.
    FakeLm lm;
    lm.on_loglik = [](const jb::LoglikRequest & r) { return ll(-static_cast<double>(r.continuation.size())); };
    const TaskResult res = task->run(lm);
    EXPECT_NEAR(find_metric(res, "acc")->value, 1.0 / 6.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc_norm")->value, 0.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "units")->value, 1.0 / 3.0, 1e-12);
    EXPECT_NEAR(find_metric(res, "acc", "hardware")->value, 0.0, 1e-12);
    EXPECT_EQ(find_metric(res, "acc")->n, 6);
    EXPECT_EQ(res.items[1].id, "units-2");
    EXPECT_TRUE(res.items[1].correct);  // custom multiple choice: primary metric acc
}

TEST(Scoring, custom_generation_with_few_shot_never_shows_the_item_itself) {
    TaskOptions o;
    o.shots = 2;
    const auto task = make_task("custom:" + kSamples + "/custom_generation_example.jsonl", o);
    ASSERT_TRUE(task->generative());
    const std::vector<std::pair<std::string, std::string>> own = {
        {"sum-1", "Q: What is 12 + 30?\nA:"},
        {"sum-2", "Q: What is 7 * 8?\nA:"},
        {"cap-1", "Q: What is the capital of France?\nA:"},
        {"unit-1", "Q: How many seconds are in an hour?\nA:"},
    };
    const auto prompts = task->prompts();
    ASSERT_EQ(prompts.size(), 4u);
    for (size_t i = 0; i < prompts.size(); ++i) {
        const auto & p = prompts[i];
        EXPECT_EQ(p.id, own[i].first);
        const std::string & q = own[i].second;
        ASSERT_GE(p.context.size(), q.size());
        EXPECT_EQ(p.context.substr(p.context.size() - q.size()), q);  // the item last ...
        EXPECT_EQ(p.context.find(q), p.context.size() - q.size());    // ... and only there
        size_t separators = 0;                                        // each example is "<prompt> <answer>\n\n"
        for (size_t at = p.context.find("\n\n"); at != std::string::npos; at = p.context.find("\n\n", at + 2)) {
            ++separators;
        }
        EXPECT_EQ(separators, 2u);
        EXPECT_EQ(p.stop, (std::vector<std::string>{"\n"}));
    }
    FakeLm lm;
    lm.on_generate = [](const jb::GenRequest & r) {
        const std::string tail = "12 + 30?\nA:";
        const bool mine = r.context.size() >= tail.size() && r.context.substr(r.context.size() - tail.size()) == tail;
        return jb::GenResult{mine ? " 42 " : " nope", 2};
    };
    const TaskResult res = task->run(lm);
    EXPECT_NEAR(find_metric(res, "exact_match")->value, 0.25, 1e-12);
    EXPECT_EQ(res.items[0].target, "42");
    EXPECT_TRUE(res.items[0].correct);
}
