#include "util/files.hpp"

#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb {

namespace fs = std::filesystem;

void write_file_atomically(const fs::path & path, const std::string & text, fs::perms perms) {
    std::error_code ec;
    if (path.has_parent_path()) {
        fs::create_directories(path.parent_path(), ec);
        if (ec) {
            throw InputError(path.string(), fmt::format("cannot create directory {}: {}", path.parent_path().string(),
                                                        ec.message()));
        }
    }
    const fs::path tmp = path.string() + fmt::format(".tmp-{}", getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw InputError(path.string(), "cannot write (permission denied, or the directory does not exist)");
        out << text;
        out.flush();
        if (!out) {
            fs::remove(tmp, ec);
            throw InputError(path.string(), "write failed (disk full?)");
        }
    }
    if (perms != fs::perms::none) fs::permissions(tmp, perms, fs::perm_options::add, ec);
    fs::rename(tmp, path, ec);
    if (ec) {
        const std::string why = ec.message();
        fs::remove(tmp, ec);
        throw InputError(path.string(), "cannot write: " + why);
    }
}

}  // namespace jb
