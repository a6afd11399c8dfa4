#pragma once
// The sweep's observer on the command line (joulebench sweep and run): messages on stderr, and a
// progress line (cell counter, what runs, live watts, elapsed and ETA) redrawn twice a second while
// a cell runs on a terminal; plain lines when stderr is no terminal. Ctrl-C reaches the runner as
// a stop request through StopSignals.

#include <memory>

#include "cli/stop_signals.hpp"
#include "joulebench/sweep.hpp"

namespace jb::cli {

std::unique_ptr<SweepObserver> make_sweep_progress(bool tty, const StopSignals & stop);

}  // namespace jb::cli
