#include "cli/commands.hpp"

namespace jb::cli {

void add_sweep_command(CLI::App & app) {
    app.add_subcommand("sweep", "(not yet implemented)");
}

}  // namespace jb::cli
