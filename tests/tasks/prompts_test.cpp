// Prompts byte for byte against real data: the slices of the public data sets in tests/fixtures
// (tests/fixtures/README.md). The expected strings were written from lm-eval's task yamls (quoted
// in each task's .cpp) and the few-shot draws of CPython's random.Random(1234), independently of
// this code. tests/fulldata/ checks the same against the full sets when JOULEBENCH_DATA_DIR is given.

#include <gtest/gtest.h>

#include "tasks/task.hpp"

using namespace jb::tasks;

namespace {

TaskOptions fixture_opts(int shots = -1) {
    TaskOptions o;
    o.data_dir = JB_FIXTURES_DIR;
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
    const auto task = make_task("mmlu", fixture_opts());
    EXPECT_EQ(task->shots(), 5);
    EXPECT_EQ(task->n_items(), 564u);  // 4 whole subjects: 100 + 100 + 193 + 171
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
    const auto task = make_task("mmlu", fixture_opts(0));
    const ItemPrompt p = find_prompt(*task, "high_school_government_and_politics/0");
    EXPECT_EQ(p.context.rfind("The following are multiple choice questions (with answers) about high school "
                              "government and politics.\n\n",
                              0),
              0u);
    EXPECT_EQ(p.context.substr(p.context.size() - 8), "\nAnswer:");
}

TEST(Prompts, hellaswag_llama_text_format_used_as_stored) {
    const auto task = make_task("hellaswag", fixture_opts());
    EXPECT_EQ(task->n_items(), 400u);
    const ItemPrompt p = find_prompt(*task, "hellaswag/0");
    EXPECT_EQ(p.context, "Roof shingle removal: A man is sitting on a roof. he");
    EXPECT_EQ(p.continuations,
              (std::vector<std::string>{" is using wrap to wrap a pair of skis.", " is ripping level tiles off.",
                                        " is holding a rubik's cube.", " starts pulling up roofing on a roof."}));
}

TEST(Prompts, arc_challenge_zero_shot) {
    const auto task = make_task("arc_challenge", fixture_opts());
    EXPECT_EQ(task->n_items(), 100u);
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
    const auto task = make_task("arc_challenge", fixture_opts(2));
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
    const auto task = make_task("truthfulqa_mc1", fixture_opts());
    EXPECT_EQ(task->n_items(), 100u);
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

// The fixture's train split holds the first 200 lines of train.jsonl, so the draws are
// random.Random(1234).sample(range(200), 5) = [199, 112, 29, 1, 23] (lines 200, 113, 30, 2, 24).
TEST(Prompts, gsm8k_five_shot_from_train_with_stop_strings) {
    const auto task = make_task("gsm8k", fixture_opts());
    EXPECT_EQ(task->n_items(), 50u);
    const auto prompts = task->prompts();
    const std::string expected =
        "Question: Gary bought his first used car for $6,000.  Gary borrowed the money from his dad who said he "
        "could pay him back the full amount over 5 years.  Gary decided he would pay his dad back the full amount "
        "in 2 years.  How much more is Gary spending per month to pay the loan off in 2 years instead of 5?\n"
        "Answer: A full year has 12 months. So 2 years is 2*12 = <<2*12=24>>24 months\n"
        "The loan amount is $6,000 that he will repay in 24 months so 6000/24 = $<<6000/24=250>>250 per month\n"
        "If he paid his dad back in 5 years that 5*12 = <<5*12=60>>60 months\n"
        "$6,000 loan spread out over 60 months is 6000/60 = $<<6000/60=100>>100 per month\n"
        "To pay it off in 2 years instead of 5, Gary is paying 250-100 = $<<250-100=150>>150 more per month\n"
        "#### 150\n"
        "\n"
        "Question: Lilah's family gallery has 400 photos. On a two-day trip to the Grand Canyon, they took half as "
        "many photos they have in the family's gallery on the first day and 120 more photos than they took on the "
        "first day on the second day. If they added all these photos to the family gallery, calculate the total "
        "number of photos in the gallery.\n"
        "Answer: On their first day to the grand canyon, the family took half as many photos as the ones they have "
        "in the gallery, meaning they took 1/2*400 = <<400/2=200>>200 photos.\n"
        "The total number of photos if they add the ones they took on the first day to the family's gallery is "
        "400+200 = <<400+200=600>>600\n"
        "On the second day, they took 120 more photos than they took on the first day, a total of 200+120 = "
        "<<200+120=320>>320 photos.\n"
        "After adding the photos they took on the second day to the galley, the number of photos will be 600+320 = "
        "<<600+320=920>>920\n"
        "#### 920\n"
        "\n"
        "Question: Mrs. Snyder used to spend 40% of her monthly income on rent and utilities. Her salary was "
        "recently increased by $600 so now her rent and utilities only amount to 25% of her monthly income. How "
        "much was her previous monthly income?\n"
        "Answer: Let her previous monthly income be p\n"
        "The cost of her rent and utilities was 40% of p which is (40/100)*p = 2p/5\n"
        "Her income was increased by $600 so it is now p+$600\n"
        "The cost of her rent and utilities now amount to 25% of (p+$600) which is (25/100)*(p+$600) = (p+$600)/4\n"
        "Equating both expressions for cost of rent and utilities: 2p/5 = (p+$600)/4\n"
        "Multiplying both sides of the equation by 20 gives 8p = 5p+$3000\n"
        "Subtracting 5p from both sides gives: 3p = $3000\n"
        "Dividing both sides by 3 gives p = $1000\n"
        "#### 1000\n"
        "\n"
        "Question: Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How "
        "much did she earn?\n"
        "Answer: Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\n"
        "Working 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n"
        "#### 10\n"
        "\n"
        "Question: Ann's favorite store was having a summer clearance. For $75 she bought 5 pairs of shorts for $7 "
        "each and 2 pairs of shoes for $10 each. She also bought 4 tops, all at the same price. How much did each "
        "top cost?\n"
        "Answer: She bought 5 shorts at $7 each so 5*7=$<<5*7=35>>35\n"
        "She bought 2 pair of shoes at $10 each so 2*10=$<<2*10=20>>20\n"
        "The shorts and shoes cost her 35+20 = $<<35+20=55>>55\n"
        "We know she spent 75 total and the shorts and shoes cost $55 which left a difference of 75-55 = "
        "$<<75-55=20>>20\n"
        "She bought 4 tops for a total of $20 so 20/4 = $5\n"
        "#### 5\n"
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
