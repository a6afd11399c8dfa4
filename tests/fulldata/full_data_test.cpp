// The tasks against the full data sets, registered only when the build is configured with
// JOULEBENCH_DATA_DIR (tests/CMakeLists.txt): the item counts of the official splits, and a
// few-shot draw that indexes into a whole training split (7,473 GSM8K examples), which the
// slices in tests/fixtures cannot reproduce. Expected strings as in tests/tasks/prompts_test.cpp:
// from lm-eval's yamls and CPython's random.Random(1234).sample(range(7473), 5).

#include <gtest/gtest.h>

#include "tasks/task.hpp"

using namespace jb::tasks;

namespace {

TaskOptions full_opts(int shots = -1) {
    TaskOptions o;
    o.data_dir = JB_DATA_DIR;
    o.shots = shots;
    return o;
}

}  // namespace

// The official item counts (MANIFEST.md of the data sets): a reader that drops or merges records
// (CSV quoting, CRLF, a final line without newline) changes them.
TEST(FullData, every_task_reads_the_whole_official_split) {
    EXPECT_EQ(make_task("mmlu", full_opts())->n_items(), 14042u);
    EXPECT_EQ(make_task("hellaswag", full_opts())->n_items(), 10042u);
    EXPECT_EQ(make_task("arc_challenge", full_opts())->n_items(), 1172u);
    EXPECT_EQ(make_task("arc_easy", full_opts())->n_items(), 2376u);
    EXPECT_EQ(make_task("truthfulqa_mc1", full_opts())->n_items(), 817u);
    EXPECT_EQ(make_task("gsm8k", full_opts())->n_items(), 1319u);
}

TEST(FullData, gsm8k_five_shot_draws_from_the_whole_train_split) {
    const auto task = make_task("gsm8k", full_opts());
    const auto prompts = task->prompts();
    const std::string expected =
        "Question: Jen and Tyler are gymnasts practicing flips. Jen is practicing the triple-flip while Tyler is "
        "practicing the double-flip. Jen did sixteen triple-flips during practice. Tyler flipped in the air half the "
        "number of times Jen did. How many double-flips did Tyler do?\n"
        "Answer: Jen did 16 triple-flips, so she did 16 * 3 = <<16*3=48>>48 flips.\n"
        "Tyler did half the number of flips, so he did 48 / 2 = <<48/2=24>>24 flips.\n"
        "A double flip has two flips, so Tyler did 24 / 2 = <<24/2=12>>12 double-flips.\n"
        "#### 12\n"
        "\n"
        "Question: Four people in a law firm are planning a party. Mary will buy a platter of pasta for $20 and a loaf "
        "of bread for $2. Elle and Andrea will split the cost for buying 4 cans of soda which cost $1.50 each, and "
        "chicken wings for $10. Joe will buy a cake that costs $5. How much more will Mary spend than the rest of the "
        "firm put together?\n"
        "Answer: Mary will spend $20 + $2 = $<<20+2=22>>22.\n"
        "Elle and Andrea will spend $1.5 x 4 = $<<1.5*4=6>>6 for the soda.\n"
        "Elle and Andrea will spend $6 + $10 = $<<6+10=16>>16 for the soda and chicken wings.\n"
        "Elle, Andrea, and Joe together will spend $16 + $5 = $<<16+5=21>>21.\n"
        "So, Mary will spend $22 - $21 = $<<22-21=1>>1 more than all of them combined.\n"
        "#### 1\n"
        "\n"
        "Question: A charcoal grill burns fifteen coals to ash every twenty minutes of grilling. The grill ran for "
        "long enough to burn three bags of coals. Each bag of coal contains 60 coals. How long did the grill run?\n"
        "Answer: The grill burned 3 * 60 = <<3*60=180>>180 coals.\n"
        "It takes 20 minutes to burn 15 coals, so the grill ran for 180 / 15 * 20 = <<180/15*20=240>>240 minutes.\n"
        "#### 240\n"
        "\n"
        "Question: A bear is preparing to hibernate for the winter and needs to gain 1000 pounds. At the end of "
        "summer, the bear feasts on berries and small woodland animals. During autumn, it devours acorns and salmon. "
        "It gained a fifth of the weight it needed from berries during summer, and during autumn, it gained twice that "
        "amount from acorns. Salmon made up half of the remaining weight it had needed to gain. How many pounds did it "
        "gain eating small animals?\n"
        "Answer: The bear gained 1 / 5 * 1000 = <<1/5*1000=200>>200 pounds from berries.\n"
        "It gained 2 * 200 = <<2*200=400>>400 pounds from acorns.\n"
        "It still needed 1000 - 200 - 400 = <<1000-200-400=400>>400 pounds.\n"
        "Thus, it gained 400 / 2 = <<400/2=200>>200 pounds from salmon.\n"
        "Therefore, the bear gained 400 - 200 = <<400-200=200>>200 pounds from small animals.\n"
        "#### 200\n"
        "\n"
        "Question: Brendan can cut 8 yards of grass per day, he bought a lawnmower and it helped him to cut more yards "
        "by Fifty percent per day. How many yards will Brendan be able to cut after a week?\n"
        "Answer: The additional yard Brendan can cut after buying the lawnmower is 8 x 0.50 = <<8*0.50=4>>4 yards.\n"
        "So, the total yards he can cut with the lawnmower is 8 + 4 = <<8+4=12>>12.\n"
        "Therefore, the total number of yards he can cut in a week is 12 x 7 = <<12*7=84>>84 yards.\n"
        "#### 84\n"
        "\n"
        "Question: Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for "
        "her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
        "egg. How much in dollars does she make every day at the farmers' market?\n"
        "Answer:";
    EXPECT_EQ(prompts[0].id, "gsm8k/test/0");
    EXPECT_EQ(prompts[0].context, expected);
    EXPECT_EQ(prompts[0].stop, (std::vector<std::string>{"Question:", "</s>", "<|im_end|>"}));
    EXPECT_EQ(prompts[0].max_tokens, 256);
    EXPECT_TRUE(prompts[0].continuations.empty());
}
