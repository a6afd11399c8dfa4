#include "tasks/data_files.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "joulebench/error.hpp"
#include "util/paths.hpp"

namespace fs = std::filesystem;

namespace jb::tasks {

namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 1,
// column 5: "; the reader wants only the reason (we name the file's own line ourselves).
std::string short_json_error(const std::string & what) {
    std::string s = what;
    if (s.rfind("[json.exception.", 0) == 0) {
        const size_t close = s.find("] ");
        if (close != std::string::npos) s.erase(0, close + 2);
    }
    const size_t colon = s.find(": ");
    if (s.rfind("parse error", 0) == 0 && colon != std::string::npos) s.erase(0, colon + 2);
    return s;
}

long line_of_offset(std::string_view text, size_t offset) {
    offset = std::min(offset, text.size());
    return 1 + static_cast<long>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
}

// Start offsets of the elements of a top-level JSON array, found by tracking strings and
// nesting (nlohmann's DOM keeps no positions). Only called on text that already parsed.
std::vector<size_t> top_level_element_offsets(std::string_view text) {
    std::vector<size_t> offsets;
    int depth = 0;
    bool in_string = false;
    bool expect_element = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        if (depth == 1 && expect_element && c != ']') {
            offsets.push_back(i);
            expect_element = false;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            ++depth;
            if (depth == 1 && c == '[') expect_element = true;
        } else if (c == ']' || c == '}') {
            --depth;
        } else if (c == ',' && depth == 1) {
            expect_element = true;
        }
    }
    return offsets;
}

std::string type_word(const ojson & v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number()) return "a number";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "an array";
    return "an object";
}

}  // namespace

JsonWhere JsonWhere::at(const std::string & key) const {
    return JsonWhere{file, line, path.empty() ? key : path + "." + key};
}

JsonWhere JsonWhere::at(size_t index) const {
    return JsonWhere{file, line, path + "[" + std::to_string(index) + "]"};
}

std::string read_text_file(const std::string & path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw InputError(path, "is a directory, expected a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path, "cannot open file");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw InputError(path, "read error");
    return ss.str();
}

bool file_exists(const std::string & path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
}

bool dir_exists(const std::string & path) {
    std::error_code ec;
    return fs::is_directory(path, ec);
}

std::vector<std::string> list_files(const std::string & dir, const std::string & suffix) {
    std::vector<std::string> names;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return names;
    for (const auto & entry : fs::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file(ec)) continue;
        const std::string name = entry.path().filename().string();
        if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            names.push_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string join_path(const std::string & a, const std::string & b) {
    if (a.empty()) return b;
    return (fs::path(a) / b).string();
}

std::vector<JsonLine> read_jsonl(const std::string & path) {
    const std::string text = read_text_file(path);
    std::vector<JsonLine> out;
    long line = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        ++line;
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view s(text.data() + pos, end - pos);
        pos = end + 1;
        if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
        if (s.find_first_not_of(" \t") == std::string_view::npos) continue;
        try {
            out.push_back(JsonLine{line, ojson::parse(s)});
        } catch (const nlohmann::json::exception & e) {
            throw InputError(path, line, "", "invalid JSON: " + short_json_error(e.what()));
        }
    }
    return out;
}

ojson read_json(const std::string & path, std::vector<long> * element_lines) {
    const std::string text = read_text_file(path);
    ojson doc;
    try {
        doc = ojson::parse(text);
    } catch (const nlohmann::json::parse_error & e) {
        throw InputError(path, line_of_offset(text, e.byte > 0 ? e.byte - 1 : 0), "",
                         "invalid JSON: " + short_json_error(e.what()));
    } catch (const nlohmann::json::exception & e) {
        throw InputError(path, "invalid JSON: " + short_json_error(e.what()));
    }
    if (element_lines) {
        element_lines->clear();
        for (const size_t off : top_level_element_offsets(text)) element_lines->push_back(line_of_offset(text, off));
    }
    return doc;
}

const ojson * find_field(const ojson & obj, const std::string & key, const JsonWhere & w) {
    if (!obj.is_object()) throw InputError(w.file, w.line, w.path, "expected an object, found " + type_word(obj));
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

const ojson & get_field(const ojson & obj, const std::string & key, const JsonWhere & w) {
    const ojson * v = find_field(obj, key, w);
    if (!v) throw InputError(w.file, w.line, w.at(key).path, "missing");
    return *v;
}

std::string as_string(const ojson & v, const JsonWhere & w) {
    if (!v.is_string()) throw InputError(w.file, w.line, w.path, "expected a string, found " + type_word(v));
    return v.get<std::string>();
}

std::string get_string(const ojson & obj, const std::string & key, const JsonWhere & w) {
    return as_string(get_field(obj, key, w), w.at(key));
}

long long get_integer(const ojson & obj, const std::string & key, const JsonWhere & w) {
    const ojson & v = get_field(obj, key, w);
    if (v.is_number_integer()) return v.get<long long>();
    if (v.is_string()) {  // HellaSwag's label is "3" in some copies
        const std::string s = v.get<std::string>();
        try {
            size_t used = 0;
            const long long x = std::stoll(s, &used);
            if (used == s.size()) return x;
        } catch (const std::exception &) {
        }
    }
    throw InputError(w.file, w.line, w.at(key).path, "expected an integer, found " + type_word(v));
}

const ojson & get_array(const ojson & obj, const std::string & key, const JsonWhere & w) {
    const ojson & v = get_field(obj, key, w);
    if (!v.is_array()) throw InputError(w.file, w.line, w.at(key).path, "expected an array, found " + type_word(v));
    return v;
}

void throw_missing_data(const std::string & data_dir, const std::string & what) {
    // Only folders that exist are suggested: the samples shipped with joulebench, and the full
    // sets where JOULEBENCH_DATA_DIR or a `shared/datasets` beside the source tree holds them.
    std::string hint;
    const std::string samples = fs::absolute(shipped_path("data/samples")).lexically_normal().string();
    if (dir_exists(samples)) hint += "; small samples are in " + samples;
    std::string full;
    if (const char * env = std::getenv("JOULEBENCH_DATA_DIR"); env && *env && dir_exists(env)) {
        full = fs::path(env).lexically_normal().string();
    } else {
        const fs::path beside = (fs::path(JOULEBENCH_SOURCE_DIR) / ".." / "shared" / "datasets").lexically_normal();
        if (dir_exists(beside.string())) full = beside.string();
    }
    hint += full.empty() ? "; docs/tasks.md says where to get the full data sets and their layout"
                         : "; the full data sets are in " + full + " (see docs/tasks.md for the layout)";
    throw InputError("--data-dir " + (data_dir.empty() ? std::string("(not set)") : data_dir),
                     "no " + what + " found" + hint);
}

}  // namespace jb::tasks
