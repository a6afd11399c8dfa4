#pragma once
// The two kinds of task behind jb::tasks::Task (lm-eval's output types): multiple choice
// scored by log-likelihood, and generation until a stop string. Each task file only reads its
// data into McDoc / GenDoc items with finished prompts; these classes send the requests,
// score and aggregate.

#include <memory>
#include <string>
#include <vector>

#include "tasks/task.hpp"

namespace jb::tasks {

// lm-eval's target_delimiter and fewshot_delimiter defaults, used by every built-in task.
inline constexpr const char * kTargetDelimiter = " ";
inline constexpr const char * kFewshotDelimiter = "\n\n";

// How a multiple-choice item is scored.
enum class McScoring {
    acc_and_norm,  // "acc" and "acc_norm" (ARC, HellaSwag, custom); "acc_norm_tokens" with token_norm
    acc_only,      // "acc" (MMLU)
    mc1,           // "mc1": acc with the first choice correct (TruthfulQA MC1)
    mc2,           // "mc2": probability mass on the true answers (TruthfulQA MC2)
};

struct McDoc {
    std::string id;
    std::string group;
    std::string context;               // the whole prompt
    std::vector<std::string> choices;  // without the target delimiter
    int gold = 0;
    std::vector<int> labels;  // mc2: 1 = true, 0 = false, in choice order
    McScoring scoring = McScoring::acc_and_norm;
};

struct GenDoc {
    std::string id;
    std::string group;
    std::string context;
    std::vector<std::string> stop;
    std::string target;  // reference answer as in the data; the task normalises it when scoring
};

// Scores one multiple-choice item from its choices' results (exposed for tests).
ItemResult score_mc(const McDoc & doc, const std::vector<LoglikResult> & results, bool token_norm,
                    const std::string & primary_metric);

// Mean and stderr of every per-item score, over all items ("" group) and, if by_group, per group.
std::vector<Metric> aggregate_means(const std::vector<ItemResult> & items, bool by_group);

// What every built-in task has: a name, a prompt/scoring version, a shot count, a primary
// metric and notes; and the head of the TaskResult it returns.
class TaskBase : public Task {
public:
    TaskBase(std::string name, std::string version, int shots, std::string primary_metric)
        : name_(std::move(name)), version_(std::move(version)), shots_(shots), primary_(std::move(primary_metric)) {}

    std::string name() const override { return name_; }
    std::string version() const override { return version_; }
    int shots() const override { return shots_; }
    std::string primary_metric() const override { return primary_; }

    void add_note(std::string note) { notes_.push_back(std::move(note)); }

protected:
    // Checks the model answered every request (`kind`: "log-likelihood" or "generation") and
    // fills the result's identity; the caller adds items and metrics.
    TaskResult result_head(size_t n_requests, size_t n_answers, const char * kind) const;

private:
    std::string name_, version_;
    int shots_;
    std::string primary_;
};

class LoglikTask : public TaskBase {
public:
    LoglikTask(std::string name, std::string version, int shots, std::string primary_metric, bool token_norm)
        : TaskBase(std::move(name), std::move(version), shots, std::move(primary_metric)), token_norm_(token_norm) {}

    bool generative() const override { return false; }
    std::vector<ItemPrompt> prompts() const override;
    size_t n_items() const override { return docs.size(); }
    std::vector<LoglikRequest> loglik_requests() const override;
    std::vector<GenRequest> gen_requests() const override { return {}; }
    std::string fingerprint() const override;
    TaskResult run(LanguageModel & lm) override;

    // Filled by the task's factory, then left alone.
    std::vector<McDoc> docs;
    bool group_metrics = false;  // also report every metric per item group

protected:
    virtual std::vector<Metric> aggregate(const std::vector<ItemResult> & items) const;

private:
    // Requests with identical (context, continuation) sent once; map[doc][choice] -> request.
    std::vector<LoglikRequest> build_requests(std::vector<std::vector<size_t>> * map) const;

    bool token_norm_;
};

class GenTask : public TaskBase {
public:
    GenTask(std::string name, std::string version, int shots, std::string primary_metric, int max_tokens)
        : TaskBase(std::move(name), std::move(version), shots, std::move(primary_metric)), max_tokens_(max_tokens) {}

    bool generative() const override { return true; }
    std::vector<ItemPrompt> prompts() const override;
    size_t n_items() const override { return docs.size(); }
    std::vector<LoglikRequest> loglik_requests() const override { return {}; }
    std::vector<GenRequest> gen_requests() const override;
    std::string fingerprint() const override;
    TaskResult run(LanguageModel & lm) override;

    // Scores one item from the model's text (exposed for tests).
    virtual ItemResult score(const GenDoc & doc, const GenResult & result) const = 0;

    // Filled by the task's factory, then left alone.
    std::vector<GenDoc> docs;
    bool group_metrics = false;

protected:
    // The part of an item's result every generation task fills the same way: id, group, the
    // generated text and its token count; score() adds target, extraction and scores.
    static ItemResult generated_item(const GenDoc & doc, const GenResult & result) {
        ItemResult r;
        r.id = doc.id;
        r.group = doc.group;
        r.generated = result.text;
        r.n_tokens = {result.n_tokens};
        return r;
    }

private:
    int max_tokens_;
};

// --shots resolved against a task's default.
inline int resolve_shots(const TaskOptions & opt, int default_shots) {
    return opt.shots >= 0 ? opt.shots : default_shots;
}

// Task factories, one per task file.
std::unique_ptr<Task> make_mmlu(const TaskOptions & opt);
std::unique_ptr<Task> make_hellaswag(const TaskOptions & opt);
std::unique_ptr<Task> make_arc(const TaskOptions & opt, bool challenge);
std::unique_ptr<Task> make_truthfulqa(const TaskOptions & opt, bool mc1, bool mc2);
std::unique_ptr<Task> make_gsm8k(const TaskOptions & opt);
std::unique_ptr<Task> make_custom(const std::string & path, const TaskOptions & opt);

}  // namespace jb::tasks
