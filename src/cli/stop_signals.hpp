#pragma once
// Ctrl-C for the long-running commands (sweep, tune, serve): SIGINT and SIGTERM ask the run to stop at
// the next safe point (after the current cell; a serve level is cancelled and not stored) while a
// StopSignals lives. A second signal a second or more after the first stops at once (the store is
// consistent at any moment; a served model's llama-server dies with us, PR_SET_PDEATHSIG).

#include <signal.h>

namespace jb::cli {

class StopSignals {
public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals &) = delete;
    StopSignals & operator=(const StopSignals &) = delete;
    // The first stop signal received (0: none yet).
    int signal() const;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

}  // namespace jb::cli
