#include "serve/load.hpp"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <thread>

#include "serve/http.hpp"
#include "serve/prometheus.hpp"
#include "serve/random.hpp"
#include "serve/sse.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::serve {

std::vector<double> open_loop_schedule(const LoadSpec & spec, double * span_s) {
    if (span_s) *span_s = 0.0;
    if (!(spec.rate_rps > 0) || (spec.max_requests <= 0 && !(spec.duration_s > 0))) return {};
    long n = spec.max_requests;
    double span = n > 0 ? static_cast<double>(n) / spec.rate_rps : 0.0;
    if (spec.duration_s > 0 && (n <= 0 || span > spec.duration_s)) {
        span = spec.duration_s;
        n = std::max(1L, std::lround(spec.rate_rps * spec.duration_s));
    }
    Rng rng(spec.seed);
    std::vector<double> t(static_cast<size_t>(n));
    for (double & x : t) x = rng.uniform() * span;
    std::sort(t.begin(), t.end());
    if (span_s) *span_s = span;
    return t;
}

using nlohmann::json;

std::string LoadSpec::label() const {
    return mode == LoadMode::closed ? fmt::format("closed c={}", concurrency) : fmt::format("open r={:g}/s", rate_rps);
}

void validate(const LoadSpec & s) {
    auto bad = [](const std::string & field, const std::string & what) {
        return UsageError(fmt::format("load spec: {}: {}", field, what));
    };
    if (s.max_requests < 0) throw bad("max_requests", "must be >= 0");
    if (!(s.duration_s >= 0) || !std::isfinite(s.duration_s)) throw bad("duration_s", "must be >= 0 seconds");
    if (s.max_requests == 0 && s.duration_s == 0) {
        throw bad("max_requests", "a level needs a bound: a request count, a duration, or both");
    }
    if (s.mode == LoadMode::closed && s.concurrency < 1) throw bad("concurrency", "must be >= 1");
    if (s.mode == LoadMode::open) {
        if (!(s.rate_rps > 0) || !std::isfinite(s.rate_rps)) throw bad("rate_rps", "must be > 0 requests/s");
        if (s.max_in_flight < 1) throw bad("max_in_flight", "must be >= 1");
    }
    if (!(s.request_timeout_s > 0)) throw bad("request_timeout_s", "must be > 0 seconds");
    if (!(s.idle_timeout_s > 0)) throw bad("idle_timeout_s", "must be > 0 seconds");
    if (s.abort_after_consecutive_failures < 0) throw bad("abort_after_consecutive_failures", "must be >= 0");
    if (!(s.progress_interval_s > 0)) throw bad("progress_interval_s", "must be > 0 seconds");
    if (!s.extra_body.is_object()) throw bad("extra_body", "must be a JSON object");
}

json spec_json(const LoadSpec & s) {
    json j = {
        {"mode", s.mode == LoadMode::closed ? "closed" : "open"},
        {"max_requests", s.max_requests},
        {"duration_s", s.duration_s},
        {"ignore_eos", s.ignore_eos},
        {"temperature", s.temperature},
        {"request_timeout_s", s.request_timeout_s},
        {"idle_timeout_s", s.idle_timeout_s},
        {"abort_after_consecutive_failures", s.abort_after_consecutive_failures},
    };
    if (s.mode == LoadMode::closed) {
        j["concurrency"] = s.concurrency;
    } else {
        j["rate_rps"] = s.rate_rps;
        j["max_in_flight"] = s.max_in_flight;
        j["seed"] = s.seed;
        j["steady_warmup_requests"] = s.steady_warmup_requests;
    }
    if (!s.extra_body.empty()) j["extra_body"] = s.extra_body;
    return j;
}

namespace {

// How long a level that is about to be aborted for consecutive failures waits for the server's
// liveness check to report a death.
constexpr double kLivenessGraceS = 3.0;

double mono_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double tv_s(const timeval & tv) {
    return static_cast<double>(tv.tv_sec) + 1e-6 * static_cast<double>(tv.tv_usec);
}

struct ThreadCpu {
    double user_s = 0.0;
    double sys_s = 0.0;
    static ThreadCpu now() {
        rusage ru{};
        getrusage(RUSAGE_THREAD, &ru);
        return {tv_s(ru.ru_utime), tv_s(ru.ru_stime)};
    }
};

// The message of a JSON error body ({"error": {"message": ...}} or {"error": "..."}), else its head.
std::string error_message_of(const std::string & body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error")) {
        const json & e = j["error"];
        if (e.is_string()) return e.get<std::string>();
        if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    }
    std::string head = body.substr(0, 160);
    std::replace(head.begin(), head.end(), '\n', ' ');
    return head;
}

int int_field(const json & obj, const char * key, int fallback) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

double num_field(const json & obj, const char * key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_number() ? it->get<double>() : NAN;
}

struct Conn {
    int fd = -1;
    uint32_t gen = 0;
    long rec = -1;
    int client = -1;  // closed loop
    std::string out;
    size_t out_off = 0;
    bool connected = false;
    bool status_checked = false;
    HttpResponseParser http;
    SseParser sse;
    std::string body;         // decoded body bytes not yet given to the SSE parser
    std::string error_body;   // the body of a non-200 answer (head only)
    double deadline_s = 0.0;  // absolute (monotonic)
    double last_byte_s = 0.0;
    double t_prev_chunk_s = NAN;  // relative
};

class LevelRun {
public:
    LevelRun(const LoadSpec & spec, const Endpoint & ep, const std::vector<RequestShape> & shapes,
             const LevelHooks & hooks)
        : spec_(spec), ep_(ep), shapes_(shapes), hooks_(hooks), itl_(spec.itl_reservoir, spec.seed) {}
    ~LevelRun() {
        for (auto & c : conns_) {
            if (c.fd >= 0) ::close(c.fd);
        }
        if (epfd_ >= 0) ::close(epfd_);
    }

    LevelResult run();

private:
    double rel(double abs_s) const { return abs_s - t0_; }
    bool may_send(double now) const {
        if (ending_) return false;
        if (spec_.max_requests > 0 && sent_ >= spec_.max_requests) return false;
        if (spec_.duration_s > 0 && now - t0_ >= spec_.duration_s) return false;
        return true;
    }
    void start_request(int client, double t_scheduled_rel);
    // connection_lost: the socket failed (refused, reset, closed without an answer), which
    // is what a dead server looks like.
    void end_request(long rec, Outcome outcome, std::string reason, int client, bool connection_lost = false);
    void end_conn(size_t slot, Outcome outcome, std::string reason, bool connection_lost = false);
    void on_writable(size_t slot);
    void on_readable(size_t slot);
    bool on_event(size_t slot, const std::string & data, double t_rel);
    void on_token(Conn & c, RequestRecord & r, double t_rel);
    void client_out_of_work();
    // Open loop: when the next arrival is due (the schedule's next; +inf past its end).
    double next_arrival();
    void begin_steady(double t_rel);
    void end_steady(double t_rel);
    void abort_level(LevelStatus status, const std::string & reason);
    void dispatch(double now);
    void check_timers(double now);
    void poll_hooks(double now);
    std::string body_for(const RequestShape & shape) const;
    void finish(LevelResult & r);

    const LoadSpec & spec_;
    const Endpoint & ep_;
    const std::vector<RequestShape> & shapes_;
    const LevelHooks & hooks_;
    std::string path_;

    int epfd_ = -1;
    std::vector<Conn> conns_;
    std::vector<size_t> free_slots_;
    std::vector<RequestRecord> records_;
    double t0_ = 0.0;

    long sent_ = 0, completed_ = 0, failed_ = 0, timed_out_ = 0, in_flight_ = 0, chunks_ = 0;
    int consecutive_failures_ = 0;
    std::map<std::string, long> reasons_;

    // closed loop
    std::deque<int> ready_clients_;
    std::vector<char> client_has_token_;
    int clients_with_token_ = 0;
    bool a_client_ran_out_ = false;
    // open loop
    double next_arrival_rel_ = 0.0;
    long arrivals_ = 0;
    std::vector<double> schedule_;  // open loop: the arrival times (open_loop_schedule)
    size_t next_scheduled_ = 0;
    double span_s_ = 0.0;  // the span the schedule's arrivals fall in
    bool arrivals_done_ = false;
    std::deque<double> waiting_;
    long dropped_arrivals_ = 0;
    long first_tokens_ = 0;
    long warmup_ = 1;

    bool steady_on_ = false, steady_done_ = false;
    double steady_begin_rel_ = NAN, steady_end_rel_ = NAN;
    std::string steady_note_;

    bool ending_ = false;
    LevelStatus status_ = LevelStatus::ok;
    std::string reason_;

    Reservoir itl_;
    double next_poll_s_ = 0.0;
    double next_progress_s_ = 0.0;
    long progress_chunks_ = 0;
};

std::string LevelRun::body_for(const RequestShape & shape) const {
    json body = json::object();
    if (!ep_.model.empty()) body["model"] = ep_.model;
    if (ep_.api == Endpoint::Api::chat) {
        body["messages"] = json::array({json{{"role", "user"}, {"content", shape.prompt}}});
    } else {
        body["prompt"] = shape.prompt;
    }
    body["max_tokens"] = shape.max_tokens;
    body["stream"] = true;
    body["stream_options"] = json{{"include_usage", true}};
    body["temperature"] = spec_.temperature;
    if (spec_.ignore_eos) body["ignore_eos"] = true;
    for (const auto & [k, v] : spec_.extra_body.items()) body[k] = v;
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

void LevelRun::start_request(int client, double t_scheduled_rel) {
    const double now = mono_s();
    const long index = sent_++;
    RequestRecord r;
    r.index = index;
    r.shape = static_cast<long>(index % static_cast<long>(shapes_.size()));
    const RequestShape & shape = shapes_[static_cast<size_t>(r.shape)];
    r.t_sent_s = rel(now);
    r.t_scheduled_s = t_scheduled_rel < 0 ? r.t_sent_s : t_scheduled_rel;
    r.max_tokens = shape.max_tokens;
    r.expected_prompt_tokens = shape.expected_prompt_tokens;
    records_.push_back(std::move(r));
    const long rec = static_cast<long>(records_.size() - 1);
    ++in_flight_;

    std::string error;
    int fd = connect_nonblocking(ep_.host, ep_.port, error);
    if (fd < 0) {
        end_request(rec, Outcome::failed, error, client, true);
        return;
    }
    const size_t slot = free_slots_.back();
    free_slots_.pop_back();
    Conn & c = conns_[slot];
    const uint32_t gen = c.gen + 1;
    c = Conn();
    c.gen = gen;
    c.fd = fd;
    c.rec = rec;
    c.client = client;
    c.out = format_request("POST", ep_.host, ep_.port, path_, body_for(shape));
    c.deadline_s = now + spec_.request_timeout_s;
    c.last_byte_s = now;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = (static_cast<uint64_t>(gen) << 32) | slot;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        end_conn(slot, Outcome::failed, fmt::format("epoll_ctl: {}", std::strerror(errno)));
    }
}

void LevelRun::end_request(long rec, Outcome outcome, std::string reason, int client, bool connection_lost) {
    RequestRecord & r = records_[static_cast<size_t>(rec)];
    r.t_end_s = rel(mono_s());
    r.outcome = outcome;
    --in_flight_;
    if (outcome == Outcome::completed) {
        ++completed_;
        consecutive_failures_ = 0;
    } else {
        (outcome == Outcome::timed_out ? timed_out_ : failed_) += 1;
        ++reasons_[reason];
        r.error = std::move(reason);
        ++consecutive_failures_;
    }
    if (spec_.mode == LoadMode::closed) {
        if (ending_) {
            client_out_of_work();
        } else {
            ready_clients_.push_back(client);
        }
    }
    if (!ending_ && spec_.abort_after_consecutive_failures > 0 &&
        consecutive_failures_ >= spec_.abort_after_consecutive_failures) {
        // A killed server refuses connections before the kernel has finished it (its sockets
        // close before it becomes a zombie, which takes long on a loaded machine): give the
        // liveness check a moment to name the real cause.
        std::string dead;
        for (double waited = 0; connection_lost && hooks_.server_liveness && waited < kLivenessGraceS; waited += 0.02) {
            dead = hooks_.server_liveness();
            if (!dead.empty()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        abort_level(LevelStatus::failed, !dead.empty()
                                             ? dead
                                             : fmt::format("{} requests in a row failed or timed out (last: {})",
                                                           consecutive_failures_, r.error));
    }
}

void LevelRun::end_conn(size_t slot, Outcome outcome, std::string reason, bool connection_lost) {
    Conn & c = conns_[slot];
    if (c.fd < 0) return;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    const long rec = c.rec;
    const int client = c.client;
    c.body.clear();
    free_slots_.push_back(slot);
    end_request(rec, outcome, std::move(reason), client, connection_lost);
}

double LevelRun::next_arrival() {
    return next_scheduled_ < schedule_.size() ? schedule_[next_scheduled_++] : INFINITY;
}

void LevelRun::client_out_of_work() {
    if (spec_.mode != LoadMode::closed) return;
    if (!a_client_ran_out_) {
        a_client_ran_out_ = true;
        const double t = rel(mono_s());
        if (steady_on_) {
            end_steady(t);
        } else if (!steady_done_ && steady_note_.empty()) {
            steady_note_ =
                "no steady state: a client ran out of work before every client had its first token "
                "(fewer requests than clients, or failures)";
        }
    }
}

void LevelRun::begin_steady(double t_rel) {
    steady_on_ = true;
    steady_begin_rel_ = t_rel;
    if (hooks_.meter) hooks_.meter->mark("steady");
}

void LevelRun::end_steady(double t_rel) {
    steady_on_ = false;
    steady_done_ = true;
    steady_end_rel_ = t_rel;
    if (hooks_.meter) hooks_.meter->mark("ramp_down");
}

void LevelRun::abort_level(LevelStatus status, const std::string & reason) {
    if (ending_) return;
    ending_ = true;
    status_ = status;
    reason_ = reason;
    const std::string cancel =
        status == LevelStatus::stopped ? "cancelled: stop requested" : "cancelled: the level was aborted";
    for (size_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].fd >= 0) end_conn(i, Outcome::failed, cancel);
    }
    while (!ready_clients_.empty()) {
        ready_clients_.pop_front();
        client_out_of_work();
    }
    dropped_arrivals_ += static_cast<long>(waiting_.size());
    waiting_.clear();
    if (!arrivals_done_) arrivals_done_ = true;
    if (steady_on_) end_steady(rel(mono_s()));
}

void LevelRun::on_token(Conn & c, RequestRecord & r, double t_rel) {
    ++r.chunks;
    ++chunks_;
    if (steady_on_) ++r.chunks_in_steady;
    if (std::isnan(r.t_first_token_s)) {
        r.t_first_token_s = t_rel;
        if (spec_.mode == LoadMode::closed) {
            if (!client_has_token_[static_cast<size_t>(c.client)]) {
                client_has_token_[static_cast<size_t>(c.client)] = 1;
                if (++clients_with_token_ == spec_.concurrency && !a_client_ran_out_ && !steady_done_) {
                    begin_steady(t_rel);
                    ++r.chunks_in_steady;  // the token that opened the window is its first
                }
            }
        } else if (++first_tokens_ == warmup_ && !arrivals_done_ && !steady_done_) {
            begin_steady(t_rel);
            ++r.chunks_in_steady;
        }
    } else {
        itl_.add(t_rel - c.t_prev_chunk_s);
    }
    c.t_prev_chunk_s = t_rel;
    r.t_last_token_s = t_rel;
}

// One SSE event; false when it ended the request.
bool LevelRun::on_event(size_t slot, const std::string & data, double t_rel) {
    Conn & c = conns_[slot];
    RequestRecord & r = records_[static_cast<size_t>(c.rec)];
    if (data == "[DONE]") {
        if (r.chunks == 0) {
            end_conn(slot, Outcome::failed, "the stream ended without a token");
        } else {
            end_conn(slot, Outcome::completed, "");
        }
        return false;
    }
    json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        std::string head = data.substr(0, 60);
        std::replace(head.begin(), head.end(), '\n', ' ');
        end_conn(slot, Outcome::failed, fmt::format("malformed SSE: an event's data is not a JSON object: '{}'", head));
        return false;
    }
    if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
        end_conn(slot, Outcome::failed, "the server sent an error in the stream: " + error_message_of(data));
        return false;
    }
    if (auto ch = j.find("choices"); ch != j.end() && ch->is_array() && !ch->empty()) {
        const json & choice = (*ch)[0];
        const auto fr = choice.find("finish_reason");
        const bool finished = fr != choice.end() && !fr->is_null();
        bool token = false;
        if (ep_.api == Endpoint::Api::chat) {
            // A role-only delta opens some chat streams; only content is a token.
            const auto d = choice.find("delta");
            if (d != choice.end() && d->is_object()) {
                for (const char * key : {"content", "reasoning_content", "tool_calls"}) {
                    auto v = d->find(key);
                    if (v != d->end() && !v->is_null() &&
                        !(v->is_string() && v->get_ref<const std::string &>().empty() && finished)) {
                        token = true;
                    }
                }
            }
        } else {
            // llama-server's last chunk (finish_reason set, empty text) carries no token;
            // vLLM's last token arrives with its finish_reason.
            const auto t = choice.find("text");
            const bool has_text = t != choice.end() && t->is_string() && !t->get_ref<const std::string &>().empty();
            token = !finished || has_text;
        }
        if (token) on_token(c, r, t_rel);
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
        r.prompt_tokens = int_field(*u, "prompt_tokens", r.prompt_tokens);
        r.completion_tokens = int_field(*u, "completion_tokens", r.completion_tokens);
        if (auto d = u->find("prompt_tokens_details"); d != u->end() && d->is_object()) {
            r.cached_prompt_tokens = int_field(*d, "cached_tokens", r.cached_prompt_tokens);
        }
    }
    if (auto t = j.find("timings"); t != j.end() && t->is_object()) {
        r.server_prompt_ms = num_field(*t, "prompt_ms");
        r.server_predicted_ms = num_field(*t, "predicted_ms");
    }
    return true;
}

void LevelRun::on_writable(size_t slot) {
    Conn & c = conns_[slot];
    if (!c.connected) {
        if (int e = connect_result(c.fd); e != 0) {
            end_conn(slot, Outcome::failed,
                     fmt::format("cannot connect to {}:{}: {}", ep_.host, ep_.port, std::strerror(e)), true);
            return;
        }
        c.connected = true;
    }
    while (c.out_off < c.out.size()) {
        ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            end_conn(slot, Outcome::failed, fmt::format("sending the request: {}", std::strerror(errno)));
            return;
        }
        c.out_off += static_cast<size_t>(w);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (static_cast<uint64_t>(c.gen) << 32) | slot;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void LevelRun::on_readable(size_t slot) {
    static thread_local char buf[65536];
    std::vector<std::string> events;
    for (int reads = 0; reads < 8; ++reads) {
        Conn & c = conns_[slot];
        if (c.fd < 0) return;
        ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
        const double now = mono_s();
        const double t_rel = rel(now);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            const int e = errno;
            if (!c.connected) {
                end_conn(slot, Outcome::failed,
                         fmt::format("cannot connect to {}:{}: {}", ep_.host, ep_.port, std::strerror(e)), true);
            } else {
                end_conn(slot, Outcome::failed,
                         fmt::format("{} {}",
                                     c.http.headers_complete() ? "the stream broke:" : "no answer:", std::strerror(e)),
                         true);
            }
            return;
        }
        if (n == 0) {
            const bool had_headers = c.http.headers_complete();
            const int status = c.http.status();
            c.http.finish_at_eof();
            if (had_headers && status != 200) {
                end_conn(slot, Outcome::failed, fmt::format("HTTP {}: {}", status, error_message_of(c.error_body)));
            } else if (!had_headers) {
                end_conn(slot, Outcome::failed,
                         status == 0 ? "the server closed the connection without answering" : c.http.error(), true);
            } else {
                end_conn(slot, Outcome::failed, "the connection closed before the stream ended (no data: [DONE])",
                         true);
            }
            return;
        }
        c.last_byte_s = now;
        c.connected = true;
        const bool ok = c.http.feed(std::string_view(buf, static_cast<size_t>(n)), c.body);
        if (!ok) {
            end_conn(slot, Outcome::failed, c.http.error());
            return;
        }
        if (c.http.headers_complete() && !c.status_checked) {
            c.status_checked = true;
            if (c.http.status() == 200 && c.http.content_type().find("text/event-stream") == std::string::npos) {
                end_conn(slot, Outcome::failed,
                         fmt::format("HTTP 200 with Content-Type '{}', not an event stream (does the endpoint stream?)",
                                     c.http.content_type()));
                return;
            }
        }
        if (c.http.headers_complete() && c.http.status() != 200) {
            if (c.error_body.size() < 4096) c.error_body += c.body.substr(0, 4096 - c.error_body.size());
            c.body.clear();
            if (c.http.done()) {
                end_conn(slot, Outcome::failed,
                         fmt::format("HTTP {}: {}", c.http.status(), error_message_of(c.error_body)));
                return;
            }
            continue;
        }
        if (!c.body.empty()) {
            events.clear();
            const bool sse_ok = c.sse.feed(c.body, events);
            c.body.clear();
            for (const auto & e : events) {
                if (!on_event(slot, e, t_rel)) return;
            }
            if (!sse_ok) {
                end_conn(slot, Outcome::failed, c.sse.error());
                return;
            }
        }
        if (c.http.done()) {
            end_conn(slot, Outcome::failed, "the stream ended without data: [DONE]");
            return;
        }
        if (static_cast<size_t>(n) < sizeof(buf)) return;
    }
}

void LevelRun::check_timers(double now) {
    for (size_t i = 0; i < conns_.size(); ++i) {
        Conn & c = conns_[i];
        if (c.fd < 0) continue;
        if (now >= c.deadline_s) {
            end_conn(i, Outcome::timed_out, fmt::format("no complete answer within {:g} s", spec_.request_timeout_s));
        } else if (now - c.last_byte_s >= spec_.idle_timeout_s) {
            end_conn(i, Outcome::timed_out, fmt::format("nothing received for {:g} s", spec_.idle_timeout_s));
        }
    }
}

void LevelRun::dispatch(double now) {
    if (spec_.mode == LoadMode::closed) {
        while (!ready_clients_.empty()) {
            const int client = ready_clients_.front();
            ready_clients_.pop_front();
            if (may_send(mono_s())) {
                start_request(client, -1.0);
            } else {
                client_out_of_work();
            }
        }
        return;
    }
    // Open loop: arrivals due by now join the queue; the queue goes out while places are free.
    while (!arrivals_done_) {
        if (ending_ || (spec_.max_requests > 0 && arrivals_ >= spec_.max_requests) ||
            (spec_.duration_s > 0 && next_arrival_rel_ >= spec_.duration_s) || std::isinf(next_arrival_rel_)) {
            arrivals_done_ = true;
            break;
        }
        if (t0_ + next_arrival_rel_ > now) break;
        waiting_.push_back(next_arrival_rel_);
        ++arrivals_;
        next_arrival_rel_ = next_arrival();
    }
    while (!waiting_.empty() && in_flight_ < spec_.max_in_flight && !ending_) {
        const double t_sched = waiting_.front();
        waiting_.pop_front();
        start_request(-1, t_sched);
    }
    if (arrivals_done_ && waiting_.empty() && !steady_done_) {
        if (steady_on_) {
            end_steady(rel(mono_s()));
        } else if (steady_note_.empty()) {
            steady_note_ =
                fmt::format("no steady state: the arrivals stopped before {} requests had their first token", warmup_);
            steady_done_ = true;
        }
    }
}

void LevelRun::poll_hooks(double now) {
    if (now < next_poll_s_) return;
    next_poll_s_ = now + 0.05;
    if (!ending_ && hooks_.observer && hooks_.observer->should_stop()) {
        abort_level(LevelStatus::stopped, "stop requested");
    }
    if (!ending_ && hooks_.server_liveness) {
        std::string dead = hooks_.server_liveness();
        if (!dead.empty()) abort_level(LevelStatus::failed, dead);
    }
    if (hooks_.observer && now >= next_progress_s_) {
        const double dt = spec_.progress_interval_s + (now - next_progress_s_);
        next_progress_s_ = now + spec_.progress_interval_s;
        Progress p;
        p.t_s = rel(now);
        p.sent = sent_;
        p.completed = completed_;
        p.failed = failed_;
        p.timed_out = timed_out_;
        p.in_flight = in_flight_;
        p.waiting = static_cast<long>(waiting_.size());
        p.chunks = chunks_;
        p.chunks_per_s = dt > 0 ? static_cast<double>(chunks_ - progress_chunks_) / dt : 0.0;
        p.steady = steady_on_;
        progress_chunks_ = chunks_;
        hooks_.observer->on_progress(p);
    }
}

LevelResult LevelRun::run() {
    path_ = ep_.api == Endpoint::Api::chat ? "/v1/chat/completions" : "/v1/completions";
    const int slots = spec_.mode == LoadMode::closed ? spec_.concurrency : spec_.max_in_flight;
    conns_.resize(static_cast<size_t>(slots));
    for (size_t i = conns_.size(); i-- > 0;) free_slots_.push_back(i);
    if (spec_.max_requests > 0) records_.reserve(static_cast<size_t>(spec_.max_requests));
    if (spec_.mode == LoadMode::closed) {
        client_has_token_.assign(static_cast<size_t>(spec_.concurrency), 0);
    } else {
        schedule_ = open_loop_schedule(spec_, &span_s_);
        const long planned = static_cast<long>(schedule_.size());
        warmup_ = spec_.steady_warmup_requests > 0 ? spec_.steady_warmup_requests
                                                   : std::max(1L, std::min<long>(spec_.max_in_flight, planned / 4));
    }

    LevelResult result;
    result.label = spec_.label();
    result.spec = spec_json(spec_);
    result.spec["endpoint"] = {{"host", ep_.host},
                               {"port", ep_.port},
                               {"api", ep_.api == Endpoint::Api::chat ? "chat" : "completions"},
                               {"model", ep_.model}};

    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
        result.status = LevelStatus::failed;
        result.reason = fmt::format("epoll_create1: {}", std::strerror(errno));
        return result;
    }

    std::map<std::string, PromValue> metrics_before;
    std::string metrics_error;
    if (ep_.has_metrics) {
        HttpResult m = http_request(ep_.host, ep_.port, "GET", "/metrics", "", 5.0);
        if (m.ok()) {
            metrics_before = parse_prometheus(m.body);
        } else {
            metrics_error = "GET /metrics before the level failed: " + m.describe();
        }
    }

    const ThreadCpu cpu0 = ThreadCpu::now();
    if (hooks_.meter) hooks_.meter->start("ramp_up");
    t0_ = mono_s();
    next_progress_s_ = t0_ + spec_.progress_interval_s;
    if (spec_.mode == LoadMode::closed) {
        for (int c = 0; c < spec_.concurrency; ++c) ready_clients_.push_back(c);
    } else {
        next_arrival_rel_ = next_arrival();
    }

    epoll_event events[256];
    while (true) {
        double now = mono_s();
        poll_hooks(now);
        dispatch(now);
        const bool closed_done = spec_.mode == LoadMode::closed && in_flight_ == 0 && ready_clients_.empty();
        const bool open_done = spec_.mode == LoadMode::open && in_flight_ == 0 && arrivals_done_ && waiting_.empty();
        if (closed_done || open_done) break;

        double wake = now + 0.05;
        if (spec_.mode == LoadMode::open && !arrivals_done_) wake = std::min(wake, t0_ + next_arrival_rel_);
        const int timeout_ms = std::max(0, static_cast<int>(std::ceil((wake - now) * 1e3)));
        const int n = epoll_wait(epfd_, events, 256, timeout_ms);
        if (n < 0 && errno != EINTR) {
            abort_level(LevelStatus::failed, fmt::format("epoll_wait: {}", std::strerror(errno)));
            continue;
        }
        for (int i = 0; i < n; ++i) {
            const size_t slot = static_cast<size_t>(events[i].data.u64 & 0xffffffffu);
            const uint32_t gen = static_cast<uint32_t>(events[i].data.u64 >> 32);
            if (slot >= conns_.size() || conns_[slot].fd < 0 || conns_[slot].gen != gen) continue;  // ended earlier
            const uint32_t ev = events[i].events;
            if ((ev & EPOLLOUT) && conns_[slot].out_off < conns_[slot].out.size()) on_writable(slot);
            if (conns_[slot].fd >= 0 && conns_[slot].gen == gen && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                on_readable(slot);
            }
        }
        check_timers(mono_s());
    }
    const double t_end = mono_s();
    const ThreadCpu cpu1 = ThreadCpu::now();
    if (steady_on_) end_steady(rel(t_end));
    if (hooks_.meter) result.measurement = hooks_.meter->stop();

    result.load_cpu.user_s = cpu1.user_s - cpu0.user_s;
    result.load_cpu.sys_s = cpu1.sys_s - cpu0.sys_s;
    result.load_cpu.cpu_s = result.load_cpu.user_s + result.load_cpu.sys_s;
    result.load_cpu.wall_s = t_end - t0_;
    result.duration_s = t_end - t0_;

    finish(result);

    // Token counts against the server's own counters.
    TokenCheck & tc = result.token_check;
    if (!ep_.has_metrics) {
        tc.note = "not checked: the endpoint has no /metrics (llama-server --metrics)";
    } else if (!metrics_error.empty()) {
        tc.note = "not checked: " + metrics_error;
    } else if (result.failed + result.timed_out > 0) {
        tc.note = "not checked: some requests failed (the server counts tokens their usage never reported)";
    } else {
        HttpResult m = http_request(ep_.host, ep_.port, "GET", "/metrics", "", 5.0);
        if (!m.ok()) {
            tc.note = "not checked: GET /metrics after the level failed: " + m.describe();
        } else {
            auto after = parse_prometheus(m.body);
            auto delta = [&](const std::string & name, double & out, double & tol) {
                auto a = after.find(name);
                auto b = metrics_before.find(name);
                if (a == after.end() || b == metrics_before.end()) return false;
                out = a->second.value - b->second.value;
                tol += a->second.max_error + b->second.max_error;
                return true;
            };
            double tol_prompt = 0, tol_cached = 0, tol_completion = 0;
            const bool has_prompt = delta("llamacpp:prompt_tokens_total", tc.metrics_prompt_tokens, tol_prompt);
            const bool has_cached = delta("llamacpp:prompt_tokens_cached_total", tc.metrics_cached_tokens, tol_cached);
            const bool has_completion =
                delta("llamacpp:tokens_predicted_total", tc.metrics_completion_tokens, tol_completion);
            if (!has_prompt || !has_completion) {
                tc.note =
                    "not checked: /metrics has no llamacpp:prompt_tokens_total and llamacpp:tokens_predicted_total";
            } else {
                tc.checked = true;
                // Prompt tokens the server processed = prompt tokens - those reused from its cache.
                const double usage_processed =
                    static_cast<double>(tc.usage_prompt_tokens - (has_cached ? tc.usage_cached_tokens : 0));
                const bool prompt_ok = std::fabs(tc.metrics_prompt_tokens - usage_processed) <= tol_prompt;
                const bool cached_ok =
                    !has_cached ||
                    std::fabs(tc.metrics_cached_tokens - static_cast<double>(tc.usage_cached_tokens)) <= tol_cached;
                const bool completion_ok = std::fabs(tc.metrics_completion_tokens -
                                                     static_cast<double>(tc.usage_completion_tokens)) <= tol_completion;
                tc.match = prompt_ok && cached_ok && completion_ok;
                tc.note = tc.match
                              ? "usage matches /metrics"
                              : fmt::format(
                                    "MISMATCH: usage says {} prompt ({} cached) and {} completion tokens; "
                                    "/metrics counted {:g} prompt, {:g} cached, {:g} predicted",
                                    tc.usage_prompt_tokens, tc.usage_cached_tokens, tc.usage_completion_tokens,
                                    tc.metrics_prompt_tokens, tc.metrics_cached_tokens, tc.metrics_completion_tokens);
            }
        }
    }
    return result;
}

// Sums of one Measurement phase's (or the whole run's) domains: measured ones, else estimates.
struct Joules {
    double gross = NAN;
    std::optional<double> net;
    bool estimated = false;
};

Joules phase_joules(const std::vector<energy::DomainEnergy> & domains) {
    bool any_measured = false;
    for (const auto & d : domains) any_measured = any_measured || !d.estimated();
    Joules j;
    j.estimated = !any_measured;
    double gross = 0, net = 0;
    bool all_net = true, any = false;
    for (const auto & d : domains) {
        if (d.estimated() == any_measured) continue;
        any = true;
        gross += d.gross_j;
        if (d.net_j) {
            net += *d.net_j;
        } else {
            all_net = false;
        }
    }
    if (!any) return j;
    j.gross = gross;
    if (all_net) j.net = net;
    return j;
}

void fill_energy(EnergyWindow & w, const Joules & j) {
    w.energy_j = j.gross;
    w.net_energy_j = j.net;
    w.estimated = j.estimated;
    if (w.output_tokens > 0) w.j_per_output_token = j.gross / w.output_tokens;
    if (w.requests > 0) {
        w.j_per_request = j.gross / w.requests;
        w.wh_per_1000_requests = w.j_per_request * 1000.0 / 3600.0;
    }
    if (j.net) {
        if (w.output_tokens > 0) w.net_j_per_output_token = *j.net / w.output_tokens;
        if (w.requests > 0) w.net_j_per_request = *j.net / w.requests;
    }
}

void LevelRun::finish(LevelResult & r) {
    r.sent = sent_;
    r.completed = completed_;
    r.failed = failed_;
    r.timed_out = timed_out_;
    r.not_sent = (spec_.max_requests > 0 ? std::max(0L, spec_.max_requests - sent_) : dropped_arrivals_);
    r.chunks = chunks_;
    std::vector<std::pair<std::string, long>> reasons(reasons_.begin(), reasons_.end());
    std::stable_sort(reasons.begin(), reasons.end(),
                     [](const auto & a, const auto & b) { return a.second > b.second; });
    if (reasons.size() > 10) reasons.resize(10);
    r.failure_reasons = reasons;

    std::vector<double> ttft, tpot, e2e, queue;
    double level_tokens = 0, steady_tokens = 0;
    long steady_completed = 0;
    TokenCheck & tc = r.token_check;
    for (const auto & q : records_) {
        level_tokens += q.output_tokens();
        if (q.chunks > 0) steady_tokens += q.output_tokens() * static_cast<double>(q.chunks_in_steady) / q.chunks;
        if (q.outcome != Outcome::completed) continue;
        r.prompt_tokens += std::max(0, q.prompt_tokens);
        r.cached_prompt_tokens += std::max(0, q.cached_prompt_tokens);
        r.completion_tokens += std::max(0, q.output_tokens());
        ttft.push_back(q.ttft_s());
        e2e.push_back(q.e2e_s());
        if (double t = q.tpot_s(); !std::isnan(t)) tpot.push_back(t);
        if (spec_.mode == LoadMode::open) queue.push_back(q.t_sent_s - q.t_scheduled_s);
        if (q.expected_prompt_tokens >= 0 && q.prompt_tokens >= 0 && q.prompt_tokens != q.expected_prompt_tokens) {
            ++tc.prompt_length_mismatches;
        }
        if (spec_.ignore_eos && q.completion_tokens >= 0 && q.completion_tokens != q.max_tokens) {
            ++tc.completion_length_mismatches;
        }
        if (steady_done_ && q.t_end_s >= steady_begin_rel_ && q.t_end_s <= steady_end_rel_) ++steady_completed;
    }
    tc.usage_prompt_tokens = r.prompt_tokens;
    tc.usage_cached_tokens = r.cached_prompt_tokens;
    tc.usage_completion_tokens = r.completion_tokens;
    r.ttft = summarize_s(ttft);
    r.tpot = summarize_s(tpot);
    r.e2e = summarize_s(e2e);
    r.queue = summarize_s(queue);
    r.itl = itl_.summary_ms();
    r.itl_exact = itl_.exact();
    if (spec_.mode == LoadMode::open && arrivals_done_ && !ending_ && arrivals_ > 0 && span_s_ > 0) {
        r.arrival_rate_rps = static_cast<double>(arrivals_) / span_s_;  // the rate the schedule delivered
    }
    if (r.duration_s > 0) {
        r.requests_per_s = static_cast<double>(r.completed) / r.duration_s;
        r.output_tokens_per_s = static_cast<double>(r.completion_tokens) / r.duration_s;
        r.input_tokens_per_s = static_cast<double>(r.prompt_tokens) / r.duration_s;
    }

    // Status.
    if (ending_) {
        r.status = status_;
        r.reason = reason_;
    } else if (r.sent > 0 && r.completed == r.sent) {
        r.status = LevelStatus::ok;
    } else {
        const std::string common = r.failure_reasons.empty() ? "" : r.failure_reasons.front().first;
        if (r.completed == 0) {
            r.status = LevelStatus::failed;
            r.reason = fmt::format("no request completed (most common failure: {})", common);
        } else {
            r.status = LevelStatus::partial;
            r.reason = fmt::format("{} of {} requests failed or timed out (most common: {})", r.failed + r.timed_out,
                                   r.sent, common);
        }
    }

    // Windows: the whole level, and the steady state.
    const double mean_completion = r.completed > 0 ? static_cast<double>(r.completion_tokens) / r.completed : 0.0;
    EnergyWindow level;
    level.t_begin_s = 0.0;
    level.t_end_s = r.duration_s;
    level.output_tokens = level_tokens;
    level.requests_completed = r.completed;
    level.requests = static_cast<double>(r.completed);
    std::optional<EnergyWindow> steady;
    if (steady_done_ && !std::isnan(steady_begin_rel_) && steady_end_rel_ > steady_begin_rel_) {
        EnergyWindow w;
        w.t_begin_s = steady_begin_rel_;
        w.t_end_s = steady_end_rel_;
        w.output_tokens = steady_tokens;
        w.requests_completed = steady_completed;
        w.requests = mean_completion > 0 ? steady_tokens / mean_completion : 0.0;
        steady = w;
        r.steady_note = spec_.mode == LoadMode::closed
                            ? "closed loop: from the moment every client had its first token to the moment the first "
                              "client ran out of work"
                            : fmt::format(
                                  "open loop: from the first token of the {} request to the moment the last "
                                  "arrival was sent",
                                  ordinal(warmup_));
    } else {
        r.steady_note = steady_note_.empty() ? "no steady state: the window never opened" : steady_note_;
    }
    if (r.measurement) {
        const energy::Measurement & m = *r.measurement;
        fill_energy(level, phase_joules(m.domains));
        if (steady) {
            for (const auto & ph : m.phases) {
                if (ph.name == "steady") fill_energy(*steady, phase_joules(ph.domains));
            }
        }
        bool prefill_only = r.completed > 0;
        for (const auto & q : records_) prefill_only = prefill_only && q.output_tokens() <= 1;
        if (prefill_only && r.prompt_tokens - r.cached_prompt_tokens > 0 && !std::isnan(level.energy_j)) {
            r.j_per_input_token = level.energy_j / static_cast<double>(r.prompt_tokens - r.cached_prompt_tokens);
        }
    }
    r.level_energy = level;
    r.steady_energy = steady;
    r.load_cpu.cpu_s_per_1000_tokens = chunks_ > 0 ? 1000.0 * r.load_cpu.cpu_s / static_cast<double>(chunks_) : NAN;
    r.requests = std::move(records_);
}

}  // namespace

LevelResult run_level(const LoadSpec & spec, const Endpoint & endpoint, const std::vector<RequestShape> & requests,
                      const LevelHooks & hooks) {
    validate(spec);
    require_loopback(endpoint.host, "endpoint");
    if (endpoint.port <= 0 || endpoint.port > 65535) {
        throw UsageError(fmt::format("endpoint: port {} is out of range", endpoint.port));
    }
    if (requests.empty()) throw UsageError("run_level: no requests to send");
    for (const auto & r : requests) {
        if (r.max_tokens < 1) throw UsageError("run_level: a request with max_tokens < 1");
    }
    if (hooks.meter && hooks.meter->running()) throw UsageError("run_level: the meter is already running");
    LevelRun run(spec, endpoint, requests, hooks);
    return run.run();
}

}  // namespace jb::serve
