#pragma once
// String operations with Python's semantics, where lm-evaluation-harness's result depends on
// them (str.strip, str.capitalize, len, re.sub/findall for the few fixed patterns it uses).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jb::tasks {

// Python's len(str): Unicode code points of UTF-8 text (an invalid byte counts as one).
size_t utf8_length(std::string_view s);

// Python's str.strip() with no argument: removes leading and trailing Unicode whitespace.
std::string py_strip(std::string_view s);

// Python's str.capitalize() for ASCII: first character upper case, the rest lower case.
// Non-ASCII characters are left as they are (see docs/tasks.md).
std::string py_capitalize(std::string_view s);

// Python's str.replace(from, to): every non-overlapping occurrence, left to right, one pass.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

// lm-eval's hellaswag preprocess(): strip, " [title]" -> ". ", drop "[...]", "  " -> " ".
std::string hellaswag_preprocess(std::string_view text);

// GSM8K answer extraction and normalisation (lm-eval gsm8k.yaml, version 3).
// strict-match: first match of `#### (\-?[0-9\.\,]+)`, group 1, stripped; "[invalid]" if none.
std::string gsm8k_extract_strict(std::string_view response);
// flexible-extract: last match of `(-?[$0-9.,]{2,})|(-?[0-9]+)`, its non-empty group, stripped.
std::string gsm8k_extract_flexible(std::string_view response);
// exact_match's normalisation: regexes_to_ignore "," "\$" "(?s).*#### " "\.$", then lower case.
std::string gsm8k_normalize(std::string_view s);

inline constexpr const char * kInvalidAnswer = "[invalid]";  // lm-eval's RegexFilter fallback

// 64-bit FNV-1a over length-prefixed pieces (so "ab"+"c" and "a"+"bc" differ); used for
// workload fingerprints, not for security.
class Fnv1a {
public:
    void add(std::string_view s);
    void add(int64_t v);
    uint64_t value() const { return h_; }
    std::string hex() const;

private:
    uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace jb::tasks
