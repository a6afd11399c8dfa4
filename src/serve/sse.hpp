#pragma once
// An incremental Server-Sent Events parser (the WHATWG "event stream" format): bytes go in as
// they arrive, in pieces of any size (an event, a line, even a CRLF may be split across
// reads); complete events come out. Lines end in LF, CRLF or CR; `data:` lines of one event
// are joined with "\n"; comment lines (":" first, llama-server's keep-alive pings) are counted
// and skipped; a blank line ends an event.

#include <string>
#include <string_view>
#include <vector>

namespace jb::serve {

class SseParser {
public:
    // An event or line longer than this is a protocol error (a stream that never ends a line
    // must not grow memory without bound).
    explicit SseParser(size_t max_event_bytes = 4 << 20) : max_event_bytes_(max_event_bytes) {}

    // Appends the data of every event completed by `bytes` to `events` (an event without
    // data lines is not dispatched, as the standard says). Returns false once the stream is
    // malformed; error() then says why and later calls do nothing.
    bool feed(std::string_view bytes, std::vector<std::string> & events);

    const std::string & error() const { return error_; }
    long comments() const { return comments_; }
    // True while a line or an event has begun but not ended (the stream stopped mid-event).
    bool mid_event() const { return !line_.empty() || has_data_; }

private:
    bool end_line(std::vector<std::string> & events);

    size_t max_event_bytes_;
    std::string line_;
    std::string data_;
    bool has_data_ = false;
    bool after_cr_ = false;  // the last byte was a CR: a following LF belongs to the same line end
    long comments_ = 0;
    std::string error_;
};

}  // namespace jb::serve
