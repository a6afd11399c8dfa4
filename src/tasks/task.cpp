// The task registry: names, default shots, make_task().

#include <string_view>

#include "tasks/task_base.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::tasks {

namespace {

struct Entry {
    const char * name;
    int default_shots;  // docs/design.md's table
};

constexpr Entry kTasks[] = {
    {"mmlu", 5},            // 57 subjects; few-shot from dev
    {"hellaswag", 0},       // 10 for Open LLM Leaderboard parity
    {"arc_challenge", 0},   // 25 for Open LLM Leaderboard parity
    {"arc_easy", 0},        // 25 for Open LLM Leaderboard parity
    {"truthfulqa", 0},      // MC1 and MC2 together; the 6-shot QA primer is part of the prompt
    {"truthfulqa_mc1", 0},  // MC1 only
    {"truthfulqa_mc2", 0},  // MC2 only
    {"gsm8k", 5},           // chain of thought from train, greedy
};

constexpr std::string_view kCustomPrefix = "custom:";

std::string valid_names() {
    std::string s;
    for (const auto & n : task_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
}

}  // namespace

std::vector<std::string> builtin_task_names();

namespace {

[[noreturn]] void unknown_task(const std::string & name) {
    const std::string near = closest_name(name, builtin_task_names());
    throw UsageError("unknown task '" + name + "'" + (near.empty() ? "" : "; did you mean " + near + "?") +
                     "; valid tasks: " + valid_names());
}

}  // namespace

std::vector<std::string> builtin_task_names() {
    std::vector<std::string> names;
    for (const auto & e : kTasks) names.emplace_back(e.name);
    return names;
}

std::vector<std::string> task_names() {
    std::vector<std::string> names = builtin_task_names();
    names.emplace_back("custom:<path.jsonl>");
    return names;
}

int default_shots(const std::string & name) {
    for (const auto & e : kTasks) {
        if (name == e.name) return e.default_shots;
    }
    if (name.rfind(kCustomPrefix, 0) == 0) return 0;
    unknown_task(name);
}

std::unique_ptr<Task> make_task(const std::string & name, const TaskOptions & opt) {
    if (opt.shots < -1) throw UsageError("--shots " + std::to_string(opt.shots) + ": must be 0 or more");
    if (opt.limit == 0 || opt.limit < -1) {
        throw UsageError("--limit " + std::to_string(opt.limit) + ": must be a positive number of items");
    }
    if (opt.gen_max_tokens <= 0) {
        throw UsageError("generation max tokens " + std::to_string(opt.gen_max_tokens) + ": must be positive");
    }
    if (name == "mmlu") return make_mmlu(opt);
    if (name == "hellaswag") return make_hellaswag(opt);
    if (name == "arc_challenge") return make_arc(opt, true);
    if (name == "arc_easy") return make_arc(opt, false);
    if (name == "truthfulqa") return make_truthfulqa(opt, true, true);
    if (name == "truthfulqa_mc1") return make_truthfulqa(opt, true, false);
    if (name == "truthfulqa_mc2") return make_truthfulqa(opt, false, true);
    if (name == "gsm8k") return make_gsm8k(opt);
    if (name.rfind(kCustomPrefix, 0) == 0) {
        const std::string path = name.substr(kCustomPrefix.size());
        if (path.empty()) throw UsageError("task 'custom:' needs a file: custom:<path.jsonl>");
        return make_custom(path, opt);
    }
    unknown_task(name);
}

}  // namespace jb::tasks
