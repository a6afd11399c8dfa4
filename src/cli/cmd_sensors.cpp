#include "cli/commands.hpp"

namespace jb::cli {

void add_sensors_command(CLI::App & app) {
    app.add_subcommand("sensors", "(not yet implemented)");
}

}  // namespace jb::cli
