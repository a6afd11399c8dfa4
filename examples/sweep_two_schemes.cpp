// A program that does what `joulebench sweep` + `joulebench report` do, through the public
// headers only: a 2-scheme sweep of a model on one task, then the EOR table and a recommendation.
//
//   sweep_two_schemes MODEL.gguf RESULTS.db [TASK] [LIMIT] [DATA_DIR]
//
// DATA_DIR: the task data (default: the shipped samples of the source tree or of the install
// prefix the library was configured with).
//
// Built by the project (target example_sweep_two_schemes) and, in the install test, by a separate
// CMake project against the installed package:
//
//   find_package(joulebench REQUIRED)
//   target_link_libraries(app PRIVATE joulebench::joulebench)

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "joulebench/error.hpp"
#include "joulebench/results.hpp"
#include "joulebench/sweep.hpp"
#include "joulebench/table.hpp"

namespace {

// Progress on stderr; the runner itself prints nothing.
class Progress : public jb::SweepObserver {
public:
    void on_message(jb::MessageLevel level, const std::string & text) override {
        std::fprintf(stderr, "%s%s\n", level == jb::MessageLevel::warning ? "warning: " : "", text.c_str());
    }
    void on_cell_end(const jb::SweepCell & cell, const jb::CellOutcome & out) override {
        if (out.status == jb::CellStatus::failed) {
            std::fprintf(stderr, "[%zu/%zu] %s: failed: %s\n", cell.index + 1, cell.total, cell.label().c_str(),
                         out.error.c_str());
        } else if (out.status == jb::CellStatus::measured) {
            std::fprintf(stderr, "[%zu/%zu] %s: %.2f J in %.2f s%s\n", cell.index + 1, cell.total,
                         cell.label().c_str(), out.energy_j, out.seconds, out.estimated ? " (estimated)" : "");
        }
    }
};

}  // namespace

int main(int argc, char ** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL.gguf RESULTS.db [TASK] [LIMIT] [DATA_DIR]\n", argv[0]);
        return 2;
    }
    jb::SweepSpec spec;
    spec.models = {argv[1]};
    spec.schemes = {"fp16", "q4_k_m"};
    spec.tasks = {argc > 3 ? argv[3] : "arc_easy"};
    spec.task.limit = argc > 4 ? std::atoi(argv[4]) : 20;
    if (argc > 5) spec.task.data_dir = argv[5];
    spec.db = argv[2];
    spec.idle_s = 0.5;  // a short idle baseline: net energy is still reported
    spec.settle_s = 1.0;
    spec.command_line = "examples/sweep_two_schemes";

    try {
        Progress progress;
        const jb::SweepOutcome out = jb::run_sweep(spec, &progress);
        std::fprintf(stderr, "%zu cells measured, %zu failed, %zu already in %s\n", out.measured, out.failed,
                     out.skipped, spec.db.c_str());

        const jb::Results results = jb::Results::open(spec.db);
        jb::print_table(std::cout, results.eor_table(), jb::Format::table);
        for (const jb::metrics::Recommendation & r : results.recommend("budget")) {
            std::cout << "\nbudget profile: " << (r.best ? r.best->scheme : std::string("no scheme")) << ": " << r.why
                      << "\n";
        }
        return out.failed == 0 ? 0 : 3;
    } catch (const jb::Error & e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
