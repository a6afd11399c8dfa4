#include "cli/commands.hpp"

namespace jb::cli {

void add_report_command(CLI::App & app) {
    app.add_subcommand("report", "(not yet implemented)");
}

}  // namespace jb::cli
