// ARC-Challenge and ARC-Easy (Clark et al.), as lm-eval's `arc_challenge` / `arc_easy` score
// them (lm_eval/tasks/arc/arc_easy.yaml; arc_challenge.yaml includes it):
//   doc_to_text   "Question: {{question}}\nAnswer:"
//   doc_to_choice choices.text, continuation " " + text
//   doc_to_target choices.label.index(answerKey)   (labels are A-E or 1-5; 3 to 5 choices)
//   metrics acc and acc_norm; few-shot examples drawn from Train.

#include "tasks/data_files.hpp"
#include "tasks/sampling.hpp"
#include "tasks/task_base.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

namespace {

struct ArcDoc {
    std::string id;
    std::string question;
    std::vector<std::string> choices;
    int gold = 0;
};

std::vector<ArcDoc> read_arc_jsonl(const std::string & path) {
    std::vector<ArcDoc> docs;
    for (const auto & jl : read_jsonl(path)) {
        const JsonWhere w{path, jl.line, ""};
        const ojson & o = jl.value;
        ArcDoc d;
        d.id = get_string(o, "id", w);
        const JsonWhere wq = w.at("question");
        const ojson & q = get_field(o, "question", w);
        d.question = get_string(q, "stem", wq);
        const ojson & choices = get_array(q, "choices", wq);
        if (choices.size() < 2) {
            throw InputError(path, jl.line, wq.at("choices").path,
                             "expected at least 2 choices, found " + std::to_string(choices.size()));
        }
        std::vector<std::string> labels;
        for (size_t i = 0; i < choices.size(); ++i) {
            const JsonWhere wc = wq.at("choices").at(i);
            d.choices.push_back(get_string(choices[i], "text", wc));
            labels.push_back(get_string(choices[i], "label", wc));
        }
        const std::string key = get_string(o, "answerKey", w);
        d.gold = -1;
        for (size_t i = 0; i < labels.size(); ++i) {
            if (labels[i] == key) {
                d.gold = static_cast<int>(i);
                break;
            }
        }
        if (d.gold < 0) {
            std::string all;
            for (const auto & l : labels) all += (all.empty() ? "" : ", ") + l;
            throw InputError(path, jl.line, "answerKey", "'" + key + "' is not one of the choice labels " + all);
        }
        docs.push_back(std::move(d));
    }
    return docs;
}

std::string doc_to_text(const ArcDoc & d) {
    return "Question: " + d.question + "\nAnswer:";
}

}  // namespace

std::unique_ptr<Task> make_arc(const TaskOptions & opt, bool challenge) {
    const std::string set = challenge ? "ARC-Challenge" : "ARC-Easy";
    const std::string name = challenge ? "arc_challenge" : "arc_easy";
    const int shots = resolve_shots(opt, 0);
    const std::string dir = join_path(opt.data_dir, "arc/" + set);
    const std::string test_path = join_path(dir, set + "-Test.jsonl");
    const std::string train_path = join_path(dir, set + "-Train.jsonl");
    if (!file_exists(test_path)) throw_missing_data(opt.data_dir, "arc/" + set + "/" + set + "-Test.jsonl");

    const std::vector<ArcDoc> test = read_arc_jsonl(test_path);
    std::vector<ArcDoc> train;
    if (shots > 0) {
        if (!file_exists(train_path)) {
            throw InputError(train_path,
                             "missing: ARC few-shot examples come from the Train split (--shots 0 needs "
                             "none)");
        }
        train = read_arc_jsonl(train_path);
        if (static_cast<size_t>(shots) > train.size()) {
            throw UsageError("--shots " + std::to_string(shots) + ": " + train_path + " has only " +
                             std::to_string(train.size()) + " examples");
        }
    }

    const std::vector<size_t> chosen = sample_limit(test.size(), opt.limit, opt.seed);
    FewShotSampler sampler(train.size(), opt.seed);
    auto task = std::make_unique<LoglikTask>(name, "1+lm-eval-arc-1.0", shots, "acc_norm", opt.token_norm);
    for (const size_t i : chosen) {
        const ArcDoc & a = test[i];
        McDoc d;
        d.id = a.id;
        for (const size_t e : sampler.draw(static_cast<size_t>(shots))) {
            const ArcDoc & ex = train[e];
            d.context +=
                doc_to_text(ex) + kTargetDelimiter + ex.choices[static_cast<size_t>(ex.gold)] + kFewshotDelimiter;
        }
        d.context += doc_to_text(a);
        d.choices = a.choices;
        d.gold = a.gold;
        d.scoring = McScoring::acc_and_norm;
        task->docs.push_back(std::move(d));
    }
    task->add_note("data: " + test_path + (shots > 0 ? ", few-shot from " + train_path : std::string()));
    return task;
}

}  // namespace jb::tasks
