#include "serve/prometheus.hpp"

#include <cmath>
#include <cstdlib>

namespace jb::serve {

namespace {

// Half a unit of the last digit printed in `num` ("1.23457e+06" -> 5, "12.5" -> 0.05, "42" -> 0).
double printed_error(const std::string & num) {
    const size_t e = num.find_first_of("eE");
    const std::string mantissa = num.substr(0, e);
    const int exponent = e == std::string::npos ? 0 : std::atoi(num.c_str() + e + 1);
    const size_t dot = mantissa.find('.');
    const int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
    if (decimals == 0 && exponent <= 0) return 0.0;
    return 0.5 * std::pow(10.0, exponent - decimals);
}

}  // namespace

std::map<std::string, PromValue> parse_prometheus(const std::string & text) {
    std::map<std::string, PromValue> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        // name or name{labels}, then the value, then an optional timestamp.
        size_t name_end = line.find_first_of(" {");
        if (name_end == std::string::npos) continue;
        if (line[name_end] == '{') {
            const size_t close = line.find('}', name_end);
            if (close == std::string::npos) continue;
            name_end = close + 1;
        }
        const std::string name = line.substr(0, name_end);
        size_t v = line.find_first_not_of(' ', name_end);
        if (v == std::string::npos) continue;
        const size_t v_end = line.find(' ', v);
        const std::string num = line.substr(v, v_end == std::string::npos ? std::string::npos : v_end - v);
        char * end = nullptr;
        const double value = std::strtod(num.c_str(), &end);
        if (end == num.c_str() || *end != '\0') continue;
        out[name] = PromValue{value, printed_error(num)};
    }
    return out;
}

}  // namespace jb::serve
