#include "cli/commands.hpp"

namespace jb::cli {

void add_quantize_command(CLI::App & app) {
    app.add_subcommand("quantize", "(not yet implemented)");
}

}  // namespace jb::cli
