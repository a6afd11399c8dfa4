// GSM8K (Cobbe et al.), as lm-eval's `gsm8k` task (lm_eval/tasks/gsm8k/gsm8k.yaml, version 3)
// scores it:
//   doc_to_text   "Question: {{question}}\nAnswer:"; few-shot target: the full answer (chain of
//                 thought ending "#### <number>"), 5 examples drawn at random from train
//   generation    greedy until "Question:", "</s>" or "<|im_end|>"
//   filters       strict-match: `#### (\-?[0-9\.\,]+)`, first match;
//                 flexible-extract: `(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match
//   exact_match   ignore_case, regexes_to_ignore "," "\$" "(?s).*#### " "\.$" on both sides

#include "tasks/data_files.hpp"
#include "tasks/sampling.hpp"
#include "tasks/task_base.hpp"
#include "tasks/text.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

namespace {

struct QA {
    std::string id;
    std::string question;
    std::string answer;
};

std::vector<QA> read_gsm8k_jsonl(const std::string & path, const std::string & split) {
    std::vector<QA> out;
    for (const auto & jl : read_jsonl(path)) {
        const JsonWhere w{path, jl.line, ""};
        QA qa;
        qa.id = "gsm8k/" + split + "/" + std::to_string(out.size());
        qa.question = get_string(jl.value, "question", w);
        qa.answer = get_string(jl.value, "answer", w);
        out.push_back(std::move(qa));
    }
    return out;
}

std::string doc_to_text(const QA & qa) {
    return "Question: " + qa.question + "\nAnswer:";
}

class Gsm8kTask : public GenTask {
public:
    using GenTask::GenTask;

    ItemResult score(const GenDoc & doc, const GenResult & result) const override {
        ItemResult r = generated_item(doc, result);
        r.target = gsm8k_normalize(doc.target);
        const std::string strict = gsm8k_extract_strict(result.text);
        const std::string flexible = gsm8k_extract_flexible(result.text);
        r.extracted = {{"strict-match", strict}, {"flexible-extract", flexible}};
        const bool strict_ok = gsm8k_normalize(strict) == r.target;
        const bool flexible_ok = gsm8k_normalize(flexible) == r.target;
        r.scores = {{"exact_match_strict", strict_ok ? 1.0 : 0.0}, {"exact_match_flexible", flexible_ok ? 1.0 : 0.0}};
        r.correct = strict_ok;
        return r;
    }
};

}  // namespace

std::unique_ptr<Task> make_gsm8k(const TaskOptions & opt) {
    const int shots = resolve_shots(opt, 5);
    const std::string test_path = join_path(opt.data_dir, "gsm8k/test.jsonl");
    const std::string train_path = join_path(opt.data_dir, "gsm8k/train.jsonl");
    if (!file_exists(test_path)) throw_missing_data(opt.data_dir, "gsm8k/test.jsonl");
    const std::vector<QA> test = read_gsm8k_jsonl(test_path, "test");
    std::vector<QA> train;
    if (shots > 0) {
        if (!file_exists(train_path)) {
            throw InputError(train_path,
                             "missing: GSM8K few-shot examples come from the train split (--shots 0 "
                             "needs none)");
        }
        train = read_gsm8k_jsonl(train_path, "train");
        if (static_cast<size_t>(shots) > train.size()) {
            throw UsageError("--shots " + std::to_string(shots) + ": " + train_path + " has only " +
                             std::to_string(train.size()) + " examples");
        }
    }

    const std::vector<size_t> chosen = sample_limit(test.size(), opt.limit, opt.seed);
    FewShotSampler sampler(train.size(), opt.seed);
    auto task =
        std::make_unique<Gsm8kTask>("gsm8k", "1+lm-eval-gsm8k-3.0", shots, "exact_match_strict", opt.gen_max_tokens);
    for (const size_t i : chosen) {
        GenDoc d;
        d.id = test[i].id;
        for (const size_t e : sampler.draw(static_cast<size_t>(shots))) {
            d.context += doc_to_text(train[e]) + kTargetDelimiter + train[e].answer + kFewshotDelimiter;
        }
        d.context += doc_to_text(test[i]);
        d.stop = {"Question:", "</s>", "<|im_end|>"};
        d.target = test[i].answer;
        task->docs.push_back(std::move(d));
    }
    task->add_note("data: " + test_path + (shots > 0 ? ", few-shot from " + train_path : std::string()));
    return task;
}

}  // namespace jb::tasks
