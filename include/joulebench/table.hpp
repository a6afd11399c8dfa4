#pragma once
// One record schema drives every output (llama-bench's `struct test` pattern): a Table
// lists its columns once, and the terminal, Markdown, CSV and JSON printers all read it.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace jb {

// A cell: empty (not measured), text, integer or real.
using Value = std::variant<std::monostate, std::string, int64_t, double>;

struct Column {
    std::string name;       // machine name: snake_case with unit suffix (energy_j, power_w)
    std::string header;     // human header for table/md ("Energy (J)"); defaults to name
    int precision = 3;      // digits after the point for reals in table/md/csv
    bool right_align = true;
    bool flag = false;      // 0/1: "yes"/"no" where people read (table, md, HTML); 0/1 in CSV and JSON
};

struct Table {
    std::string title;                  // printed above the terminal table; JSON key "title"
    std::vector<Column> columns;
    std::vector<std::vector<Value>> rows;
    std::vector<std::string> notes;     // footnotes (estimated values, warnings)

    Table & add_column(std::string name, std::string header = "", int precision = 3);
    Table & add_flag_column(std::string name, std::string header = "");  // a 0/1 column (Column::flag)
    Table & add_text_column(std::string name, std::string header = "");  // left-aligned, for text cells
    // Appends a row; throws std::logic_error if its size differs from the column count.
    Table & add_row(std::vector<Value> row);
    size_t column_index(const std::string & name) const;  // throws std::out_of_range
};

enum class Format { table, md, csv, json };

// Parses "table", "md", "csv", "json"; throws jb::UsageError naming the accepted formats.
Format parse_format(const std::string & s);
std::string format_value(const Value & v, int precision);
// A cell as people read it: format_value, and a flag column's 1/0 as "yes"/"no".
std::string format_cell(const Column & c, const Value & v);

void print_table(std::ostream & os, const Table & t, Format f);
std::string render_table(const Table & t, Format f);

}  // namespace jb
