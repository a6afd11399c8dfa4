#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string_view>
#include <vector>

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

std::string ordinal(long n) {
    const long tens = n % 100, ones = n % 10;
    const char * suffix = (tens >= 11 && tens <= 13) ? "th"
                          : ones == 1                ? "st"
                          : ones == 2                ? "nd"
                          : ones == 3                ? "rd"
                                                     : "th";
    return std::to_string(n) + suffix;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char & c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

size_t edit_distance(const std::string & a, const std::string & b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string closest_name(const std::string & word, const std::vector<std::string> & names) {
    std::string best;
    size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto & n : names) {
        size_t d = edit_distance(word, n);
        const bool prefix = word.size() >= 3 && n.size() >= 3 && (n.rfind(word, 0) == 0 || word.rfind(n, 0) == 0);
        if (prefix) d = std::min<size_t>(d, 1);
        if (d < best_d) {
            best_d = d;
            best = n;
        }
    }
    return best;
}

}  // namespace jb
