#pragma once
// A strict XML 1.0 well-formedness check, small enough to read: one root element, every tag
// closed in order, attributes quoted, unique and free of '<', only the five predefined entities
// and numeric references, valid UTF-8, no text outside the root. The report writes its HTML as
// well-formed XML precisely so that this check catches any unescaped text.
//
// Not a validator: no DTD, no namespaces checked. An HTML5 "<!DOCTYPE html>" is accepted in the
// prolog.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace jb_test {

class XmlChecker {
public:
    // "" when `doc` is well-formed, else "byte N: what is wrong".
    static std::string check(std::string_view doc) {
        XmlChecker c(doc);
        return c.run();
    }

private:
    explicit XmlChecker(std::string_view doc) : s_(doc) {}

    std::string_view s_;
    size_t i_ = 0;
    std::string error_;

    bool fail(const std::string & what) {
        if (error_.empty()) error_ = "byte " + std::to_string(i_) + ": " + what;
        return false;
    }
    bool at_end() const { return i_ >= s_.size(); }
    bool starts(std::string_view p) const { return s_.substr(i_, p.size()) == p; }
    static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
    void skip_space() {
        while (!at_end() && is_space(s_[i_])) ++i_;
    }
    static bool name_start(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
    }
    static bool name_char(unsigned char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

    bool read_name(std::string & out) {
        const size_t start = i_;
        if (at_end() || !name_start(static_cast<unsigned char>(s_[i_]))) return fail("expected a name");
        while (!at_end() && name_char(static_cast<unsigned char>(s_[i_]))) ++i_;
        out.assign(s_.substr(start, i_ - start));
        return true;
    }

    // At '&': a predefined entity or a numeric character reference.
    bool read_reference() {
        const size_t semi = s_.find(';', i_);
        if (semi == std::string_view::npos || semi - i_ > 12) return fail("'&' not starting a reference");
        const std::string_view ref = s_.substr(i_ + 1, semi - i_ - 1);
        static const std::set<std::string_view> named = {"amp", "lt", "gt", "quot", "apos"};
        if (named.count(ref)) {
            i_ = semi + 1;
            return true;
        }
        if (ref.size() >= 2 && ref[0] == '#') {
            uint32_t cp = 0;
            const bool hex = ref[1] == 'x';
            const std::string_view digits = ref.substr(hex ? 2 : 1);
            if (digits.empty()) return fail("empty character reference");
            for (char c : digits) {
                int d;
                if (c >= '0' && c <= '9') {
                    d = c - '0';
                } else if (hex && c >= 'a' && c <= 'f') {
                    d = c - 'a' + 10;
                } else if (hex && c >= 'A' && c <= 'F') {
                    d = c - 'A' + 10;
                } else {
                    return fail("bad character reference");
                }
                cp = cp * (hex ? 16 : 10) + uint32_t(d);
                if (cp > 0x10FFFF) return fail("character reference out of range");
            }
            if (!(cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                  (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000)) {
                return fail("character reference to a character XML forbids");
            }
            i_ = semi + 1;
            return true;
        }
        return fail("unknown entity '&" + std::string(ref) + ";' (XML knows amp, lt, gt, quot, apos)");
    }

    // One character of text or attribute value: valid UTF-8, no control characters.
    bool read_char() {
        const unsigned char c = static_cast<unsigned char>(s_[i_]);
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return fail("control character");
            ++i_;
            return true;
        }
        int n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (c == 0xC0 || c == 0xC1)) return fail("invalid UTF-8 lead byte");
        for (int k = 1; k <= n; ++k) {
            if (i_ + size_t(k) >= s_.size() || (static_cast<unsigned char>(s_[i_ + size_t(k)]) & 0xC0) != 0x80) {
                return fail("invalid UTF-8 continuation");
            }
        }
        i_ += size_t(n) + 1;
        return true;
    }

    bool read_comment() {  // at "<!--"
        const size_t end = s_.find("--", i_ + 4);
        if (end == std::string_view::npos) return fail("unterminated comment");
        if (s_.substr(end, 3) != "-->") return fail("'--' inside a comment");
        i_ = end + 3;
        return true;
    }

    bool read_pi() {  // at "<?"
        const size_t end = s_.find("?>", i_ + 2);
        if (end == std::string_view::npos) return fail("unterminated processing instruction");
        i_ = end + 2;
        return true;
    }

    bool read_misc_prolog(bool allow_doctype) {
        for (;;) {
            skip_space();
            if (starts("<!--")) {
                if (!read_comment()) return false;
            } else if (starts("<?")) {
                if (!read_pi()) return false;
            } else if (allow_doctype && (starts("<!DOCTYPE") || starts("<!doctype"))) {
                const size_t end = s_.find('>', i_);
                if (end == std::string_view::npos) return fail("unterminated DOCTYPE");
                if (s_.substr(i_, end - i_).find('[') != std::string_view::npos) return fail("internal DTD subsets are not allowed");
                i_ = end + 1;
                allow_doctype = false;
            } else {
                return true;
            }
        }
    }

    bool read_element() {  // at '<' of a start tag
        std::vector<std::string> stack;
        for (;;) {
            if (at_end()) return fail("unexpected end: unclosed <" + (stack.empty() ? std::string("?") : stack.back()) + ">");
            if (s_[i_] == '<') {
                if (starts("<!--")) {
                    if (!read_comment()) return false;
                } else if (starts("<![CDATA[")) {
                    const size_t end = s_.find("]]>", i_);
                    if (end == std::string_view::npos) return fail("unterminated CDATA");
                    i_ = end + 3;
                } else if (starts("<?")) {
                    if (!read_pi()) return false;
                } else if (starts("</")) {
                    i_ += 2;
                    std::string name;
                    if (!read_name(name)) return false;
                    skip_space();
                    if (at_end() || s_[i_] != '>') return fail("expected '>' closing </" + name);
                    ++i_;
                    if (stack.empty() || stack.back() != name) {
                        return fail("</" + name + "> does not close <" + (stack.empty() ? "" : stack.back()) + ">");
                    }
                    stack.pop_back();
                    if (stack.empty()) return true;
                } else if (starts("<!")) {
                    return fail("markup declaration inside an element");
                } else {
                    ++i_;
                    std::string name;
                    if (!read_name(name)) return false;
                    std::set<std::string> attrs;
                    for (;;) {
                        const bool spaced = !at_end() && is_space(s_[i_]);
                        skip_space();
                        if (at_end()) return fail("unterminated tag <" + name);
                        if (s_[i_] == '>' || starts("/>")) break;
                        if (!spaced) return fail("attributes of <" + name + "> must be separated by space");
                        std::string attr;
                        if (!read_name(attr)) return false;
                        if (!attrs.insert(attr).second) return fail("duplicate attribute " + attr + " on <" + name + ">");
                        skip_space();
                        if (at_end() || s_[i_] != '=') return fail("attribute " + attr + " without '=' (HTML shorthand?)");
                        ++i_;
                        skip_space();
                        if (at_end() || (s_[i_] != '"' && s_[i_] != '\'')) return fail("unquoted attribute " + attr);
                        const char quote = s_[i_++];
                        while (!at_end() && s_[i_] != quote) {
                            if (s_[i_] == '<') return fail("'<' in the value of " + attr);
                            if (s_[i_] == '&') {
                                if (!read_reference()) return false;
                            } else if (!read_char()) {
                                return false;
                            }
                        }
                        if (at_end()) return fail("unterminated value of " + attr);
                        ++i_;
                    }
                    if (starts("/>")) {
                        i_ += 2;
                        if (stack.empty()) return true;
                    } else {
                        ++i_;
                        stack.push_back(name);
                    }
                }
            } else if (s_[i_] == '&') {
                if (!read_reference()) return false;
            } else {
                if (starts("]]>")) return fail("']]>' in text");
                if (!read_char()) return false;
            }
        }
    }

    std::string run() {
        if (starts("\xEF\xBB\xBF")) i_ += 3;  // BOM
        if (!read_misc_prolog(true)) return error_;
        if (at_end() || s_[i_] != '<') {
            fail("expected the root element");
            return error_;
        }
        if (!read_element()) return error_;
        if (!read_misc_prolog(false)) return error_;
        if (!at_end()) fail("content after the root element");
        return error_;
    }
};

inline std::string xml_error(std::string_view doc) {
    return XmlChecker::check(doc);
}

}  // namespace jb_test
