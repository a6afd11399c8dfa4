#include "cli/commands.hpp"

namespace jb::cli {

void add_synth_command(CLI::App & app) {
    app.add_subcommand("synth", "(not yet implemented)");
}

}  // namespace jb::cli
