// Custom tasks from a JSONL file (docs/tasks.md, data/samples/custom_example.jsonl), one kind
// per file, decided by the first record:
//   multiple choice  {"question": q | "context": c, "choices": [...], "answer": <index>}
//                    prompt "Question: q\nAnswer:" (ARC's format) or c verbatim; continuation
//                    " " + choice; metrics acc and acc_norm
//   generation       {"prompt": p, "answer": a, "stop": [...] (optional, default ["\n\n"])}
//                    greedy generation; exact_match after stripping surrounding whitespace
// Optional "id" and "group" on any record ("group" adds per-group metrics). Few-shot examples
// come from the same file, never the evaluated record, as lm-eval does when the few-shot and
// evaluation splits are the same.

#include <filesystem>

#include "tasks/data_files.hpp"
#include "tasks/sampling.hpp"
#include "tasks/task_base.hpp"
#include "tasks/text.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

namespace {

struct Record {
    std::string id;
    std::string group;
    std::string prompt;                // question already formatted, or the context / prompt
    std::vector<std::string> choices;  // multiple choice
    int gold = 0;                      // multiple choice
    std::string answer;                // generation
    std::vector<std::string> stop;     // generation
};

class CustomGenTask : public GenTask {
public:
    using GenTask::GenTask;

    ItemResult score(const GenDoc & doc, const GenResult & result) const override {
        ItemResult r = generated_item(doc, result);
        r.target = py_strip(doc.target);
        const std::string got = py_strip(result.text);
        r.extracted = {{"strip", got}};
        r.correct = got == r.target;
        r.scores = {{"exact_match", r.correct ? 1.0 : 0.0}};
        return r;
    }
};

std::string optional_string(const ojson & o, const std::string & key, const JsonWhere & w) {
    const ojson * v = find_field(o, key, w);
    if (!v) return "";
    if (v->is_number_integer()) return std::to_string(v->get<long long>());
    return as_string(*v, w.at(key));
}

}  // namespace

std::unique_ptr<Task> make_custom(const std::string & path, const TaskOptions & opt) {
    if (!file_exists(path)) {
        throw InputError(path, "custom task file not found (custom:<path.jsonl>, a path from the current directory)");
    }
    const std::vector<JsonLine> lines = read_jsonl(path);
    if (lines.empty()) throw InputError(path, "no records (one JSON object per line expected)");

    bool multiple_choice = false;
    bool any_group = false;
    std::vector<Record> recs;
    for (size_t i = 0; i < lines.size(); ++i) {
        const JsonWhere w{path, lines[i].line, ""};
        const ojson & o = lines[i].value;
        const bool has_choices = find_field(o, "choices", w) != nullptr;
        const bool has_prompt = find_field(o, "prompt", w) != nullptr;
        if (i == 0) {
            if (has_choices == has_prompt) {
                throw InputError(path, w.line, has_choices ? "prompt" : "choices",
                                 "a record needs either \"choices\" (multiple choice) or \"prompt\" (generation)");
            }
            multiple_choice = has_choices;
        } else if (multiple_choice ? !has_choices : !has_prompt) {
            throw InputError(path, w.line, multiple_choice ? "choices" : "prompt",
                             std::string("missing; the first record makes this a ") +
                                 (multiple_choice ? "multiple-choice" : "generation") +
                                 " file and every record must be of the same kind");
        }

        Record r;
        r.id = optional_string(o, "id", w);
        if (r.id.empty()) r.id = "line" + std::to_string(w.line);
        r.group = optional_string(o, "group", w);
        any_group |= !r.group.empty();
        if (multiple_choice) {
            const bool has_question = find_field(o, "question", w) != nullptr;
            const bool has_context = find_field(o, "context", w) != nullptr;
            if (has_question == has_context) {
                throw InputError(path, w.line, "question",
                                 "a multiple-choice record needs exactly one of \"question\" and \"context\"");
            }
            r.prompt =
                has_question ? "Question: " + get_string(o, "question", w) + "\nAnswer:" : get_string(o, "context", w);
            const ojson & choices = get_array(o, "choices", w);
            if (choices.size() < 2) {
                throw InputError(path, w.line, "choices",
                                 "expected at least 2 choices, found " + std::to_string(choices.size()));
            }
            for (size_t c = 0; c < choices.size(); ++c)
                r.choices.push_back(as_string(choices[c], w.at("choices").at(c)));
            const long long a = get_integer(o, "answer", w);
            if (a < 0 || static_cast<size_t>(a) >= r.choices.size()) {
                throw InputError(path, w.line, "answer",
                                 "index " + std::to_string(a) + " is outside the " + std::to_string(r.choices.size()) +
                                     " choices (0-based)");
            }
            r.gold = static_cast<int>(a);
        } else {
            r.prompt = get_string(o, "prompt", w);
            r.answer = get_string(o, "answer", w);
            if (const ojson * stop = find_field(o, "stop", w)) {
                if (stop->is_string()) {
                    r.stop.push_back(stop->get<std::string>());
                } else if (stop->is_array()) {
                    for (size_t s = 0; s < stop->size(); ++s)
                        r.stop.push_back(as_string((*stop)[s], w.at("stop").at(s)));
                } else {
                    throw InputError(path, w.line, "stop", "expected a string or an array of strings");
                }
            } else {
                r.stop = {kFewshotDelimiter};  // lm-eval's default `until`: the few-shot delimiter
            }
        }
        recs.push_back(std::move(r));
    }

    const int shots = resolve_shots(opt, 0);
    if (shots > 0 && static_cast<size_t>(shots) + 1 > recs.size()) {
        throw UsageError("--shots " + std::to_string(shots) + ": " + path + " has only " + std::to_string(recs.size()) +
                         " records, and an item is never its own example");
    }
    const std::string name = "custom:" + std::filesystem::path(path).stem().string();
    const std::vector<size_t> chosen = sample_limit(recs.size(), opt.limit, opt.seed);
    FewShotSampler sampler(recs.size(), opt.seed);
    auto fewshot = [&](size_t i) {
        std::string ctx;
        for (const size_t e : sampler.draw(static_cast<size_t>(shots), static_cast<long>(i))) {
            const Record & ex = recs[e];
            ctx += ex.prompt + kTargetDelimiter +
                   (multiple_choice ? ex.choices[static_cast<size_t>(ex.gold)] : ex.answer) + kFewshotDelimiter;
        }
        return ctx;
    };

    if (multiple_choice) {
        auto task = std::make_unique<LoglikTask>(name, "1+custom-mc", shots, "acc", opt.token_norm);
        task->group_metrics = any_group;
        for (const size_t i : chosen) {
            McDoc d;
            d.id = recs[i].id;
            d.group = recs[i].group;
            d.context = fewshot(i) + recs[i].prompt;
            d.choices = recs[i].choices;
            d.gold = recs[i].gold;
            d.scoring = McScoring::acc_and_norm;
            task->docs.push_back(std::move(d));
        }
        task->add_note("data: " + path + " (custom multiple choice)");
        return task;
    }
    auto task = std::make_unique<CustomGenTask>(name, "1+custom-gen", shots, "exact_match", opt.gen_max_tokens);
    task->group_metrics = any_group;
    for (const size_t i : chosen) {
        GenDoc d;
        d.id = recs[i].id;
        d.group = recs[i].group;
        d.context = fewshot(i) + recs[i].prompt;
        d.stop = recs[i].stop;
        d.target = recs[i].answer;
        task->docs.push_back(std::move(d));
    }
    task->add_note("data: " + path + " (custom generation)");
    return task;
}

}  // namespace jb::tasks
