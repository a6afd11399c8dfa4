#pragma once
// "did you mean --tasks?" for a mistyped option or subcommand, instead of CLI11's bare "The
// following arguments were not expected".

#include <string>

#include <CLI/CLI.hpp>

namespace jb::cli {

// One line naming the first unknown command or option of argv and the closest valid one (if any is
// close), or "" when every word is known (CLI11's own message then stands).
std::string unknown_word_hint(const CLI::App & app, int argc, const char * const * argv);

}  // namespace jb::cli
