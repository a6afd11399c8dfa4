#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string_view>

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

std::optional<double> parse_double(const std::string & s) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(s, &used);
    } catch (const std::exception &) {
        return std::nullopt;
    }
    if (used != s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::vector<double> split_numbers(const std::string & s, const std::string & option, bool whole) {
    std::vector<double> out;
    for (const std::string & item : split_list(s, option)) {
        const std::optional<double> v = parse_double(item);
        if (!v) throw UsageError(fmt::format("{}: '{}' is not a number", option, item));
        if (whole && *v != std::floor(*v)) throw UsageError(fmt::format("{}: '{}' is not a whole number", option, item));
        out.push_back(*v);
    }
    return out;
}

std::string shell_quote(const std::string & word) {
    const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("@%_+=:,./-").find(char(c)) != std::string_view::npos;
    });
    if (safe) return word;
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace jb
