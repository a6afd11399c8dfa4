#include "util/paths.hpp"

#include <filesystem>

namespace jb {

std::string shipped_path(const std::string & relative) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(relative, ec)) return relative;
    // The source tree joulebench was built from, else the installed package's share/joulebench.
    for (const fs::path root : {fs::path(JOULEBENCH_SOURCE_DIR), fs::path(JOULEBENCH_INSTALL_DATADIR)}) {
        if (fs::exists(root / relative, ec)) return (root / relative).string();
    }
    return (fs::path(JOULEBENCH_SOURCE_DIR) / relative).string();
}

}  // namespace jb
