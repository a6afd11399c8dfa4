#include "joulebench/table.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "joulebench/error.hpp"

namespace jb {

Table & Table::add_flag_column(std::string name, std::string header) {
    add_column(std::move(name), std::move(header), 0);
    columns.back().flag = true;
    return *this;
}

Table & Table::add_text_column(std::string name, std::string header) {
    add_column(std::move(name), std::move(header), 0);
    columns.back().right_align = false;
    return *this;
}

Table & Table::add_column(std::string name, std::string header, int precision) {
    Column c;
    c.header = header.empty() ? name : std::move(header);
    c.name = std::move(name);
    c.precision = precision;
    columns.push_back(std::move(c));
    return *this;
}

Table & Table::add_row(std::vector<Value> row) {
    if (row.size() != columns.size()) {
        throw std::logic_error(fmt::format("table '{}': row has {} values for {} columns", title, row.size(),
                                           columns.size()));
    }
    rows.push_back(std::move(row));
    return *this;
}

size_t Table::column_index(const std::string & name) const {
    for (size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].name == name) return i;
    }
    throw std::out_of_range("no column " + name);
}

Format parse_format(const std::string & s) {
    if (s == "table") return Format::table;
    if (s == "md") return Format::md;
    if (s == "csv") return Format::csv;
    if (s == "json") return Format::json;
    throw UsageError(fmt::format("unknown output format '{}' (expected table, md, csv or json)", s));
}

std::string format_cell(const Column & c, const Value & v) {
    if (c.flag && std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v) != 0 ? "yes" : "no";
    return format_value(v, c.precision);
}

std::string format_value(const Value & v, int precision) {
    struct Visitor {
        int precision;
        std::string operator()(std::monostate) const { return ""; }
        std::string operator()(const std::string & s) const { return s; }
        std::string operator()(int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const {
            if (std::isnan(d)) return "";
            return fmt::format("{:.{}f}", d, precision);
        }
    };
    return std::visit(Visitor{precision}, v);
}

static std::string csv_escape(const std::string & s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

static std::string md_escape(const std::string & s) {
    std::string out;
    for (char c : s) {
        if (c == '|') out += '\\';
        out += c == '\n' ? ' ' : c;
    }
    return out;
}

// Display width in code points, so that "±" and "→" do not break alignment.
static size_t display_width(const std::string & s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

static void print_text(std::ostream & os, const Table & t, bool markdown) {
    std::vector<std::vector<std::string>> cells;
    std::vector<size_t> width(t.columns.size());
    for (size_t c = 0; c < t.columns.size(); ++c) width[c] = display_width(t.columns[c].header);
    for (const auto & row : t.rows) {
        auto & out = cells.emplace_back();
        for (size_t c = 0; c < row.size(); ++c) {
            std::string s = format_cell(t.columns[c], row[c]);
            if (markdown) s = md_escape(s);
            width[c] = std::max(width[c], display_width(s));
            out.push_back(std::move(s));
        }
    }
    auto pad = [&](const std::string & s, size_t c) {
        std::string fill(width[c] - display_width(s), ' ');
        return t.columns[c].right_align ? fill + s : s + fill;
    };
    const char * sep = markdown ? " | " : "  ";
    if (!t.title.empty() && !markdown) os << t.title << "\n";
    if (markdown) os << "| ";
    for (size_t c = 0; c < t.columns.size(); ++c) os << (c ? sep : "") << pad(t.columns[c].header, c);
    os << (markdown ? " |\n" : "\n");
    if (markdown) {
        os << "|";
        for (size_t c = 0; c < t.columns.size(); ++c) {
            // Written piecewise: GCC 12 warns (-Wrestrict, a false positive) on ":" + std::string(n, '-').
            const std::string dashes(width[c] + 1, '-');
            if (t.columns[c].right_align) {
                os << dashes << ":|";
            } else {
                os << ":" << dashes << "|";
            }
        }
        os << "\n";
    } else {
        size_t total = 0;
        for (size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
        for (size_t i = 0; i < total; ++i) os << "\u2500";
        os << "\n";
    }
    for (const auto & row : cells) {
        if (markdown) os << "| ";
        for (size_t c = 0; c < row.size(); ++c) os << (c ? sep : "") << pad(row[c], c);
        os << (markdown ? " |\n" : "\n");
    }
    for (const auto & n : t.notes) os << (markdown ? "\n" : "") << "Note: " << n << "\n";
}

static void print_csv(std::ostream & os, const Table & t) {
    for (size_t c = 0; c < t.columns.size(); ++c) os << (c ? "," : "") << csv_escape(t.columns[c].name);
    os << "\n";
    for (const auto & row : t.rows) {
        for (size_t c = 0; c < row.size(); ++c) {
            // CSV keeps full precision: it feeds other tools, not eyes.
            std::string s = std::holds_alternative<double>(row[c]) ? fmt::format("{}", std::get<double>(row[c]))
                                                                   : format_value(row[c], 0);
            if (std::holds_alternative<double>(row[c]) && std::isnan(std::get<double>(row[c]))) s.clear();
            os << (c ? "," : "") << csv_escape(s);
        }
        os << "\n";
    }
}

static nlohmann::json to_json(const Value & v) {
    if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
    if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
    if (std::holds_alternative<double>(v)) {
        double d = std::get<double>(v);
        return std::isfinite(d) ? nlohmann::json(d) : nlohmann::json(nullptr);
    }
    return nullptr;
}

static void print_json(std::ostream & os, const Table & t) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto & row : t.rows) {
        nlohmann::json r = nlohmann::json::object();
        for (size_t c = 0; c < row.size(); ++c) r[t.columns[c].name] = to_json(row[c]);
        rows.push_back(std::move(r));
    }
    nlohmann::json doc = {{"title", t.title}, {"rows", rows}, {"notes", t.notes}};
    os << doc.dump(2) << "\n";
}

void print_table(std::ostream & os, const Table & t, Format f) {
    switch (f) {
        case Format::table: print_text(os, t, false); break;
        case Format::md: print_text(os, t, true); break;
        case Format::csv: print_csv(os, t); break;
        case Format::json: print_json(os, t); break;
    }
}

std::string render_table(const Table & t, Format f) {
    std::ostringstream ss;
    print_table(ss, t, f);
    return ss.str();
}

}  // namespace jb
