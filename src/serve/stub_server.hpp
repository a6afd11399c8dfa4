#pragma once
// A scripted OpenAI-compatible streaming server on loopback, in this process: for tests of
// the failure paths (HTTP errors, malformed SSE, hangs, connections closed mid-stream) and for
// the load generator's benchmark (tokens as fast as the socket takes them). It answers
// GET /health, GET /metrics (llama-server's token counters, over what it served) and POST
// /v1/completions or /v1/chat/completions with what a script decides per request. A thread
// per connection; the destructor stops everything, hung replies included.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace jb::serve {

struct StubReply {
    enum class Kind {
        stream,            // 200, one SSE chunk per token, usage, [DONE]
        http_error,        // http_status with a JSON error body
        malformed,         // 200, a few tokens, then an event whose data is not JSON
        hang,              // reads the request, sends the headers, then nothing until stopped
        close_mid_stream,  // 200, close_after_tokens tokens, then closes the connection
        no_done,           // 200, the tokens, usage, then ends the body without [DONE]
    };
    Kind kind = Kind::stream;
    int tokens = -1;                   // tokens to stream; -1: the request's max_tokens
    double token_interval_s = 0.0;     // pause before each token after the first
    double first_token_delay_s = 0.0;  // pause before the first token (a "prefill")
    int tokens_per_write = 1;          // token chunks per send() (1: every token on its own)
    size_t split_bytes = 0;            // > 0: send everything in pieces of this size (events split across reads)
    int http_status = 500;
    int close_after_tokens = 2;
    int prompt_tokens = 7;  // what usage reports
    bool usage = true;
    long metrics_completion_bias = 0;  // added to /metrics' predicted count (to test the check)
};

class StubServer {
public:
    using Script = std::function<StubReply(long request_index, const nlohmann::json & body)>;

    // Listens on a free port of 127.0.0.1. Throws jb::RuntimeFailure if it cannot.
    explicit StubServer(Script script);
    ~StubServer();
    StubServer(const StubServer &) = delete;
    StubServer & operator=(const StubServer &) = delete;

    int port() const { return port_; }
    long requests() const { return requests_.load(); }  // completion requests received
    // Stops accepting, wakes hung replies and joins every thread.
    void stop();

private:
    void accept_loop();
    void handle(int fd);
    bool pause(double s);  // false when stopping

    Script script_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<long> requests_{0};
    std::atomic<long> prompt_total_{0};
    std::atomic<long> completion_total_{0};
    std::atomic<long> completion_bias_{0};
    std::thread acceptor_;
    std::mutex mutex_;
    std::condition_variable wake_;
    struct Worker {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::vector<Worker> workers_;
};

}  // namespace jb::serve
