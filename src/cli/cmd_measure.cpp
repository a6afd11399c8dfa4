#include "cli/commands.hpp"

namespace jb::cli {

void add_measure_command(CLI::App & app) {
    app.add_subcommand("measure", "(not yet implemented)");
}

}  // namespace jb::cli
