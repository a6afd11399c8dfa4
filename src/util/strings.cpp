#include "util/strings.hpp"

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb {

std::vector<std::string> split_list(const std::string & s, const std::string & option) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = s.find(',', start);
        std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        part.erase(0, part.find_first_not_of(" \t"));
        part.erase(part.find_last_not_of(" \t") + 1);
        if (part.empty()) throw UsageError(fmt::format("{}: empty name in '{}'", option, s));
        out.push_back(part);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

std::optional<int> parse_int(const std::string & s) {
    size_t used = 0;
    int v = 0;
    try {
        v = std::stoi(s, &used);
    } catch (const std::exception &) {
        return std::nullopt;
    }
    if (used != s.size()) return std::nullopt;
    return v;
}

}  // namespace jb
