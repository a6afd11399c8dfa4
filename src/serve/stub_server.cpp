#include "serve/stub_server.hpp"

#include <arpa/inet.h>
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

namespace jb::serve {

using nlohmann::json;

StubServer::StubServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = 0;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0 ||
        ::listen(listen_fd_, 512) < 0) {
        int e = errno;
        if (listen_fd_ >= 0) ::close(listen_fd_);
        throw RuntimeFailure(fmt::format("stub server: cannot listen on 127.0.0.1: {}", std::strerror(e)));
    }
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

StubServer::~StubServer() {
    stop();
}

void StubServer::stop() {
    if (stopping_.exchange(true)) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        wake_.notify_all();
    }
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<Worker> workers;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        workers.swap(workers_);
    }
    for (auto & w : workers) w.thread.join();
    ::close(listen_fd_);
}

bool StubServer::pause(double s) {
    if (s <= 0) return !stopping_.load();
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::duration<double>(s), [this] { return stopping_.load(); });
    return !stopping_.load();
}

void StubServer::accept_loop() {
    while (!stopping_.load()) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        std::lock_guard<std::mutex> lock(mutex_);
        // Join the connections that have ended, so a long benchmark does not pile up threads.
        for (size_t i = 0; i < workers_.size();) {
            if (workers_[i].done->load()) {
                workers_[i].thread.join();
                workers_[i] = std::move(workers_.back());
                workers_.pop_back();
            } else {
                ++i;
            }
        }
        auto done = std::make_shared<std::atomic<bool>>(false);
        workers_.push_back({std::thread([this, fd, done] {
                                handle(fd);
                                ::close(fd);
                                done->store(true);
                            }),
                            done});
    }
}

namespace {

bool send_all(int fd, const std::string & data, size_t split) {
    size_t off = 0;
    while (off < data.size()) {
        size_t n = split > 0 ? std::min(split, data.size() - off) : data.size() - off;
        ssize_t w = ::send(fd, data.data() + off, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += static_cast<size_t>(w);
    }
    return true;
}

std::string chunk(const std::string & payload) {
    return fmt::format("{:x}\r\n{}\r\n", payload.size(), payload);
}

std::string token_event(bool chat, int i) {
    json j = chat ? json{{"choices", json::array({{{"index", 0},
                                                   {"delta", {{"content", fmt::format(" t{}", i)}}},
                                                   {"finish_reason", nullptr}}})},
                         {"object", "chat.completion.chunk"}}
                  : json{{"choices",
                          json::array({{{"index", 0}, {"text", fmt::format(" t{}", i)}, {"finish_reason", nullptr}}})},
                         {"object", "text_completion"}};
    return "data: " + j.dump() + "\n\n";
}

std::string final_event(bool chat, bool usage, int prompt_tokens, int completion_tokens) {
    json j =
        chat ? json{{"choices", json::array({{{"index", 0}, {"delta", json::object()}, {"finish_reason", "length"}}})}}
             : json{{"choices", json::array({{{"index", 0}, {"text", ""}, {"finish_reason", "length"}}})}};
    if (usage) {
        j["usage"] = {{"prompt_tokens", prompt_tokens},
                      {"completion_tokens", completion_tokens},
                      {"total_tokens", prompt_tokens + completion_tokens},
                      {"prompt_tokens_details", {{"cached_tokens", 0}}}};
    }
    return "data: " + j.dump() + "\n\n";
}

}  // namespace

void StubServer::handle(int fd) {
    // The request: headers, then Content-Length bytes of body.
    std::string in;
    char buf[8192];
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    while (!stopping_.load()) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return;
        in.append(buf, static_cast<size_t>(n));
        if (header_end == std::string::npos) {
            header_end = in.find("\r\n\r\n");
            if (header_end != std::string::npos) {
                std::string lower = in.substr(0, header_end);
                for (char & c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                const size_t cl = lower.find("content-length:");
                if (cl != std::string::npos) content_length = std::stoul(lower.substr(cl + 15));
            }
        }
        if (header_end != std::string::npos && in.size() >= header_end + 4 + content_length) break;
    }
    if (stopping_.load() || header_end == std::string::npos) return;
    const std::string request_line = in.substr(0, in.find("\r\n"));
    const std::string body_text = in.substr(header_end + 4, content_length);

    if (request_line.rfind("GET /health", 0) == 0) {
        send_all(fd,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: "
                 "close\r\n\r\n{\"status\":\"ok\"}",
                 0);
        return;
    }
    if (request_line.rfind("GET /metrics", 0) == 0) {
        const std::string text = fmt::format(
            "# TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total {}\n"
            "# TYPE llamacpp:prompt_tokens_cached_total counter\nllamacpp:prompt_tokens_cached_total 0\n"
            "# TYPE llamacpp:tokens_predicted_total counter\nllamacpp:tokens_predicted_total {}\n",
            prompt_total_.load(), completion_total_.load() + completion_bias_.load());
        send_all(fd,
                 fmt::format(
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                     text.size(), text),
                 0);
        return;
    }
    const bool chat = request_line.find("/v1/chat/completions") != std::string::npos;
    if (request_line.find("/v1/completions") == std::string::npos && !chat) {
        send_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0);
        return;
    }
    const long index = requests_.fetch_add(1);
    json body = json::parse(body_text, nullptr, false);
    if (body.is_discarded()) body = json::object();
    const StubReply reply = script_(index, body);
    const int max_tokens =
        body.contains("max_tokens") && body["max_tokens"].is_number_integer() ? body["max_tokens"].get<int>() : 16;
    const int n_tokens = reply.tokens >= 0 ? reply.tokens : max_tokens;
    completion_bias_.store(reply.metrics_completion_bias);

    if (reply.kind == StubReply::Kind::http_error) {
        const std::string err =
            json{{"error", {{"code", reply.http_status}, {"message", "scripted failure"}, {"type", "server_error"}}}}
                .dump();
        send_all(fd,
                 fmt::format("HTTP/1.1 {} Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: "
                             "close\r\n\r\n{}",
                             reply.http_status, err.size(), err),
                 reply.split_bytes);
        return;
    }
    const std::string headers =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    if (!send_all(fd, headers, reply.split_bytes)) return;
    if (reply.kind == StubReply::Kind::hang) {
        while (pause(0.05)) {
        }
        return;
    }
    const int limit = reply.kind == StubReply::Kind::close_mid_stream ? std::min(n_tokens, reply.close_after_tokens)
                      : reply.kind == StubReply::Kind::malformed      ? std::min(n_tokens, 2)
                                                                      : n_tokens;
    std::string pending;
    int in_pending = 0;
    for (int i = 0; i < limit; ++i) {
        const double wait = i == 0 ? reply.first_token_delay_s : reply.token_interval_s;
        if (wait > 0) {
            if (!pending.empty() && !send_all(fd, pending, reply.split_bytes)) return;
            pending.clear();
            in_pending = 0;
            if (!pause(wait)) return;
        }
        pending += chunk(token_event(chat, i));
        if (++in_pending >= std::max(1, reply.tokens_per_write)) {
            if (!send_all(fd, pending, reply.split_bytes)) return;
            pending.clear();
            in_pending = 0;
        }
    }
    if (reply.kind == StubReply::Kind::close_mid_stream) {
        send_all(fd, pending, reply.split_bytes);
        ::shutdown(fd, SHUT_RDWR);
        return;
    }
    if (reply.kind == StubReply::Kind::malformed) {
        pending += chunk("data: {\"choices\": [{\"text\": oops\n\n");
        send_all(fd, pending, reply.split_bytes);
        // Keep the connection open for a while: the client must fail on the event, not on EOF.
        pause(2.0);
        return;
    }
    pending += chunk(final_event(chat, reply.usage, reply.prompt_tokens, n_tokens));
    if (reply.kind != StubReply::Kind::no_done) pending += chunk("data: [DONE]\n\n");
    pending += "0\r\n\r\n";
    prompt_total_.fetch_add(reply.prompt_tokens);
    completion_total_.fetch_add(n_tokens);
    send_all(fd, pending, reply.split_bytes);
}

}  // namespace jb::serve
