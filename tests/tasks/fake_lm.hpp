#pragma once
// A LanguageModel with scripted answers, so tasks are tested without a model. It records how
// it was called: tasks must send all their requests in one call.

#include <functional>
#include <string>
#include <vector>

#include "engine/lm.hpp"

namespace jb::tasks::test {

class FakeLm : public LanguageModel {
public:
    std::function<LoglikResult(const LoglikRequest &)> on_loglik = [](const LoglikRequest &) {
        LoglikResult r;
        r.logprob = -1.0;
        r.n_tokens = 1;
        return r;
    };
    std::function<GenResult(const GenRequest &)> on_generate = [](const GenRequest &) { return GenResult{"", 0}; };

    int loglik_calls = 0;
    int generate_calls = 0;
    std::vector<LoglikRequest> loglik_seen;
    std::vector<GenRequest> gen_seen;
    bool drop_last = false;  // answer one request too few, to test the task's check

    std::vector<LoglikResult> loglikelihood(std::span<const LoglikRequest> requests) override {
        ++loglik_calls;
        std::vector<LoglikResult> out;
        for (const auto & r : requests) {
            loglik_seen.push_back(r);
            out.push_back(on_loglik(r));
        }
        if (drop_last && !out.empty()) out.pop_back();
        return out;
    }

    std::vector<GenResult> generate(std::span<const GenRequest> requests) override {
        ++generate_calls;
        std::vector<GenResult> out;
        for (const auto & r : requests) {
            gen_seen.push_back(r);
            out.push_back(on_generate(r));
        }
        if (drop_last && !out.empty()) out.pop_back();
        return out;
    }

    std::string name() const override { return "fake"; }
};

}  // namespace jb::tasks::test
