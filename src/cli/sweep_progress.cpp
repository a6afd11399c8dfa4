#include "cli/sweep_progress.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace jb::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double s) {
    if (!(s >= 0) || s > 360000) return "--:--";
    int total = int(s + 0.5);
    return total >= 3600 ? fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
                         : fmt::format("{}:{:02}", total / 60, total % 60);
}

// The observer of the command line: messages on stderr, and a progress line (cell counter, what
// runs, live watts, elapsed and ETA) redrawn twice a second from its own thread while a cell runs;
// plain lines when stderr is no terminal.
class Progress final : public SweepObserver {
public:
    Progress(bool tty, const StopSignals & stop) : tty_(tty), stop_(stop), t0_(Clock::now()) {}
    ~Progress() override { end_drawing(); }

    void on_message(MessageLevel level, const std::string & text) override {
        end_drawing();
        fmt::print(stderr, "sweep: {}{}\n", level == MessageLevel::warning ? "warning: " : "", text);
    }

    void on_cell_begin(const SweepCell & cell, const std::function<double()> & live_power_w) override {
        end_drawing();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            cell_ = cell;
            live_ = live_power_w;
            running_ = true;
        }
        if (!tty_) {
            fmt::print(stderr, "sweep: [{}/{}] {}\n", cell.index + 1, cell.total, cell.label());
            return;
        }
        thread_ = std::thread([this] {
            std::unique_lock<std::mutex> lock(mutex_);
            while (running_) {
                draw_locked();
                wake_.wait_for(lock, std::chrono::milliseconds(500));
            }
        });
    }

    void on_cell_end(const SweepCell & cell, const CellOutcome & outcome) override {
        end_drawing();
        std::lock_guard<std::mutex> lock(mutex_);
        remaining_ = cell.total - cell.index - 1;
        if (outcome.status == CellStatus::skipped) return;
        // Skipped cells do not count towards the ETA.
        run_s_ += outcome.seconds;
        ++n_run_;
        if (outcome.status == CellStatus::failed) {
            fmt::print(stderr, "sweep: {} failed: {}\n", cell.label(), outcome.error);
        }
    }

    bool stop_requested() override { return stop_.signal() != 0; }

private:
    void end_drawing() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            running_ = false;
            live_ = nullptr;
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
            fmt::print(stderr, "\r\033[K");
        }
    }

    void draw_locked() {
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
        const double eta = n_run_ > 0 ? run_s_ / double(n_run_) * double(cell_.total - cell_.index) : -1;
        const double watts = live_ ? live_() : 0.0;
        const std::string power = watts > 0 ? fmt::format("{:6.1f} W", watts) : std::string("     - W");
        fmt::print(stderr, "\r\033[K[{}/{}] {}  {}  elapsed {}  ETA {}", cell_.index + 1, cell_.total, cell_.label(),
                   power, format_duration(elapsed), format_duration(eta));
        fflush(stderr);
    }

    bool tty_;
    const StopSignals & stop_;
    Clock::time_point t0_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
    bool running_ = false;
    SweepCell cell_;
    std::function<double()> live_;
    size_t remaining_ = 0;
    double run_s_ = 0.0;
    size_t n_run_ = 0;
};

}  // namespace

std::unique_ptr<SweepObserver> make_sweep_progress(bool tty, const StopSignals & stop) {
    return std::make_unique<Progress>(tty, stop);
}

}  // namespace jb::cli
