#pragma once
// Reading the data files: whole files, JSONL, JSON with line numbers, typed field access that
// fails with one jb::InputError naming file, line and field, and the "no data here" message.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace jb::tasks {

// Keys keep file order: TruthfulQA's answer dicts are ordered (true answers first) and
// nlohmann::json would sort them.
using ojson = nlohmann::ordered_json;

// Where a JSON value came from, for error messages.
struct JsonWhere {
    std::string file;
    long line = 0;
    std::string path;  // field path of the value, "" for the record itself ("question.choices[2]")

    JsonWhere at(const std::string & key) const;
    JsonWhere at(size_t index) const;
};

// Whole file as bytes; throws jb::InputError if it cannot be read.
std::string read_text_file(const std::string & path);

bool file_exists(const std::string & path);
bool dir_exists(const std::string & path);
// Regular files in dir whose names end with suffix, sorted by name; empty if dir is missing.
std::vector<std::string> list_files(const std::string & dir, const std::string & suffix);
std::string join_path(const std::string & a, const std::string & b);

struct JsonLine {
    long line = 0;
    ojson value;
};

// One JSON value per non-blank line; throws jb::InputError(file, line, "", "invalid JSON: ...").
std::vector<JsonLine> read_jsonl(const std::string & path);

// A JSON document; parse errors name the line. `element_lines`, if given, receives the line
// on which each element of a top-level array starts (for messages about one element).
ojson read_json(const std::string & path, std::vector<long> * element_lines = nullptr);

// Typed access; each throws jb::InputError(file, line, path, "missing" / "expected a string" ...).
const ojson & get_field(const ojson & obj, const std::string & key, const JsonWhere & w);
const ojson * find_field(const ojson & obj, const std::string & key, const JsonWhere & w);  // null if absent
std::string get_string(const ojson & obj, const std::string & key, const JsonWhere & w);
long long get_integer(const ojson & obj, const std::string & key, const JsonWhere & w);  // also "3" strings
const ojson & get_array(const ojson & obj, const std::string & key, const JsonWhere & w);
std::string as_string(const ojson & v, const JsonWhere & w);

// jb::InputError for a missing data set: names the option and what was looked for, and suggests
// only folders that exist: the shipped samples, and the full sets ($JOULEBENCH_DATA_DIR, else
// shared/datasets beside the source tree), else docs/tasks.md.
[[noreturn]] void throw_missing_data(const std::string & data_dir, const std::string & what);

}  // namespace jb::tasks
