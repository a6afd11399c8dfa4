#pragma once
// Each subcommand lives in its own cmd_<name>.cpp and registers itself on the app.
// A command's callback throws jb::Error on bad input; main() prints it and exits non-zero.

#include <CLI/CLI.hpp>
#include <string>

namespace jb::cli {

void add_sensors_command(CLI::App & app);
void add_measure_command(CLI::App & app);
void add_eval_command(CLI::App & app);
void add_synth_command(CLI::App & app);
void add_quantize_command(CLI::App & app);
void add_fidelity_command(CLI::App & app);
void add_sweep_command(CLI::App & app);
void add_serve_command(CLI::App & app);  // serve: cmd_serve.cpp
void add_merge_command(CLI::App & app);
void add_run_command(CLI::App & app);
void add_report_command(CLI::App & app);
void add_recommend_command(CLI::App & app);
void add_hardware_command(CLI::App & app);  // hardware list: cmd_hardware.cpp
void add_project_command(CLI::App & app);   // project: cmd_project.cpp
void add_status_command(CLI::App & app);  // status --slurm DIR: cmd_status.cpp
void add_tune_command(CLI::App & app);    // tune: cmd_tune.cpp

// Set by a command that wants main() to exit with a particular status (measure: the child's).
extern int exit_status;
// The invocation as the user typed it ("joulebench sweep -m a.gguf --schemes fp16,int8", each word
// shell-quoted), set by main(): what a run record keeps as its command line.
extern std::string invocation;
// A sweep that ran to its end but some of whose cells failed (their reasons are in the store and
// the summary table). 1 is an error before any work, 2 bad usage, 128 + N stopped by signal N.
inline constexpr int kExitCellsFailed = 3;

}  // namespace jb::cli
