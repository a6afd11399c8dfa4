#pragma once
// Ctrl-C and SIGTERM as a request to stop after the current cell (sweep, tune): the runner polls
// signal() through its observer's stop_requested(); a second signal a second or more after the
// first stops at once (the database is consistent at any moment).

#include <signal.h>

namespace jb::cli {

// SIGINT and SIGTERM ask the run to stop after the current cell while this object lives.
class StopSignals {
public:
    StopSignals();
    ~StopSignals();
    int signal() const;  // the first stop signal received, 0 before it

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

}  // namespace jb::cli
