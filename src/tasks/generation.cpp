// Generation tasks: one greedy generate-until request per item, scored by the task.

#include "tasks/task_base.hpp"
#include "tasks/text.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

std::vector<ItemPrompt> GenTask::prompts() const {
    std::vector<ItemPrompt> out;
    out.reserve(docs.size());
    for (const auto & d : docs) {
        ItemPrompt p;
        p.id = d.id;
        p.group = d.group;
        p.context = d.context;
        p.stop = d.stop;
        p.max_tokens = max_tokens_;
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<GenRequest> GenTask::gen_requests() const {
    std::vector<GenRequest> reqs;
    reqs.reserve(docs.size());
    for (const auto & d : docs) reqs.push_back(GenRequest{d.context, d.stop, max_tokens_});
    return reqs;
}

std::string GenTask::fingerprint() const {
    Fnv1a h;
    h.add(name());
    h.add(version());
    h.add(static_cast<int64_t>(shots()));
    h.add(static_cast<int64_t>(max_tokens_));
    h.add(static_cast<int64_t>(docs.size()));
    for (const auto & d : docs) {
        h.add(d.context);
        h.add(static_cast<int64_t>(d.stop.size()));
        for (const auto & s : d.stop) h.add(s);
        h.add(d.target);
    }
    return h.hex();
}

TaskResult GenTask::run(LanguageModel & lm) {
    const std::vector<GenRequest> reqs = gen_requests();
    const std::vector<GenResult> res = lm.generate(reqs);
    TaskResult out = result_head(reqs.size(), res.size(), "generation");
    out.items.reserve(docs.size());
    for (size_t i = 0; i < docs.size(); ++i) out.items.push_back(score(docs[i], res[i]));
    out.metrics = aggregate_means(out.items, group_metrics);
    return out;
}

}  // namespace jb::tasks
