#include "tasks/text.hpp"

#include <cstdio>

namespace jb::tasks {

namespace {

// Decodes the code point starting at s[i]; returns its byte length (1 for an invalid byte).
size_t utf8_decode(std::string_view s, size_t i, uint32_t & cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    } else if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        cp = b0 & 0x07;
    } else {
        cp = b0;
        return 1;
    }
    if (i + len > s.size()) {
        cp = b0;
        return 1;
    }
    for (size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            cp = b0;
            return 1;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    return len;
}

// Python's str.isspace(): bidirectional class WS, B or S, or general category Zs.
bool py_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

bool in_number_set(char c) {  // [0-9.,]
    return (c >= '0' && c <= '9') || c == '.' || c == ',';
}

bool in_money_set(char c) {  // [$0-9.,]
    return in_number_set(c) || c == '$';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

size_t run_length(std::string_view s, size_t from, bool (*pred)(char)) {
    size_t n = 0;
    while (from + n < s.size() && pred(s[from + n])) ++n;
    return n;
}

}  // namespace

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++n) {
        uint32_t cp;
        i += utf8_decode(s, i, cp);
    }
    return n;
}

std::string py_strip(std::string_view s) {
    size_t begin = 0;
    while (begin < s.size()) {
        uint32_t cp;
        const size_t len = utf8_decode(s, begin, cp);
        if (!py_isspace(cp)) break;
        begin += len;
    }
    size_t end = s.size();
    while (end > begin) {
        // Step back to the first byte of the last code point.
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) --start;
        uint32_t cp;
        const size_t len = utf8_decode(s, start, cp);
        if (start + len != end) {  // not a well-formed sequence ending at `end`: a lone byte
            cp = static_cast<unsigned char>(s[end - 1]);
            start = end - 1;
        }
        if (!py_isspace(cp)) break;
        end = start;
    }
    return std::string(s.substr(begin, end - begin));
}

std::string py_capitalize(std::string_view s) {
    std::string out(s);
    for (size_t i = 0; i < out.size(); ++i) {
        const char c = out[i];
        if (i == 0) {
            if (c >= 'a' && c <= 'z') out[i] = static_cast<char>(c - 'a' + 'A');
        } else if (c >= 'A' && c <= 'Z') {
            out[i] = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    if (from.empty()) return std::string(s);
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    while (true) {
        const size_t hit = s.find(from, pos);
        if (hit == std::string_view::npos) break;
        out.append(s.substr(pos, hit - pos));
        out.append(to);
        pos = hit + from.size();
    }
    out.append(s.substr(pos));
    return out;
}

std::string hellaswag_preprocess(std::string_view text) {
    std::string t = replace_all(py_strip(text), " [title]", ". ");

    // re.sub("\\[.*?\\]", "", t): from each '[', the lazy ".*?" reaches the first ']' unless a
    // newline comes first ('.' does not match '\n'); then no match starts at this '['.
    std::string no_brackets;
    no_brackets.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
        if (t[i] == '[') {
            size_t j = i + 1;
            while (j < t.size() && t[j] != ']' && t[j] != '\n') ++j;
            if (j < t.size() && t[j] == ']') {
                i = j + 1;
                continue;
            }
        }
        no_brackets.push_back(t[i]);
        ++i;
    }
    return replace_all(no_brackets, "  ", " ");
}

std::string gsm8k_extract_strict(std::string_view r) {
    // First position where `#### (\-?[0-9\.\,]+)` matches, as re.findall(...)[0] finds it.
    for (size_t p = 0; p + 5 <= r.size(); ++p) {
        if (r.compare(p, 5, "#### ") != 0) continue;
        size_t q = p + 5;
        size_t start = q;
        if (q < r.size() && r[q] == '-' && q + 1 < r.size() && in_number_set(r[q + 1])) ++q;
        const size_t n = run_length(r, q, in_number_set);
        if (n == 0) continue;
        return py_strip(r.substr(start, q + n - start));
    }
    return kInvalidAnswer;
}

std::string gsm8k_extract_flexible(std::string_view r) {
    // re.findall over `(-?[$0-9.,]{2,})|(-?[0-9]+)` scans left to right taking non-overlapping
    // matches, the first alternative first; group_select -1 keeps the last match.
    std::string_view last;
    bool found = false;
    for (size_t p = 0; p < r.size();) {
        size_t len = 0;
        // Alternative 1: -?[$0-9.,]{2,}, greedy; backtracking the '-' cannot help since '-' is not in the set.
        const bool minus = r[p] == '-';
        const size_t run1 = run_length(r, p + (minus ? 1 : 0), in_money_set);
        if (run1 >= 2) {
            len = (minus ? 1 : 0) + run1;
        } else {
            // Alternative 2: -?[0-9]+
            const size_t run2 = run_length(r, p + (minus ? 1 : 0), is_digit);
            if (run2 >= 1) len = (minus ? 1 : 0) + run2;
        }
        if (len == 0) {
            ++p;
            continue;
        }
        last = r.substr(p, len);
        found = true;
        p += len;
    }
    return found ? py_strip(last) : std::string(kInvalidAnswer);
}

std::string gsm8k_normalize(std::string_view s) {
    std::string t = replace_all(replace_all(s, ",", ""), "$", "");
    // "(?s).*#### ": greedy with DOTALL, so everything up to and including the LAST "#### ".
    const size_t hash = t.rfind("#### ");
    if (hash != std::string::npos) t.erase(0, hash + 5);
    // "\.$": '$' matches at the end and before a final newline; at most one '.' can match.
    if (!t.empty() && t.back() == '.') {
        t.pop_back();
    } else if (t.size() >= 2 && t[t.size() - 1] == '\n' && t[t.size() - 2] == '.') {
        t.erase(t.size() - 2, 1);
    }
    for (char & c : t) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return t;
}

void Fnv1a::add(std::string_view s) {
    add(static_cast<int64_t>(s.size()));
    for (const char c : s) {
        h_ ^= static_cast<unsigned char>(c);
        h_ *= 0x100000001b3ULL;
    }
}

void Fnv1a::add(int64_t v) {
    auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) {
        h_ ^= (u >> (8 * i)) & 0xFF;
        h_ *= 0x100000001b3ULL;
    }
}

std::string Fnv1a::hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
}

}  // namespace jb::tasks
