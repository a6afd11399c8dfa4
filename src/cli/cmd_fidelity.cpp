#include "cli/commands.hpp"

namespace jb::cli {

void add_fidelity_command(CLI::App & app) {
    app.add_subcommand("fidelity", "(not yet implemented)");
}

}  // namespace jb::cli
