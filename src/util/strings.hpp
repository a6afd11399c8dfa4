#pragma once
// Small string helpers shared by the commands.

#include <string>
#include <vector>

namespace jb {

// Splits a comma-separated option value ("fp16,int8, q4_k_m") into trimmed names; throws
// UsageError naming `option` for an empty element ("a,,b", a trailing comma, "").
std::vector<std::string> split_list(const std::string & s, const std::string & option);

}  // namespace jb
