#include "tasks/csv.hpp"

#include "tasks/data_files.hpp"
#include "joulebench/error.hpp"

namespace jb::tasks {

std::vector<CsvRecord> parse_csv(std::string_view text, const std::string & file) {
    std::vector<CsvRecord> records;
    CsvRecord rec;
    std::string field;
    long line = 1;
    size_t i = 0;
    const size_t n = text.size();

    // The states of Python's _csv.c reader that the default dialect reaches.
    enum class State { start_record, start_field, in_field, in_quoted, quote_in_quoted };
    State state = State::start_record;
    long quote_line = 0;  // where the open quoted field began, for the error message

    auto end_field = [&] {
        rec.fields.push_back(std::move(field));
        field.clear();
    };
    auto end_record = [&] {
        end_field();
        records.push_back(std::move(rec));
        rec = CsvRecord{};
    };

    while (i < n) {
        const char c = text[i];
        switch (state) {
            case State::start_record:
                if (c == '\n' || c == '\r') {  // blank line: csv.reader yields [], we skip it
                    if (c == '\n') ++line;
                    ++i;
                    continue;
                }
                rec.line = line;
                state = State::start_field;
                continue;  // same character, now as the start of a field
            case State::start_field:
                if (c == '"') {
                    quote_line = line;
                    state = State::in_quoted;
                } else if (c == ',') {
                    end_field();
                } else if (c == '\n' || c == '\r') {
                    end_record();
                    state = State::start_record;
                    continue;  // start_record consumes the line end
                } else {
                    field.push_back(c);
                    state = State::in_field;
                }
                break;
            case State::in_field:
                if (c == ',') {
                    end_field();
                    state = State::start_field;
                } else if (c == '\n' || c == '\r') {
                    end_record();
                    state = State::start_record;
                    continue;
                } else {
                    field.push_back(c);  // a quote inside an unquoted field is literal
                }
                break;
            case State::in_quoted:
                if (c == '"') {
                    state = State::quote_in_quoted;
                } else {
                    if (c == '\n') ++line;
                    field.push_back(c);
                }
                break;
            case State::quote_in_quoted:
                if (c == '"') {  // "" inside quotes is one quote
                    field.push_back('"');
                    state = State::in_quoted;
                } else if (c == ',') {
                    end_field();
                    state = State::start_field;
                } else if (c == '\n' || c == '\r') {
                    end_record();
                    state = State::start_record;
                    continue;
                } else {  // "ab"c: Python's non-strict reader keeps going as an unquoted field
                    field.push_back(c);
                    state = State::in_field;
                }
                break;
        }
        ++i;
    }

    switch (state) {
        case State::start_record:
            break;
        case State::in_quoted:
            throw InputError(file, quote_line, "", "quoted field is never closed (a missing '\"')");
        default:
            end_record();
            break;
    }
    return records;
}

std::vector<CsvRecord> read_csv_file(const std::string & path) {
    return parse_csv(read_text_file(path), path);
}

}  // namespace jb::tasks
