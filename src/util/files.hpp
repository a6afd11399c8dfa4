#pragma once
// Files written whole or not at all.

#include <filesystem>
#include <string>

namespace jb {

// Writes `text` beside `path`, then renames it there: a reader never sees half a file, and a failed
// write leaves the previous file in place. Creates missing parent directories; `perms` are added
// to the new file's permissions (none: the umask's). Throws jb::InputError naming the path.
void write_file_atomically(const std::filesystem::path & path, const std::string & text,
                           std::filesystem::perms perms = std::filesystem::perms::none);

}  // namespace jb
