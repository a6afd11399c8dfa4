#include "util/paths.hpp"

#include <filesystem>

namespace jb {

std::string shipped_path(const std::string & relative) {
    std::error_code ec;
    if (std::filesystem::exists(relative, ec)) return relative;
    return std::string(JOULEBENCH_SOURCE_DIR) + "/" + relative;
}

}  // namespace jb
