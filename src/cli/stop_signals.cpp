#include "cli/stop_signals.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace jb::cli {

namespace {

std::atomic<int> g_stop_signal{0};
std::atomic<int64_t> g_stop_ns{0};  // CLOCK_MONOTONIC of the first stop signal, 0 before it

extern "C" void on_stop_signal(int sig) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t now = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    int64_t first = 0;
    if (g_stop_ns.compare_exchange_strong(first, now)) {
        g_stop_signal = sig;
        // Said at once (write(2) is async-signal-safe): a step that cannot be interrupted, such as
        // quantizing a large model, may take a while to end.
        static const char said[] =
            "joulebench: stopping after the step in progress; the results so far are kept (press Ctrl-C "
            "again to stop at once)\n";
        [[maybe_unused]] const ssize_t n = write(2, said, sizeof said - 1);
        return;
    }
    // timeout(1) signals the command and then its whole process group, and a batch system may
    // signal every process of a job: one request can arrive twice within microseconds (a GPU
    // campaign's sweep died of that). Only a signal a second or more after the first is the
    // user insisting: then stop at once; the database is consistent at any moment.
    if (now - first < 1'000'000'000) return;
    signal(sig, SIG_DFL);
    raise(sig);
}

}  // namespace

StopSignals::StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    g_stop_signal = 0;
    g_stop_ns = 0;
}

StopSignals::~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
}

int StopSignals::signal() const {
    return g_stop_signal;
}

}  // namespace jb::cli
