#pragma once
// A small RFC-4180 CSV reader (none of our Debian libraries parses CSV). It reads MMLU's files
// as Python's csv.reader (default dialect) does, since that is what built the harness's data:
// comma-separated; a field in double quotes may hold commas, newlines and "" (one quote);
// records end at LF or CRLF outside quotes; bytes inside fields, CR included, are kept as they
// are; a blank line is skipped; the last record may lack its newline.

#include <string>
#include <string_view>
#include <vector>

namespace jb::tasks {

struct CsvRecord {
    long line = 0;  // 1-based line on which the record starts
    std::vector<std::string> fields;
};

// Throws jb::InputError(file, line, ...) for a quoted field that never closes.
std::vector<CsvRecord> parse_csv(std::string_view text, const std::string & file);

// Reads and parses a file; throws jb::InputError if it cannot be read.
std::vector<CsvRecord> read_csv_file(const std::string & path);

}  // namespace jb::tasks
