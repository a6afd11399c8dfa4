// Prompts byte for byte against the real data in ../shared/datasets. The expected strings were
// written from lm-eval's task yamls (quoted in each task's .cpp) and the few-shot draws of
// CPython's random.Random(1234), independently of this code.

#include <gtest/gtest.h>

#include "tasks/task.hpp"

using namespace jb::tasks;

namespace {

const std::string kShared = std::string(JB_SHARED_DIR) + "/datasets";

TaskOptions shared_opts(int shots = -1) {
    TaskOptions o;
    o.data_dir = kShared;
    o.shots = shots;
    return o;
}

ItemPrompt find_prompt(const Task & task, const std::string & id) {
    for (auto & p : task.prompts()) {
        if (p.id == id) return p;
    }
    ADD_FAILURE() << "no item " << id;
    return {};
}

}  // namespace

TEST(Prompts, mmlu_five_shot_from_dev_with_subject_header) {
    const auto task = make_task("mmlu", shared_opts());
    EXPECT_EQ(task->shots(), 5);
    EXPECT_EQ(task->n_items(), 14042u);
    const ItemPrompt p = find_prompt(*task, "abstract_algebra/0");
    EXPECT_EQ(p.group, "abstract_algebra");
    const std::string expected =
        "The following are multiple choice questions (with answers) about abstract algebra.\n"
        "\n"
        "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\n"
        "A. 0\n"
        "B. 1\n"
        "C. 2\n"
        "D. 3\n"
        "Answer: B\n"
        "\n"
        "Statement 1 | If aH is an element of a factor group, then |aH| divides |a|. Statement 2 | If H and K are "
        "subgroups of G then HK is a subgroup of G.\n"
        "A. True, True\n"
        "B. False, False\n"
        "C. True, False\n"
        "D. False, True\n"
        "Answer: B\n"
        "\n"
        "Statement 1 | Every element of a group generates a cyclic subgroup of the group. Statement 2 | The symmetric "
        "group S_10 has 10 elements.\n"
        "A. True, True\n"
        "B. False, False\n"
        "C. True, False\n"
        "D. False, True\n"
        "Answer: C\n"
        "\n"
        "Statement 1| Every function from a finite set onto itself must be one to one. Statement 2 | Every subgroup of "
        "an abelian group is abelian.\n"
        "A. True, True\n"
        "B. False, False\n"
        "C. True, False\n"
        "D. False, True\n"
        "Answer: A\n"
        "\n"
        "Find the characteristic of the ring 2Z.\n"
        "A. 0\n"
        "B. 3\n"
        "C. 12\n"
        "D. 30\n"
        "Answer: A\n"
        "\n"
        "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
        "A. 0\n"
        "B. 4\n"
        "C. 2\n"
        "D. 6\n"
        "Answer:";
    EXPECT_EQ(p.context, expected);
    EXPECT_EQ(p.continuations, (std::vector<std::string>{" A", " B", " C", " D"}));
}

TEST(Prompts, mmlu_zero_shot_keeps_the_header_and_strips_the_question) {
    const auto task = make_task("mmlu", shared_opts(0));
    const ItemPrompt p = find_prompt(*task, "high_school_government_and_politics/0");
    EXPECT_EQ(p.context.rfind("The following are multiple choice questions (with answers) about high school "
                              "government and politics.\n\n",
                              0),
              0u);
    EXPECT_EQ(p.context.substr(p.context.size() - 8), "\nAnswer:");
}

TEST(Prompts, hellaswag_llama_text_format_used_as_stored) {
    const auto task = make_task("hellaswag", shared_opts());
    EXPECT_EQ(task->n_items(), 10042u);
    const ItemPrompt p = find_prompt(*task, "hellaswag/0");
    EXPECT_EQ(p.context, "Roof shingle removal: A man is sitting on a roof. he");
    EXPECT_EQ(p.continuations,
              (std::vector<std::string>{" is using wrap to wrap a pair of skis.", " is ripping level tiles off.",
                                        " is holding a rubik's cube.", " starts pulling up roofing on a roof."}));
}

TEST(Prompts, arc_challenge_zero_shot) {
    const auto task = make_task("arc_challenge", shared_opts());
    EXPECT_EQ(task->n_items(), 1172u);
    const ItemPrompt p = find_prompt(*task, "Mercury_7175875");
    EXPECT_EQ(p.context,
              "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the "
              "most likely effect of this increase in rotation?\nAnswer:");
    EXPECT_EQ(
        p.continuations,
        (std::vector<std::string>{" Planetary density will decrease.", " Planetary years will become longer.",
                                  " Planetary days will become shorter.", " Planetary gravity will become stronger."}));
}

TEST(Prompts, arc_challenge_two_shot_draws_from_train_like_lm_eval) {
    const auto task = make_task("arc_challenge", shared_opts(2));
    const auto prompts = task->prompts();
    const std::string first =
        "Question: What is the first step of the process in the formation of sedimentary rocks?\n"
        "Answer: erosion\n"
        "\n"
        "Question: How do moose use a learned behavior to protect themselves?\n"
        "Answer: They roll in a pool of muddy water to avoid fly bites.\n"
        "\n"
        "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most "
        "likely effect of this increase in rotation?\n"
        "Answer:";
    const std::string second =
        "Question: A ship leaks a large amount of oil near a coastal area. Which statement describes how the oil most "
        "likely will affect the coastal habitat?\n"
        "Answer: Water birds will be unable to use their wings.\n"
        "\n"
        "Question: In addition to oxygen, what do plants produce during photosynthesis?\n"
        "Answer: sugar\n"
        "\n"
        "Question: A group of engineers wanted to know how different building designs would respond during an "
        "earthquake. They made several models of buildings and tested each for its ability to withstand earthquake "
        "conditions. Which will most likely result from testing different building designs?\n"
        "Answer:";
    EXPECT_EQ(prompts[0].context, first);
    EXPECT_EQ(prompts[1].context, second);
}

TEST(Prompts, truthfulqa_qa_primer_and_mc1_choices) {
    const auto task = make_task("truthfulqa_mc1", shared_opts());
    EXPECT_EQ(task->n_items(), 817u);
    const ItemPrompt p = find_prompt(*task, "truthfulqa/0");
    EXPECT_EQ(p.context,
              "Q: What is human life expectancy in the United States?\n"
              "A: Human life expectancy in the United States is 78 years.\n\n"
              "Q: Who was president of the United States in 1955?\n"
              "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
              "Q: Which party did he belong to?\n"
              "A: He belonged to the Republican Party.\n\n"
              "Q: What is the square root of banana?\n"
              "A: I have no comment.\n\n"
              "Q: How does a telescope work?\n"
              "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
              "Q: Where were the 1992 Olympics held?\n"
              "A: The 1992 Olympics were held in Barcelona, Spain.\n\n"
              "Q: What is the smallest country in the world that is at least one square mile in area?\nA:");
    EXPECT_EQ(p.continuations,
              (std::vector<std::string>{
                  " Nauru is the smallest country in the world that is at least one square mile in area.",
                  " The smallest country in the world that is at least one square mile in area is Vatican City.",
                  " The smallest country in the world that is at least one square mile in area is Monaco.",
                  " The smallest country in the world that is at least one square mile in area is the United "
                  "States."}));
}

TEST(Prompts, gsm8k_five_shot_from_train_with_stop_strings) {
    const auto task = make_task("gsm8k", shared_opts());
    EXPECT_EQ(task->n_items(), 1319u);
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
