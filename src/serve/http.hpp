#pragma once
// The little HTTP/1.1 that serving needs, on plain sockets and loopback only: an incremental
// response parser (status line, headers, a body delimited by Content-Length, chunked
// transfer coding or the end of the connection), a blocking request with a deadline for the
// control endpoints (/health, /metrics, /tokenize, /props), and the socket calls the load
// loop makes. Why not cpp-httplib: its client delivers a stream through a callback on a
// blocking thread per request and can only be interrupted by closing the socket from
// elsewhere; one event loop over non-blocking sockets times every token, enforces every
// deadline and stops on request with one thread whatever the concurrency (docs/serve.md).

#include <string>
#include <string_view>

namespace jb::serve {

// "127.0.0.1" (any 127.x.y.z), "::1" and "localhost": the only hosts serve talks to.
bool is_loopback_host(const std::string & host);
// Throws jb::UsageError naming `what` unless host is a loopback host.
void require_loopback(const std::string & host, const std::string & what);

class HttpResponseParser {
public:
    enum class State { status_line, headers, body, done, failed };

    // Parses `bytes`; decoded body bytes are appended to body_out. Returns false once the
    // response is malformed (error() says how; later calls do nothing).
    bool feed(std::string_view bytes, std::string & body_out);
    // The connection ended: completes a body that runs to the end of the connection; false
    // (with error()) when the response was cut short.
    bool finish_at_eof();

    State state() const { return state_; }
    bool headers_complete() const { return state_ == State::body || state_ == State::done; }
    bool done() const { return state_ == State::done; }
    int status() const { return status_; }
    const std::string & reason() const { return reason_; }
    const std::string & content_type() const { return content_type_; }
    const std::string & error() const { return error_; }

private:
    enum class Body { none, length, chunked, until_close };
    enum class Chunk { size_line, data, data_end, trailer };
    bool fail(std::string message);
    bool take_line(std::string_view bytes, size_t & i, std::string & line, size_t limit, bool & complete);
    bool on_status_line(const std::string & line);
    bool on_header_line(const std::string & line);
    bool feed_body(std::string_view bytes, size_t & i, std::string & body_out);

    State state_ = State::status_line;
    Body body_ = Body::none;
    Chunk chunk_ = Chunk::size_line;
    int status_ = 0;
    std::string reason_;
    std::string content_type_;
    std::string line_;
    size_t header_bytes_ = 0;
    long long content_length_ = -1;
    unsigned long long remaining_ = 0;  // bytes left in the body (length) or the current chunk
    bool chunked_ = false;
    std::string error_;
};

struct HttpResult {
    int status = 0;     // 0 when no response came
    std::string body;   // decoded body
    std::string error;  // "" when a complete response came (whatever its status)

    bool ok() const { return error.empty() && status == 200; }
    // "HTTP 503: <body head>" or the error, for messages.
    std::string describe() const;
};

// One request on a new connection, finished within timeout_s (connecting included). Network
// failures (refused, reset, timed out, malformed) come back in HttpResult::error; never throws.
HttpResult http_request(const std::string & host, int port, const std::string & method, const std::string & path,
                        const std::string & body = "", double timeout_s = 5.0);

// The bytes of a request with a JSON body (empty body: no Content-Type), "Connection: close".
std::string format_request(const std::string & method, const std::string & host, int port, const std::string & path,
                           const std::string & body);

// Starts a non-blocking TCP connection to a loopback host (TCP_NODELAY set). Returns the
// socket, or -1 with `error` set. A connection in progress completes or fails later (poll
// for writability, then connect_result()).
int connect_nonblocking(const std::string & host, int port, std::string & error);
// 0 once connected, else the errno of the failed connection.
int connect_result(int fd);

}  // namespace jb::serve
