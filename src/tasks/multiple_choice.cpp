// Multiple-choice tasks: one log-likelihood request per choice, scored like lm-eval's
// multiple_choice output type (lm_eval/api/task.py, process_results).

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_map>

#include "tasks/stats.hpp"
#include "tasks/task_base.hpp"
#include "tasks/text.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

namespace {

// np.argmax: the first index of the maximum.
int argmax(const std::vector<double> & v) {
    int best = 0;
    for (size_t i = 1; i < v.size(); ++i) {
        if (v[i] > v[static_cast<size_t>(best)]) best = static_cast<int>(i);
    }
    return v.empty() ? -1 : best;
}

// llama-perplexity's per-token score (tools/perplexity/perplexity.cpp, hellaswag_score and
// multiple_choice_score): tokens that every choice shares at the start are dropped, and the
// rest are averaged. Needs the engine's per-token detail; without it, the whole continuation
// is averaged.
std::vector<double> token_normalised(const std::vector<LoglikResult> & results) {
    const size_t n = results.size();
    std::vector<double> out(n);
    bool detail = n > 0;
    for (const auto & r : results) detail &= !r.tokens.empty() && r.tokens.size() == r.token_logprobs.size();
    if (!detail) {
        for (size_t i = 0; i < n; ++i) out[i] = results[i].logprob / std::max(1, results[i].n_tokens);
        return out;
    }
    size_t common = results[0].tokens.size();
    for (size_t i = 1; i < n; ++i) {
        size_t k = 0;
        while (k < common && k < results[i].tokens.size() && results[i].tokens[k] == results[0].tokens[k]) ++k;
        common = k;
    }
    for (size_t i = 0; i < n; ++i) {
        const auto & lp = results[i].token_logprobs;
        // A choice made only of shared tokens (one choice a prefix of the others) has nothing
        // left; llama-perplexity would read past its end, we average all of it.
        const size_t from = common < lp.size() ? common : 0;
        double sum = 0.0;
        for (size_t k = from; k < lp.size(); ++k) sum += lp[k];
        out[i] = sum / static_cast<double>(lp.size() - from);
    }
    return out;
}

struct PairHash {
    size_t operator()(const std::pair<std::string_view, std::string_view> & p) const {
        const size_t a = std::hash<std::string_view>{}(p.first);
        const size_t b = std::hash<std::string_view>{}(p.second);
        return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    }
};

}  // namespace

ItemResult score_mc(const McDoc & doc, const std::vector<LoglikResult> & results, bool token_norm,
                    const std::string & primary_metric) {
    ItemResult r;
    r.id = doc.id;
    r.group = doc.group;
    r.gold = doc.gold;
    const size_t n = doc.choices.size();
    r.logprobs.resize(n);
    r.n_tokens.resize(n);
    r.n_chars.resize(n);
    std::vector<double> by_chars(n);
    for (size_t i = 0; i < n; ++i) {
        r.logprobs[i] = results[i].logprob;
        r.n_tokens[i] = results[i].n_tokens;
        // lm-eval divides by len(choice): Python characters of the choice without the target
        // delimiter. An empty choice would divide by zero there; we divide by 1.
        r.n_chars[i] = static_cast<int>(utf8_length(doc.choices[i]));
        by_chars[i] = r.logprobs[i] / std::max(1, r.n_chars[i]);
    }
    r.predicted = argmax(r.logprobs);
    const bool acc = r.predicted == doc.gold;

    switch (doc.scoring) {
        case McScoring::acc_and_norm: {
            r.predicted_norm = argmax(by_chars);
            const bool acc_norm = r.predicted_norm == doc.gold;
            r.scores = {{"acc", acc ? 1.0 : 0.0}, {"acc_norm", acc_norm ? 1.0 : 0.0}};
            if (token_norm) {
                r.scores.emplace_back("acc_norm_tokens", argmax(token_normalised(results)) == doc.gold ? 1.0 : 0.0);
            }
            r.correct = primary_metric == "acc_norm" ? acc_norm : acc;
            break;
        }
        case McScoring::acc_only:
            r.scores = {{"acc", acc ? 1.0 : 0.0}};
            r.correct = acc;
            break;
        case McScoring::mc1:
            r.scores = {{"mc1", acc ? 1.0 : 0.0}};
            r.correct = acc;
            break;
        case McScoring::mc2: {
            // lm-eval's process_results_mc2: choices before the first 0 label are true, all after
            // it false; score = sum p(true) / (sum p(true) + sum p(false)), p = exp(loglik).
            // Computed with log-sum-exp so very unlikely answers cannot underflow to 0/0.
            size_t split = 0;
            while (split < doc.labels.size() && doc.labels[split] != 0) ++split;
            double max_ll = -std::numeric_limits<double>::infinity();
            for (const double ll : r.logprobs) max_ll = std::max(max_ll, ll);
            double p_true = 0.0, p_all = 0.0;
            for (size_t i = 0; i < n; ++i) {
                const double p = std::exp(r.logprobs[i] - max_ll);
                p_all += p;
                if (i < split) p_true += p;
            }
            r.scores = {{"mc2", p_all > 0.0 ? p_true / p_all : 0.0}};
            r.correct = r.predicted >= 0 && static_cast<size_t>(r.predicted) < split;
            break;
        }
    }
    return r;
}

std::vector<Metric> aggregate_means(const std::vector<ItemResult> & items, bool by_group) {
    // Metric names in order of first appearance; groups in order of first appearance.
    std::vector<std::string> names;
    std::vector<std::string> groups;
    std::map<std::pair<std::string, std::string>, std::vector<double>> values;  // (group, metric)
    for (const auto & it : items) {
        if (by_group && std::find(groups.begin(), groups.end(), it.group) == groups.end()) groups.push_back(it.group);
        for (const auto & [name, v] : it.scores) {
            if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
            values[{"", name}].push_back(v);
            if (by_group) values[{it.group, name}].push_back(v);
        }
    }
    std::vector<Metric> out;
    for (const auto & name : names) {
        const MeanStderr m = mean_stderr(values[{"", name}]);
        out.push_back(Metric{name, m.mean, m.stderr_, "", static_cast<int64_t>(m.n)});
    }
    for (const auto & g : groups) {
        if (g.empty()) continue;
        for (const auto & name : names) {
            const auto it = values.find({g, name});
            if (it == values.end()) continue;
            const MeanStderr m = mean_stderr(it->second);
            out.push_back(Metric{name, m.mean, m.stderr_, g, static_cast<int64_t>(m.n)});
        }
    }
    return out;
}

std::vector<ItemPrompt> LoglikTask::prompts() const {
    std::vector<ItemPrompt> out;
    out.reserve(docs.size());
    for (const auto & d : docs) {
        ItemPrompt p;
        p.id = d.id;
        p.group = d.group;
        p.context = d.context;
        for (const auto & c : d.choices) p.continuations.push_back(kTargetDelimiter + c);
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<LoglikRequest> LoglikTask::build_requests(std::vector<std::vector<size_t>> * map) const {
    // Continuations are built once and kept alive while the dedupe map points into them.
    std::vector<std::vector<std::string>> conts(docs.size());
    for (size_t d = 0; d < docs.size(); ++d) {
        for (const auto & c : docs[d].choices) conts[d].push_back(kTargetDelimiter + c);
    }
    std::unordered_map<std::pair<std::string_view, std::string_view>, size_t, PairHash> seen;
    std::vector<LoglikRequest> reqs;
    if (map) map->assign(docs.size(), {});
    for (size_t d = 0; d < docs.size(); ++d) {
        for (size_t c = 0; c < conts[d].size(); ++c) {
            const auto key = std::make_pair(std::string_view(docs[d].context), std::string_view(conts[d][c]));
            auto [it, inserted] = seen.emplace(key, reqs.size());
            if (inserted) reqs.push_back(LoglikRequest{docs[d].context, conts[d][c]});
            if (map) (*map)[d].push_back(it->second);
        }
    }
    return reqs;
}

std::vector<LoglikRequest> LoglikTask::loglik_requests() const {
    return build_requests(nullptr);
}

std::string LoglikTask::fingerprint() const {
    Fnv1a h;
    h.add(name());
    h.add(version());
    h.add(static_cast<int64_t>(shots()));
    h.add(static_cast<int64_t>(docs.size()));
    for (const auto & d : docs) {
        h.add(d.context);
        h.add(static_cast<int64_t>(d.choices.size()));
        for (const auto & c : d.choices) h.add(c);
        h.add(static_cast<int64_t>(d.gold));
        for (const int l : d.labels) h.add(static_cast<int64_t>(l));
        h.add(static_cast<int64_t>(d.scoring));
    }
    return h.hex();
}

std::vector<Metric> LoglikTask::aggregate(const std::vector<ItemResult> & items) const {
    return aggregate_means(items, group_metrics);
}

TaskResult TaskBase::result_head(size_t n_requests, size_t n_answers, const char * kind) const {
    if (n_answers != n_requests) {
        throw RuntimeFailure(name_ + ": the model answered " + std::to_string(n_answers) + " of " +
                             std::to_string(n_requests) + " " + kind + " requests");
    }
    TaskResult out;
    out.task = name_;
    out.version = version_;
    out.fingerprint = fingerprint();
    out.shots = shots_;
    out.primary_metric = primary_;
    out.n_requests = static_cast<int64_t>(n_requests);
    out.notes = notes_;
    return out;
}

TaskResult LoglikTask::run(LanguageModel & lm) {
    std::vector<std::vector<size_t>> map;
    const std::vector<LoglikRequest> reqs = build_requests(&map);
    const std::vector<LoglikResult> res = lm.loglikelihood(reqs);
    TaskResult out = result_head(reqs.size(), res.size(), "log-likelihood");
    out.items.reserve(docs.size());
    std::vector<LoglikResult> doc_res;
    for (size_t d = 0; d < docs.size(); ++d) {
        doc_res.clear();
        for (const size_t ri : map[d]) doc_res.push_back(res[ri]);
        out.items.push_back(score_mc(docs[d], doc_res, token_norm_, primary_metric()));
    }
    out.metrics = aggregate(out.items);
    return out;
}

}  // namespace jb::tasks
