#include "cli/commands.hpp"

namespace jb::cli {

void add_eval_command(CLI::App & app) {
    app.add_subcommand("eval", "(not yet implemented)");
}

}  // namespace jb::cli
