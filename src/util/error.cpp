#include "joulebench/error.hpp"

#include <fmt/format.h>

namespace jb {

static std::string input_message(const std::string & file, long line, const std::string & field,
                                 const std::string & what) {
    std::string loc = line > 0 ? fmt::format("{}:{}", file, line) : file;
    return field.empty() ? fmt::format("{}: {}", loc, what) : fmt::format("{}: field '{}': {}", loc, field, what);
}

InputError::InputError(const std::string & file, long line, const std::string & field, const std::string & what)
    : Error(input_message(file, line, field, what)) {}

InputError::InputError(const std::string & file, const std::string & what) : Error(input_message(file, 0, "", what)) {}

}  // namespace jb
