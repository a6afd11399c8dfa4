#include "cli/commands.hpp"

namespace jb::cli {

void add_run_command(CLI::App & app) {
    app.add_subcommand("run", "(not yet implemented)");
}

}  // namespace jb::cli
