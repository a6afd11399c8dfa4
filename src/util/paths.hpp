#pragma once
// Files shipped with joulebench (the model, task samples, the hardware catalogue).

#include <string>

namespace jb {

// A shipped file: relative to the working directory if it is there, else in the source tree
// joulebench was built from, else in the installed package (share/joulebench).
std::string shipped_path(const std::string & relative);

}  // namespace jb
