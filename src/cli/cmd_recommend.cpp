#include "cli/commands.hpp"

namespace jb::cli {

void add_recommend_command(CLI::App & app) {
    app.add_subcommand("recommend", "(not yet implemented)");
}

}  // namespace jb::cli
