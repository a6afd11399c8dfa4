#include "sweep/workload.hpp"

#include <regex>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb::sweep {

namespace {

class TaskWorkload final : public Workload {
public:
    explicit TaskWorkload(std::unique_ptr<tasks::Task> task) : task_(std::move(task)) {}
    std::string name() const override { return task_->name(); }
    std::string fingerprint() const override { return task_->fingerprint(); }
    std::string primary_metric() const override { return task_->primary_metric(); }
    size_t n_items() const override { return task_->n_items(); }
    tasks::TaskResult run(LlamaEngine & engine) override { return task_->run(engine); }

private:
    std::unique_ptr<tasks::Task> task_;
};

class BenchWorkload final : public Workload {
public:
    BenchWorkload(std::string name, bool prefill, int n_tokens, int n_seq, int reps)
        : name_(std::move(name)), prefill_(prefill), n_tokens_(n_tokens), n_seq_(n_seq), reps_(reps) {}

    std::string name() const override { return name_; }
    // Random tokens are seeded in the engine: the same name is the same work.
    std::string fingerprint() const override {
        return fmt::format("bench-v2:{}:{}:n{}:s{}:r{}", prefill_ ? "pp" : "tg", n_tokens_, n_tokens_, n_seq_, reps_);
    }
    std::string primary_metric() const override { return ""; }
    size_t n_items() const override { return 0; }
    int sequences() const override { return n_seq_; }
    int repetitions() const override { return reps_; }
    bool prefill_only() const override { return prefill_; }

    tasks::TaskResult run(LlamaEngine & engine) override {
        // Warm-up outside the measured phases: kernels compiled, buffers allocated, clocks up.
        PhaseObserver * observer = engine.phase_observer();
        engine.set_phase_observer(nullptr);
        engine.warmup();
        once(engine, std::min(n_tokens_, 16));
        engine.set_phase_observer(observer);
        engine.reset_counters();

        for (int i = 0; i < reps_; ++i) once(engine, n_tokens_);

        tasks::TaskResult r;
        r.task = name_;
        r.version = "bench-v2";
        r.fingerprint = fingerprint();
        r.notes.push_back(fmt::format("{} repetitions in one measured window", reps_));
        return r;
    }

private:
    void once(LlamaEngine & engine, int n) {
        if (prefill_) {
            engine.bench_prefill(n, n_seq_);
        } else {
            engine.bench_decode(n, n_seq_);
        }
    }

    std::string name_;
    bool prefill_;
    int n_tokens_;
    int n_seq_;
    int reps_;
};

const std::regex & bench_pattern() {
    static const std::regex re("^(pp|tg)([0-9]+)(?:x([0-9]+))?(?:r([0-9]+))?$");
    return re;
}

}  // namespace

bool is_bench_workload(const std::string & name) { return std::regex_match(name, bench_pattern()); }

std::unique_ptr<Workload> make_workload(const std::string & name, const tasks::TaskOptions & options) {
    std::smatch m;
    if (std::regex_match(name, m, bench_pattern())) {
        const int n = std::stoi(m[2].str());
        const int seqs = m[3].matched ? std::stoi(m[3].str()) : 1;
        const int reps = m[4].matched ? std::stoi(m[4].str()) : 5;
        if (n < 1 || n > 1 << 20 || seqs < 1 || seqs > 256 || reps < 1 || reps > 10000) {
            throw UsageError(fmt::format(
                "workload '{}': tokens must be 1..1048576, sequences 1..256 and repetitions 1..10000", name));
        }
        return std::make_unique<BenchWorkload>(name, m[1] == "pp", n, seqs, reps);
    }
    return std::make_unique<TaskWorkload>(tasks::make_task(name, options));
}

}  // namespace jb::sweep
