// joulebench: which quantization on which hardware gives the accuracy you need for the least energy.

#include <cstdio>
#include <cstdlib>
#include <exception>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/suggest.hpp"
#include "engine/llama_engine.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

int jb::cli::exit_status = 0;
std::string jb::cli::invocation;

int main(int argc, char ** argv) {
    // CUDA numbers GPUs fastest-first by default, NVML by PCI bus: GPU N of --gpus and the
    // energy counter read for gpu:N must be the same card, so CUDA is told to use the bus order
    // too (before llama.cpp initialises it). A value the user set is kept.
    setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", /*overwrite=*/0);
    // llama.cpp's log stays quiet (bad input gets our one line) unless a command asks for --verbose.
    jb::install_llama_log();
    jb::cli::invocation = "joulebench";
    for (int i = 1; i < argc; ++i) jb::cli::invocation += " " + jb::shell_quote(argv[i]);
    CLI::App app{"joulebench: accuracy and energy of LLM quantization schemes, measured with the hardware's own counters"};
    app.set_version_flag("--version", "joulebench " JOULEBENCH_VERSION " (llama.cpp " JOULEBENCH_LLAMA_COMMIT ")");
    app.require_subcommand(1);
    app.fallthrough(false);

    jb::cli::add_sensors_command(app);
    jb::cli::add_measure_command(app);
    jb::cli::add_eval_command(app);
    jb::cli::add_synth_command(app);
    jb::cli::add_quantize_command(app);
    jb::cli::add_fidelity_command(app);
    jb::cli::add_sweep_command(app);
    jb::cli::add_serve_command(app);
    jb::cli::add_merge_command(app);
    jb::cli::add_run_command(app);
    jb::cli::add_report_command(app);
    jb::cli::add_recommend_command(app);
    jb::cli::add_hardware_command(app);
    jb::cli::add_project_command(app);
    jb::cli::add_status_command(app);
    jb::cli::add_tune_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError & e) {
        // A mistyped option or command gets the closest valid name rather than CLI11's bare list.
        // Help and --version are ParseErrors with exit code 0; every real parse error gets the check.
        if (e.get_exit_code() != 0) {
            if (const std::string hint = jb::cli::unknown_word_hint(app, argc, argv); !hint.empty()) {
                fmt::print(stderr, "joulebench: error: {}\nRun with --help for usage.\n", hint);
                return 2;
            }
        }
        return app.exit(e);
    } catch (const jb::UsageError & e) {
        fmt::print(stderr, "joulebench: error: {}\nRun with --help for usage.\n", e.what());
        return 2;
    } catch (const jb::Error & e) {
        fmt::print(stderr, "joulebench: error: {}\n", e.what());
        return 1;
    } catch (const std::exception & e) {
        fmt::print(stderr, "joulebench: internal error: {}\n", e.what());
        return 1;
    }
    return jb::cli::exit_status;
}
