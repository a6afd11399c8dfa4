#pragma once
// Small string helpers shared by the commands.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jb {

// Splits a comma-separated option value ("fp16,int8, q4_k_m") into trimmed names; throws
// UsageError naming `option` for an empty element ("a,,b", a trailing comma, "").
std::vector<std::string> split_list(const std::string & s, const std::string & option);

// The whole of s as an int (std::stoi's syntax, nothing after the number); nullopt when it is not
// one or does not fit.
std::optional<int> parse_int(const std::string & s);

// The whole of s as a finite double ("2.5", "1e3"; nothing after the number, no "inf" or "nan");
// nullopt otherwise.
std::optional<double> parse_double(const std::string & s);

// A comma-separated list of numbers ("1,4,16", "0.5, 2"): split_list, then parse_double each;
// `whole` refuses fractions. Throws UsageError naming `option` and the element.
std::vector<double> split_numbers(const std::string & s, const std::string & option, bool whole);

// n as an English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 112th.
std::string ordinal(long n);

// s in lower case (ASCII).
std::string lower(std::string_view s);

// Levenshtein distance between two words.
size_t edit_distance(const std::string & a, const std::string & b);

// The name of `names` closest to a mistyped `word`, for "did you mean ...?": within a third of its
// length in edits (at least 2), or one that starts with it or that it starts with ("--task" for
// "--tasks"); "" when none is that close.
std::string closest_name(const std::string & word, const std::vector<std::string> & names);

// `word` as one word of a POSIX shell command line: as it is when it holds only safe characters
// (letters, digits, @%_+=:,./-), else in single quotes (a ' inside as '\'').
std::string shell_quote(const std::string & word);

}  // namespace jb
