// --limit, --shots and workload fingerprints.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tasks/task.hpp"

using namespace jb::tasks;

namespace {

TaskOptions samples(int limit = -1, int shots = -1, uint64_t seed = 1234) {
    TaskOptions o;
    o.data_dir = std::string(JB_SOURCE_DIR) + "/data/samples";
    o.limit = limit;
    o.shots = shots;
    o.seed = seed;
    return o;
}

std::vector<std::string> ids(const Task & t) {
    std::vector<std::string> out;
    for (const auto & p : t.prompts()) out.push_back(p.id);
    return out;
}

}  // namespace

TEST(Limit, mmlu_limit_is_balanced_over_subjects_and_deterministic) {
    const auto a = make_task("mmlu", samples(12));
    std::map<std::string, int> per_subject;
    for (const auto & p : a->prompts()) ++per_subject[p.group];
    EXPECT_EQ(per_subject.size(), 6u);
    for (const auto & [s, n] : per_subject) EXPECT_EQ(n, 2) << s;
    EXPECT_EQ(ids(*a), ids(*make_task("mmlu", samples(12))));
    EXPECT_NE(ids(*a), ids(*make_task("mmlu", samples(12, -1, 7))));

    // 8 over 6 subjects: two subjects get 2 items, four get 1.
    std::map<std::string, int> uneven;
    for (const auto & p : make_task("mmlu", samples(8))->prompts()) ++uneven[p.group];
    std::multiset<int> counts;
    for (const auto & [s, n] : uneven) counts.insert(n);
    EXPECT_EQ(counts, (std::multiset<int>{1, 1, 1, 1, 2, 2}));
}

TEST(Limit, other_tasks_take_a_seeded_subset_in_data_order) {
    const auto all = ids(*make_task("arc_easy", samples()));
    const auto a = ids(*make_task("arc_easy", samples(10)));
    EXPECT_EQ(a.size(), 10u);
    EXPECT_EQ(a, ids(*make_task("arc_easy", samples(10))));
    EXPECT_NE(a, ids(*make_task("arc_easy", samples(10, -1, 99))));
    // A subset of the data, in the data's order.
    size_t pos = 0;
    for (const auto & id : a) {
        while (pos < all.size() && all[pos] != id) ++pos;
        ASSERT_LT(pos, all.size()) << id;
    }
    EXPECT_EQ(ids(*make_task("gsm8k", samples(500))).size(), 20u);  // larger than the data: everything
}

TEST(Shots, override_and_defaults) {
    EXPECT_EQ(make_task("gsm8k", samples())->shots(), 5);
    EXPECT_EQ(make_task("gsm8k", samples(-1, 0))->shots(), 0);
    EXPECT_EQ(make_task("arc_challenge", samples())->shots(), 0);
    EXPECT_EQ(make_task("arc_challenge", samples(-1, 25))->shots(), 25);
    EXPECT_EQ(make_task("mmlu", samples(-1, 1))->shots(), 1);
    EXPECT_EQ(default_shots("mmlu"), 5);
    EXPECT_EQ(default_shots("hellaswag"), 0);
    EXPECT_EQ(default_shots("custom:x.jsonl"), 0);

    const auto zero = make_task("gsm8k", samples(-1, 0))->prompts();
    EXPECT_EQ(zero[0].context.rfind("Question: Janet", 0), 0u);  // no examples before the question
}

TEST(Shots, hellaswag_few_shot_without_train_split_excludes_the_item_and_says_so) {
    const auto task = make_task("hellaswag", samples(-1, 3));
    bool noted = false;
    for (const auto & n : task->notes()) noted |= n.find("drawn from the validation file") != std::string::npos;
    EXPECT_TRUE(noted);
    // Each context: 3 examples "<query> <gold ending>\n\n" then the item's own query, which is
    // never among the examples.
    for (const auto & p : task->prompts()) {
        const size_t last = p.context.rfind("\n\n");
        ASSERT_NE(last, std::string::npos);
        const std::string own = p.context.substr(last + 2);
        EXPECT_EQ(p.context.find(own + " "), std::string::npos) << p.id;
    }
}

TEST(Fingerprint, same_workload_same_fingerprint) {
    EXPECT_EQ(make_task("arc_easy", samples())->fingerprint(), make_task("arc_easy", samples())->fingerprint());
    // The seed only matters when it changes what is asked.
    EXPECT_EQ(make_task("arc_easy", samples(-1, 0, 1))->fingerprint(),
              make_task("arc_easy", samples(-1, 0, 2))->fingerprint());
    EXPECT_NE(make_task("arc_easy", samples(-1, 2, 1))->fingerprint(),
              make_task("arc_easy", samples(-1, 2, 2))->fingerprint());
    EXPECT_NE(make_task("arc_easy", samples())->fingerprint(), make_task("arc_easy", samples(10))->fingerprint());
    EXPECT_NE(make_task("arc_easy", samples())->fingerprint(), make_task("arc_challenge", samples())->fingerprint());
    EXPECT_NE(make_task("gsm8k", samples())->fingerprint(), make_task("gsm8k", samples(-1, 4))->fingerprint());
    TaskOptions longer = samples();
    longer.gen_max_tokens = 512;
    EXPECT_NE(make_task("gsm8k", samples())->fingerprint(), make_task("gsm8k", longer)->fingerprint());
    EXPECT_EQ(make_task("gsm8k", samples())->fingerprint().size(), 16u);
}

TEST(Requests, loglik_requests_carry_the_target_delimiter) {
    const auto task = make_task("arc_easy", samples(3));
    const auto reqs = task->loglik_requests();
    ASSERT_FALSE(reqs.empty());
    for (const auto & r : reqs) {
        EXPECT_EQ(r.continuation[0], ' ');
        EXPECT_EQ(r.context.substr(r.context.size() - 8), "\nAnswer:");
    }
    EXPECT_TRUE(task->gen_requests().empty());
    const auto gen = make_task("gsm8k", samples(2));
    EXPECT_EQ(gen->gen_requests().size(), 2u);
    EXPECT_TRUE(gen->loglik_requests().empty());
}
