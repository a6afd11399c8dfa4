#include "cli/commands.hpp"

namespace jb::cli {

void add_merge_command(CLI::App & app) {
    app.add_subcommand("merge", "(not yet implemented)");
}

}  // namespace jb::cli
