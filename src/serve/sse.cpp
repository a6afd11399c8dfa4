#include "serve/sse.hpp"

#include <fmt/format.h>

namespace jb::serve {

bool SseParser::end_line(std::vector<std::string> & events) {
    if (line_.empty()) {
        if (has_data_) events.push_back(std::move(data_));
        data_.clear();
        has_data_ = false;
        return true;
    }
    if (line_[0] == ':') {
        ++comments_;
        line_.clear();
        return true;
    }
    std::string_view line(line_);
    const size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    if (field == "data") {
        if (has_data_) data_ += '\n';
        data_.append(value);
        has_data_ = true;
        if (data_.size() > max_event_bytes_) {
            error_ = fmt::format("malformed SSE: an event longer than {} bytes", max_event_bytes_);
            return false;
        }
    }
    // "event", "id", "retry" and unknown fields: the standard ignores them for our purpose.
    line_.clear();
    return true;
}

bool SseParser::feed(std::string_view bytes, std::vector<std::string> & events) {
    if (!error_.empty()) return false;
    size_t i = 0;
    while (i < bytes.size()) {
        const char c = bytes[i];
        if (after_cr_) {
            after_cr_ = false;
            if (c == '\n') {
                ++i;
                continue;
            }
        }
        if (c == '\n' || c == '\r') {
            after_cr_ = c == '\r';
            if (!end_line(events)) return false;
            ++i;
            continue;
        }
        // Copy the run of ordinary bytes up to the next line end in one go.
        size_t j = i;
        while (j < bytes.size() && bytes[j] != '\n' && bytes[j] != '\r') ++j;
        line_.append(bytes.substr(i, j - i));
        if (line_.size() > max_event_bytes_) {
            error_ = fmt::format("malformed SSE: a line longer than {} bytes", max_event_bytes_);
            return false;
        }
        i = j;
    }
    return true;
}

}  // namespace jb::serve
