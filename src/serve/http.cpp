#include "serve/http.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::serve {

namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;
constexpr size_t kMaxChunkLine = 1024;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

bool is_loopback_host(const std::string & host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    in_addr a{};
    if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
    return false;
}

void require_loopback(const std::string & host, const std::string & what) {
    if (!is_loopback_host(host)) {
        throw UsageError(
            fmt::format("{}: host '{}' is not a loopback address; serve talks to this host only "
                        "(127.0.0.1, ::1 or localhost)",
                        what, host));
    }
}

// ---- HttpResponseParser

bool HttpResponseParser::fail(std::string message) {
    state_ = State::failed;
    error_ = std::move(message);
    return false;
}

// Appends bytes up to and including the next LF to `line` (without the CR LF); complete is
// set when the line ended.
bool HttpResponseParser::take_line(std::string_view bytes, size_t & i, std::string & line, size_t limit,
                                   bool & complete) {
    complete = false;
    const size_t nl = bytes.find('\n', i);
    const size_t end = nl == std::string_view::npos ? bytes.size() : nl;
    line.append(bytes.substr(i, end - i));
    i = nl == std::string_view::npos ? bytes.size() : nl + 1;
    if (line.size() > limit) return fail(fmt::format("malformed HTTP response: a line longer than {} bytes", limit));
    if (nl != std::string_view::npos) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        complete = true;
    }
    return true;
}

bool HttpResponseParser::on_status_line(const std::string & line) {
    // "HTTP/1.1 200 OK"
    if (line.rfind("HTTP/", 0) != 0) {
        return fail(fmt::format("malformed HTTP response: status line '{}'", line.substr(0, 60)));
    }
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp + 4 > line.size()) {
        return fail(fmt::format("malformed HTTP response: status line '{}'", line.substr(0, 60)));
    }
    int code = 0;
    for (size_t k = sp + 1; k < sp + 4; ++k) {
        if (line[k] < '0' || line[k] > '9') {
            return fail(fmt::format("malformed HTTP response: status line '{}'", line.substr(0, 60)));
        }
        code = code * 10 + (line[k] - '0');
    }
    status_ = code;
    reason_ = sp + 5 <= line.size() ? line.substr(sp + 5) : "";
    state_ = State::headers;
    return true;
}

bool HttpResponseParser::on_header_line(const std::string & line) {
    if (line.empty()) {
        if (status_ >= 100 && status_ < 200) {  // an interim response: the real one follows
            state_ = State::status_line;
            return true;
        }
        if (status_ == 204 || status_ == 304) {
            body_ = Body::none;
        } else if (chunked_) {
            body_ = Body::chunked;
        } else if (content_length_ >= 0) {
            body_ = Body::length;
            remaining_ = static_cast<unsigned long long>(content_length_);
        } else {
            body_ = Body::until_close;
        }
        state_ = (body_ == Body::none || (body_ == Body::length && remaining_ == 0)) ? State::done : State::body;
        return true;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
        return fail(fmt::format("malformed HTTP response: header line '{}'", line.substr(0, 60)));
    }
    const std::string name = lower(trim(std::string_view(line).substr(0, colon)));
    const std::string_view value = trim(std::string_view(line).substr(colon + 1));
    if (name == "content-length") {
        long long n = 0;
        if (value.empty()) return fail("malformed HTTP response: empty Content-Length");
        for (char c : value) {
            if (c < '0' || c > '9' || n > (1LL << 50)) {
                return fail(fmt::format("malformed HTTP response: Content-Length '{}'", value));
            }
            n = n * 10 + (c - '0');
        }
        content_length_ = n;
    } else if (name == "transfer-encoding") {
        chunked_ = lower(value).find("chunked") != std::string::npos;
    } else if (name == "content-type") {
        content_type_ = std::string(value);
    }
    return true;
}

bool HttpResponseParser::feed_body(std::string_view bytes, size_t & i, std::string & body_out) {
    if (body_ == Body::until_close) {
        body_out.append(bytes.substr(i));
        i = bytes.size();
        return true;
    }
    if (body_ == Body::length) {
        const size_t n = static_cast<size_t>(std::min<unsigned long long>(remaining_, bytes.size() - i));
        body_out.append(bytes.substr(i, n));
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::done;
        return true;
    }
    // Chunked: size line (hex, optional ";ext"), data, CRLF; a 0 size ends it, trailers follow.
    while (i < bytes.size() && state_ == State::body) {
        bool complete = false;
        switch (chunk_) {
            case Chunk::size_line: {
                if (!take_line(bytes, i, line_, kMaxChunkLine, complete)) return false;
                if (!complete) break;
                std::string_view hex = trim(std::string_view(line_).substr(0, line_.find(';')));
                if (hex.empty() || hex.size() > 15) {
                    return fail(fmt::format("malformed HTTP response: chunk size line '{}'", line_.substr(0, 40)));
                }
                unsigned long long size = 0;
                for (char c : hex) {
                    int d = (c >= '0' && c <= '9')   ? c - '0'
                            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                     : -1;
                    if (d < 0) {
                        return fail(fmt::format("malformed HTTP response: chunk size line '{}'", line_.substr(0, 40)));
                    }
                    size = size * 16 + static_cast<unsigned long long>(d);
                }
                line_.clear();
                remaining_ = size;
                chunk_ = size == 0 ? Chunk::trailer : Chunk::data;
                break;
            }
            case Chunk::data: {
                const size_t n = static_cast<size_t>(std::min<unsigned long long>(remaining_, bytes.size() - i));
                body_out.append(bytes.substr(i, n));
                i += n;
                remaining_ -= n;
                if (remaining_ == 0) chunk_ = Chunk::data_end;
                break;
            }
            case Chunk::data_end: {
                if (!take_line(bytes, i, line_, kMaxChunkLine, complete)) return false;
                if (!complete) break;
                if (!line_.empty()) return fail("malformed HTTP response: chunk data longer than its size");
                chunk_ = Chunk::size_line;
                break;
            }
            case Chunk::trailer: {
                if (!take_line(bytes, i, line_, kMaxHeaderBytes, complete)) return false;
                if (!complete) break;
                if (line_.empty()) state_ = State::done;
                line_.clear();
                break;
            }
        }
    }
    return true;
}

bool HttpResponseParser::feed(std::string_view bytes, std::string & body_out) {
    if (state_ == State::failed) return false;
    size_t i = 0;
    while (i < bytes.size()) {
        if (state_ == State::done) return true;  // bytes after the response: ignored (we close)
        if (state_ == State::body) {
            if (!feed_body(bytes, i, body_out)) return false;
            continue;
        }
        bool complete = false;
        const size_t before = i;
        if (!take_line(bytes, i, line_, kMaxHeaderBytes, complete)) return false;
        header_bytes_ += i - before;
        if (header_bytes_ > kMaxHeaderBytes) {
            return fail(fmt::format("malformed HTTP response: headers longer than {} bytes", kMaxHeaderBytes));
        }
        if (!complete) continue;
        std::string line = std::move(line_);
        line_.clear();
        if (!(state_ == State::status_line ? on_status_line(line) : on_header_line(line))) return false;
    }
    return true;
}

bool HttpResponseParser::finish_at_eof() {
    if (state_ == State::done) return true;
    if (state_ == State::failed) return false;
    if (state_ == State::body && body_ == Body::until_close) {
        state_ = State::done;
        return true;
    }
    if (state_ == State::status_line && status_ == 0 && line_.empty()) {
        return fail("the connection closed before any response");
    }
    return fail(state_ == State::body ? "the connection closed in the middle of the response body"
                                      : "the connection closed in the middle of the response headers");
}

// ---- requests

std::string HttpResult::describe() const {
    if (!error.empty()) return error;
    std::string head = body.substr(0, 200);
    while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) head.pop_back();
    return fmt::format("HTTP {}{}{}", status, head.empty() ? "" : ": ", head);
}

std::string format_request(const std::string & method, const std::string & host, int port, const std::string & path,
                           const std::string & body) {
    std::string host_header = host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
    std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: {}:{}\r\nAccept: */*\r\nConnection: close\r\n", method, path,
                                  host_header, port);
    if (!body.empty() || method == "POST") {
        req += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
    }
    req += "\r\n";
    req += body;
    return req;
}

int connect_nonblocking(const std::string & host, int port, std::string & error) {
    if (!is_loopback_host(host)) {
        error = fmt::format("host '{}' is not a loopback address", host);
        return -1;
    }
    if (port <= 0 || port > 65535) {
        error = fmt::format("port {} is out of range", port);
        return -1;
    }
    const bool v6 = host == "::1" || host == "[::1]";
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = fmt::format("socket(): {}", std::strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = 0;
    if (v6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(static_cast<uint16_t>(port));
        a.sin6_addr = in6addr_loopback;
        rc = ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        const std::string ip = host == "localhost" ? "127.0.0.1" : host;
        inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
        rc = ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
    }
    if (rc < 0 && errno != EINPROGRESS) {
        error = fmt::format("cannot connect to {}:{}: {}", host, port, std::strerror(errno));
        ::close(fd);
        return -1;
    }
    return fd;
}

int connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

HttpResult http_request(const std::string & host, int port, const std::string & method, const std::string & path,
                        const std::string & body, double timeout_s) {
    HttpResult result;
    const double deadline = now_s() + timeout_s;
    std::string error;
    int fd = connect_nonblocking(host, port, error);
    if (fd < 0) {
        result.error = error;
        return result;
    }
    const std::string request = format_request(method, host, port, path, body);
    size_t sent = 0;
    bool connected = false;
    HttpResponseParser parser;
    char buf[16384];
    auto finish = [&](std::string err) {
        ::close(fd);
        result.error = std::move(err);
        if (result.error.empty()) result.status = parser.status();
        return result;
    };
    while (true) {
        const double left = deadline - now_s();
        if (left <= 0) {
            return finish(
                fmt::format("{} {} on {}:{}: no complete response within {:g} s", method, path, host, port, timeout_s));
        }
        pollfd p{fd, static_cast<short>(sent < request.size() ? POLLOUT : POLLIN), 0};
        int n = ::poll(&p, 1, static_cast<int>(left * 1e3) + 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        if (!connected) {
            if (int e = connect_result(fd); e != 0) {
                return finish(fmt::format("cannot connect to {}:{}: {}", host, port, std::strerror(e)));
            }
            connected = true;
        }
        if (sent < request.size()) {
            ssize_t w = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                return finish(fmt::format("{} {} on {}:{}: send: {}", method, path, host, port, std::strerror(errno)));
            }
            sent += static_cast<size_t>(w);
            continue;
        }
        ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return finish(fmt::format("{} {} on {}:{}: {}", method, path, host, port, std::strerror(errno)));
        }
        if (r == 0) {
            if (!parser.finish_at_eof()) {
                return finish(fmt::format("{} {} on {}:{}: {}", method, path, host, port, parser.error()));
            }
            return finish("");
        }
        if (!parser.feed(std::string_view(buf, static_cast<size_t>(r)), result.body)) {
            return finish(fmt::format("{} {} on {}:{}: {}", method, path, host, port, parser.error()));
        }
        if (parser.done()) return finish("");
    }
}

}  // namespace jb::serve
