// HellaSwag (Zellers et al.), as lm-eval's `hellaswag` task scores it
// (lm_eval/tasks/hellaswag/hellaswag.yaml, utils.py):
//   query   = preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())
//   choices = preprocess(ending) for the 4 endings; continuation " " + choice
//   metrics acc and acc_norm (log-likelihood / len(choice) in characters)
// Two file formats: the original JSONL (hellaswag_val.jsonl), built as above, and llama.cpp's
// hellaswag_val_full.txt (6 lines per task: context, gold label, 4 endings), whose lines are
// used as they are, as llama-perplexity uses them.

#include "tasks/data_files.hpp"
#include "tasks/sampling.hpp"
#include "tasks/task_base.hpp"
#include "tasks/text.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

namespace {

struct HsDoc {
    std::string id;
    std::string query;
    std::vector<std::string> choices;
    int gold = 0;
};

std::vector<HsDoc> read_hellaswag_jsonl(const std::string & path) {
    std::vector<HsDoc> docs;
    for (const auto & jl : read_jsonl(path)) {
        const JsonWhere w{path, jl.line, ""};
        const ojson & o = jl.value;
        HsDoc d;
        const ojson * ind = find_field(o, "ind", w);
        d.id = "hellaswag/" + (ind && ind->is_number_integer() ? std::to_string(ind->get<long long>())
                                                               : "line" + std::to_string(jl.line));
        const std::string ctx = get_string(o, "ctx_a", w) + " " + py_capitalize(get_string(o, "ctx_b", w));
        d.query = hellaswag_preprocess(get_string(o, "activity_label", w) + ": " + ctx);
        const ojson & endings = get_array(o, "endings", w);
        if (endings.size() != 4) {
            throw InputError(path, jl.line, "endings", "expected 4 endings, found " + std::to_string(endings.size()));
        }
        for (size_t i = 0; i < endings.size(); ++i) {
            d.choices.push_back(hellaswag_preprocess(as_string(endings[i], w.at("endings").at(i))));
        }
        const long long label = get_integer(o, "label", w);
        if (label < 0 || label > 3) {
            throw InputError(path, jl.line, "label", "expected 0-3, found " + std::to_string(label));
        }
        d.gold = static_cast<int>(label);
        docs.push_back(std::move(d));
    }
    return docs;
}

std::vector<HsDoc> read_hellaswag_txt(const std::string & path) {
    const std::string text = read_text_file(path);
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(std::move(line));
        pos = end + 1;
    }
    if (lines.size() % 6 != 0) {
        throw InputError(path, static_cast<long>(lines.size()), "",
                         "expected 6 lines per task (context, gold label 0-3, 4 endings), but the file has " +
                             std::to_string(lines.size()) + " lines, not a multiple of 6");
    }
    std::vector<HsDoc> docs;
    for (size_t t = 0; t < lines.size() / 6; ++t) {
        HsDoc d;
        d.id = "hellaswag/" + std::to_string(t);
        d.query = lines[6 * t];
        const std::string & label = lines[6 * t + 1];
        if (label.size() != 1 || label[0] < '0' || label[0] > '3') {
            throw InputError(path, static_cast<long>(6 * t + 2), "label",
                             "expected the gold ending's index 0-3 on line 2 of the task, found '" + label + "'");
        }
        d.gold = label[0] - '0';
        for (size_t k = 0; k < 4; ++k) d.choices.push_back(lines[6 * t + 2 + k]);
        docs.push_back(std::move(d));
    }
    return docs;
}

std::string example_text(const HsDoc & d) {
    return d.query + kTargetDelimiter + d.choices[static_cast<size_t>(d.gold)] + kFewshotDelimiter;
}

}  // namespace

std::unique_ptr<Task> make_hellaswag(const TaskOptions & opt) {
    const int shots = resolve_shots(opt, 0);
    const std::string jsonl = join_path(opt.data_dir, "hellaswag/hellaswag_val.jsonl");
    const std::string txt = join_path(opt.data_dir, "hellaswag/hellaswag_val_full.txt");

    std::vector<HsDoc> val;
    std::string source;
    if (file_exists(jsonl)) {
        val = read_hellaswag_jsonl(jsonl);
        source = "data: " + jsonl + " (original JSONL, lm-eval preprocessing applied)";
    } else if (file_exists(txt)) {
        val = read_hellaswag_txt(txt);
        source = "data: " + txt +
                 " (llama.cpp text format: contexts and endings used as stored, as llama-perplexity does; "
                 "ctx_b is not re-capitalised as lm-eval does)";
    } else {
        throw_missing_data(opt.data_dir, "hellaswag/hellaswag_val.jsonl or hellaswag/hellaswag_val_full.txt");
    }
    if (val.empty()) throw InputError(file_exists(jsonl) ? jsonl : txt, "no tasks in file");

    // Which items: llama-perplexity's selection when checking parity with it, else a seeded sample.
    std::vector<size_t> chosen;
    const bool llama_selection = opt.token_norm && opt.limit > 0;
    if (llama_selection) {
        chosen = llama_hellaswag_selection(val.size(), static_cast<size_t>(opt.limit));
    } else {
        chosen = sample_limit(val.size(), opt.limit, opt.seed);
    }

    // Few-shot: lm-eval draws from the training split. Without it, draw from validation and
    // never show an item itself (lm-eval's rule when both splits are the same).
    std::vector<HsDoc> train;
    const std::string train_path = join_path(opt.data_dir, "hellaswag/hellaswag_train.jsonl");
    const bool have_train = shots > 0 && file_exists(train_path);
    if (have_train) train = read_hellaswag_jsonl(train_path);
    const std::vector<HsDoc> & pool = have_train ? train : val;
    if (shots > 0 && static_cast<size_t>(shots) + (have_train ? 0 : 1) > pool.size()) {
        throw UsageError("--shots " + std::to_string(shots) + ": only " + std::to_string(pool.size()) +
                         " HellaSwag examples to draw from");
    }
    FewShotSampler sampler(pool.size(), opt.seed);

    auto task = std::make_unique<LoglikTask>("hellaswag", "1+lm-eval-hellaswag-1.0", shots, "acc_norm", opt.token_norm);
    for (const size_t i : chosen) {
        const HsDoc & h = val[i];
        McDoc d;
        d.id = h.id;
        for (const size_t e : sampler.draw(static_cast<size_t>(shots), have_train ? -1 : static_cast<long>(i))) {
            d.context += example_text(pool[e]);
        }
        d.context += h.query;
        d.choices = h.choices;
        d.gold = h.gold;
        d.scoring = McScoring::acc_and_norm;
        task->docs.push_back(std::move(d));
    }
    task->add_note(source);
    if (shots > 0 && !have_train) {
        task->add_note("few-shot examples drawn from the validation file (never the item itself): " + train_path +
                       " is missing; lm-eval draws them from the training split");
    }
    if (llama_selection) {
        task->add_note("--limit with token normalisation: the " + std::to_string(chosen.size()) +
                       " tasks llama-perplexity --hellaswag-tasks " + std::to_string(chosen.size()) +
                       " selects (std::mt19937(1)), in its order");
    }
    return task;
}

}  // namespace jb::tasks
