#pragma once
// Typed errors thrown where bad input enters; a program catches jb::Error once (the CLI does so in
// main(), prints the message and exits non-zero). Messages name the file, line and field to fix.

#include <stdexcept>
#include <string>

namespace jb {

// Any error a user can act on (bad file, bad value, missing data).
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Bad command-line usage: main() exits 2, like CLI11's own parse errors.
struct UsageError : Error {
    using Error::Error;
};

// A data or model file that cannot be used: "<file>:<line>: <field>: <what>".
struct InputError : Error {
    InputError(const std::string & file, long line, const std::string & field, const std::string & what);
    InputError(const std::string & file, const std::string & what);
};

// A hardware or engine failure during a measurement (the sweep records it and goes on).
struct RuntimeFailure : Error {
    using Error::Error;
};

}  // namespace jb
