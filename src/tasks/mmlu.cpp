// MMLU (Hendrycks et al.), as lm-eval's default `mmlu` group scores it:
// lm_eval/tasks/mmlu/default/_default_template_yaml, _generate_configs.py, _mmlu.yaml.
//   description: "The following are multiple choice questions (with answers) about <subject
//                 with spaces>.\n\n"
//   doc_to_text: "{{question.strip()}}\nA. {{choices[0]}}\nB. ...\nD. {{choices[3]}}\nAnswer:"
//   choices:     " A", " B", " C", " D" (target delimiter " "); metric acc
//   few-shot:    the first K rows of <subject>_dev.csv (sampler first_n), each followed by
//                " <letter>\n\n"
//   aggregates:  categories and the whole group weighted by size (micro), pooled stderr.

#include <cmath>
#include <map>

#include "tasks/csv.hpp"
#include "tasks/data_files.hpp"
#include "tasks/sampling.hpp"
#include "tasks/stats.hpp"
#include "tasks/task_base.hpp"
#include "tasks/text.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

namespace {

// lm-eval's subject -> category map (lm_eval/tasks/mmlu/_generate_configs.py, SUBJECTS).
const std::map<std::string, std::string> & subject_categories() {
    static const std::map<std::string, std::string> m = {
        {"abstract_algebra", "stem"},
        {"anatomy", "stem"},
        {"astronomy", "stem"},
        {"business_ethics", "other"},
        {"clinical_knowledge", "other"},
        {"college_biology", "stem"},
        {"college_chemistry", "stem"},
        {"college_computer_science", "stem"},
        {"college_mathematics", "stem"},
        {"college_medicine", "other"},
        {"college_physics", "stem"},
        {"computer_security", "stem"},
        {"conceptual_physics", "stem"},
        {"econometrics", "social_sciences"},
        {"electrical_engineering", "stem"},
        {"elementary_mathematics", "stem"},
        {"formal_logic", "humanities"},
        {"global_facts", "other"},
        {"high_school_biology", "stem"},
        {"high_school_chemistry", "stem"},
        {"high_school_computer_science", "stem"},
        {"high_school_european_history", "humanities"},
        {"high_school_geography", "social_sciences"},
        {"high_school_government_and_politics", "social_sciences"},
        {"high_school_macroeconomics", "social_sciences"},
        {"high_school_mathematics", "stem"},
        {"high_school_microeconomics", "social_sciences"},
        {"high_school_physics", "stem"},
        {"high_school_psychology", "social_sciences"},
        {"high_school_statistics", "stem"},
        {"high_school_us_history", "humanities"},
        {"high_school_world_history", "humanities"},
        {"human_aging", "other"},
        {"human_sexuality", "social_sciences"},
        {"international_law", "humanities"},
        {"jurisprudence", "humanities"},
        {"logical_fallacies", "humanities"},
        {"machine_learning", "stem"},
        {"management", "other"},
        {"marketing", "other"},
        {"medical_genetics", "other"},
        {"miscellaneous", "other"},
        {"moral_disputes", "humanities"},
        {"moral_scenarios", "humanities"},
        {"nutrition", "other"},
        {"philosophy", "humanities"},
        {"prehistory", "humanities"},
        {"professional_accounting", "other"},
        {"professional_law", "humanities"},
        {"professional_medicine", "other"},
        {"professional_psychology", "social_sciences"},
        {"public_relations", "social_sciences"},
        {"security_studies", "social_sciences"},
        {"sociology", "social_sciences"},
        {"us_foreign_policy", "social_sciences"},
        {"virology", "other"},
        {"world_religions", "humanities"},
    };
    return m;
}

const char * const kCategories[] = {"stem", "humanities", "social_sciences", "other"};

struct MmluRow {
    long line = 0;
    std::string question;
    std::string choices[4];
    int answer = 0;
};

std::vector<MmluRow> read_mmlu_csv(const std::string & path) {
    std::vector<MmluRow> rows;
    for (auto & rec : read_csv_file(path)) {
        if (rec.fields.size() != 6) {
            throw InputError(
                path, rec.line, "columns",
                "expected 6 columns (question, A, B, C, D, answer), found " + std::to_string(rec.fields.size()));
        }
        MmluRow row;
        row.line = rec.line;
        row.question = std::move(rec.fields[0]);
        for (int i = 0; i < 4; ++i) row.choices[i] = std::move(rec.fields[static_cast<size_t>(i) + 1]);
        const std::string & a = rec.fields[5];
        if (a.size() != 1 || a[0] < 'A' || a[0] > 'D') {
            throw InputError(path, rec.line, "answer", "expected one of A, B, C, D in column 6, found '" + a + "'");
        }
        row.answer = a[0] - 'A';
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string doc_to_text(const MmluRow & r) {
    return py_strip(r.question) + "\nA. " + r.choices[0] + "\nB. " + r.choices[1] + "\nC. " + r.choices[2] + "\nD. " +
           r.choices[3] + "\nAnswer:";
}

class MmluTask : public LoglikTask {
public:
    using LoglikTask::LoglikTask;

protected:
    // Per subject, per category and overall. "acc" for categories and overall is lm-eval's
    // size-weighted mean (= mean over their items) with pooled_sample_stderr; "acc_macro" is
    // the unweighted mean over subjects, the number MMLU papers often quote.
    std::vector<Metric> aggregate(const std::vector<ItemResult> & items) const override {
        std::map<std::string, std::vector<double>> by_subject;
        std::vector<double> all;
        for (const auto & it : items) {
            by_subject[it.group].push_back(it.scores.at(0).second);
            all.push_back(it.scores.at(0).second);
        }
        std::map<std::string, MeanStderr> subject_stats;
        for (const auto & [s, v] : by_subject) subject_stats[s] = mean_stderr(v);

        auto micro = [&](const std::vector<std::string> & subjects) {
            std::vector<MeanStderr> groups;
            std::vector<double> values;
            for (const auto & s : subjects) {
                groups.push_back(subject_stats.at(s));
                const auto & v = by_subject.at(s);
                values.insert(values.end(), v.begin(), v.end());
            }
            MeanStderr m = pooled_mean(groups);
            // Every subject with a single item (a small --limit): the pooled formula is undefined.
            if (std::isnan(m.stderr_)) m.stderr_ = mean_stderr(values).stderr_;
            return m;
        };

        std::vector<Metric> out;
        std::vector<std::string> subjects;
        for (const auto & [s, st] : subject_stats) subjects.push_back(s);
        const MeanStderr overall = micro(subjects);
        out.push_back(Metric{"acc", overall.mean, overall.stderr_, "", static_cast<int64_t>(overall.n)});
        std::vector<MeanStderr> per_subject;
        for (const auto & s : subjects) per_subject.push_back(subject_stats.at(s));
        const MeanStderr macro = macro_mean(per_subject, sample_sd(all));
        out.push_back(Metric{"acc_macro", macro.mean, macro.stderr_, "", static_cast<int64_t>(macro.n)});

        for (const char * cat : kCategories) {
            std::vector<std::string> in_cat;
            for (const auto & s : subjects) {
                if (subject_categories().at(s) == cat) in_cat.push_back(s);
            }
            if (in_cat.empty()) continue;
            const MeanStderr m = micro(in_cat);
            out.push_back(Metric{"acc", m.mean, m.stderr_, cat, static_cast<int64_t>(m.n)});
        }
        for (const auto & s : subjects) {
            const MeanStderr & m = subject_stats.at(s);
            out.push_back(Metric{"acc", m.mean, m.stderr_, s, static_cast<int64_t>(m.n)});
        }
        return out;
    }
};

}  // namespace

std::unique_ptr<Task> make_mmlu(const TaskOptions & opt) {
    const int shots = resolve_shots(opt, 5);
    const std::string test_dir = join_path(opt.data_dir, "mmlu/test");
    const std::string dev_dir = join_path(opt.data_dir, "mmlu/dev");
    const std::vector<std::string> files = list_files(test_dir, "_test.csv");
    if (files.empty()) throw_missing_data(opt.data_dir, "mmlu/test/*_test.csv");

    struct Subject {
        std::string name;
        std::vector<MmluRow> test;
        std::string prefix;  // description + few-shot examples
    };
    std::vector<Subject> subjects;
    for (const auto & f : files) {
        Subject s;
        s.name = f.substr(0, f.size() - std::string("_test.csv").size());
        const std::string path = join_path(test_dir, f);
        if (!subject_categories().count(s.name)) {
            throw InputError(path, "unknown MMLU subject '" + s.name + "' (not one of lm-eval's 57)");
        }
        s.test = read_mmlu_csv(path);

        std::string subject_words = s.name;
        for (char & c : subject_words) {
            if (c == '_') c = ' ';
        }
        s.prefix = "The following are multiple choice questions (with answers) about " + subject_words + ".\n\n";
        if (shots > 0) {
            const std::string dev_path = join_path(dev_dir, s.name + "_dev.csv");
            if (!file_exists(dev_path)) {
                throw InputError(dev_path,
                                 "missing: MMLU few-shot examples come from the dev split (--shots 0 "
                                 "needs none)");
            }
            const std::vector<MmluRow> dev = read_mmlu_csv(dev_path);
            if (static_cast<size_t>(shots) > dev.size()) {
                throw UsageError("--shots " + std::to_string(shots) + ": " + dev_path + " has only " +
                                 std::to_string(dev.size()) + " examples");
            }
            // first_n sampler: the first K dev rows in file order, the same for every question.
            for (int i = 0; i < shots; ++i) {
                const MmluRow & ex = dev[static_cast<size_t>(i)];
                s.prefix += doc_to_text(ex) + kTargetDelimiter + std::string(1, static_cast<char>('A' + ex.answer)) +
                            kFewshotDelimiter;
            }
        }
        subjects.push_back(std::move(s));
    }

    std::vector<size_t> sizes;
    for (const auto & s : subjects) sizes.push_back(s.test.size());
    const auto chosen = sample_limit_balanced(sizes, opt.limit, opt.seed);

    auto task = std::make_unique<MmluTask>("mmlu", "1+lm-eval-mmlu-default", shots, "acc", opt.token_norm);
    for (size_t si = 0; si < subjects.size(); ++si) {
        const Subject & s = subjects[si];
        for (const size_t row : chosen[si]) {
            const MmluRow & r = s.test[row];
            McDoc d;
            d.id = s.name + "/" + std::to_string(row);
            d.group = s.name;
            d.context = s.prefix + doc_to_text(r);
            d.choices = {"A", "B", "C", "D"};
            d.gold = r.answer;
            d.scoring = McScoring::acc_only;
            task->docs.push_back(std::move(d));
        }
    }
    task->add_note("data: " + test_dir + " (" + std::to_string(subjects.size()) + " subjects), few-shot from " +
                   dev_dir + " (first " + std::to_string(shots) + " rows)");
    if (subjects.size() != subject_categories().size()) {
        task->add_note("only " + std::to_string(subjects.size()) + " of MMLU's 57 subjects present");
    }
    return task;
}

}  // namespace jb::tasks
