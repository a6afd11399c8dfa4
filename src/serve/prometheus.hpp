#pragma once
// Reading a Prometheus text exposition (GET /metrics) into numbers, with how precisely each
// was printed: llama-server writes its counters through an ostream with 6 significant digits,
// so a counter of 1,234,567 arrives as "1.23457e+06" and a comparison must allow for that.

#include <map>
#include <string>

namespace jb::serve {

struct PromValue {
    double value = 0.0;
    double max_error = 0.0;  // half a unit in the last printed digit; 0 for a plain integer
};

// Samples by name (labels kept in the name: `x{a="b"}`); comments and malformed lines skipped.
std::map<std::string, PromValue> parse_prometheus(const std::string & text);

}  // namespace jb::serve
