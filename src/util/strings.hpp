#pragma once
// Small string helpers shared by the commands.

#include <optional>
#include <string>
#include <vector>

namespace jb {

// Splits a comma-separated option value ("fp16,int8, q4_k_m") into trimmed names; throws
// UsageError naming `option` for an empty element ("a,,b", a trailing comma, "").
std::vector<std::string> split_list(const std::string & s, const std::string & option);

// The whole of s as an int (std::stoi's syntax, nothing after the number); nullopt when it is not
// one or does not fit.
std::optional<int> parse_int(const std::string & s);

}  // namespace jb
