// run_level against the in-process stub server: accounting, token timing, windows and energy
// with a scripted power sensor, and every failure path (HTTP errors, malformed SSE, hangs,
// refused connections, streams cut short, a stop request, a server that dies).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "energy/synthetic.hpp"
#include "serve/load.hpp"
#include "serve/process.hpp"
#include "serve/stub_server.hpp"
#include "joulebench/error.hpp"

using namespace jb::serve;
namespace energy = jb::energy;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<RequestShape> shapes(std::vector<int> max_tokens) {
    std::vector<RequestShape> out;
    for (size_t i = 0; i < max_tokens.size(); ++i) {
        RequestShape s;
        s.prompt = "prompt " + std::to_string(i);
        s.max_tokens = max_tokens[i];
        out.push_back(s);
    }
    return out;
}

Endpoint endpoint_of(const StubServer & stub) {
    Endpoint ep;
    ep.port = stub.port();
    ep.has_metrics = true;
    return ep;
}

LoadSpec closed(int c, long n) {
    LoadSpec s;
    s.mode = LoadMode::closed;
    s.concurrency = c;
    s.max_requests = n;
    s.request_timeout_s = 10;
    s.idle_timeout_s = 5;
    return s;
}

void expect_accounting(const LevelResult & r) {
    EXPECT_EQ(r.sent, r.completed + r.failed + r.timed_out) << r.to_json().dump(1);
    EXPECT_EQ(static_cast<long>(r.requests.size()), r.sent);
    long c = 0, f = 0, t = 0;
    for (const auto & q : r.requests) {
        (q.outcome == Outcome::completed ? c : q.outcome == Outcome::failed ? f : t) += 1;
        EXPECT_EQ(q.outcome == Outcome::completed, q.error.empty()) << q.error;
        EXPECT_FALSE(std::isnan(q.t_end_s));
    }
    EXPECT_EQ(c, r.completed);
    EXPECT_EQ(f, r.failed);
    EXPECT_EQ(t, r.timed_out);
}

// The largest number of requests in flight at one moment.
int max_overlap(const std::vector<RequestRecord> & rs) {
    std::vector<std::pair<double, int>> ev;
    for (const auto & q : rs) {
        ev.push_back({q.t_sent_s, +1});
        ev.push_back({q.t_end_s, -1});
    }
    std::sort(ev.begin(), ev.end());  // an end before a start at the same instant
    int cur = 0, best = 0;
    for (const auto & [t, d] : ev) best = std::max(best, cur += d);
    return best;
}

class StopAfter : public LevelObserver {
public:
    explicit StopAfter(long completed) : completed_(completed) {}
    bool should_stop() override { return last_.completed >= completed_; }
    void on_progress(const Progress & p) override {
        last_ = p;
        ++calls;
    }
    int calls = 0;

private:
    long completed_;
    Progress last_;
};

}  // namespace

TEST(LoadStub, closed_loop_times_every_token_and_accounts_for_every_request) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.first_token_delay_s = 0.02;
        r.token_interval_s = 0.005;
        return r;
    });
    LoadSpec spec = closed(3, 9);
    spec.progress_interval_s = 0.05;
    StopAfter observer(1000);
    LevelResult r = run_level(spec, endpoint_of(stub), shapes({6, 4}), {nullptr, &observer, {}});
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::ok) << r.reason;
    EXPECT_EQ(r.completed, 9);
    EXPECT_EQ(stub.requests(), 9);
    long want_tokens = 0, want_gaps = 0;
    for (const auto & q : r.requests) {
        const int want = q.index % 2 == 0 ? 6 : 4;
        EXPECT_EQ(q.max_tokens, want);
        EXPECT_EQ(q.completion_tokens, want);
        EXPECT_EQ(q.chunks, want);
        EXPECT_EQ(q.prompt_tokens, 7);
        EXPECT_GE(q.ttft_s(), 0.019);
        EXPECT_LE(q.t_first_token_s, q.t_last_token_s);
        EXPECT_LE(q.t_last_token_s, q.t_end_s);
        // The stub sends the last token 20 ms + (n - 1) x 5 ms after the request arrives: a late
        // first token (a loaded machine) can shorten last - first, never last - sent.
        EXPECT_GE(q.t_last_token_s - q.t_sent_s, 0.02 + (want - 1) * 0.005 - 1e-3);
        EXPECT_GT(q.tpot_s(), 0.0);
        want_tokens += want;
        want_gaps += want - 1;
    }
    EXPECT_EQ(r.completion_tokens, want_tokens);
    EXPECT_EQ(r.chunks, want_tokens);
    EXPECT_EQ(r.itl.n, want_gaps);
    EXPECT_TRUE(r.itl_exact);
    EXPECT_GE(r.itl.p50_ms, 4.0);
    EXPECT_GE(r.ttft.p50_ms, 19.0);
    EXPECT_LE(max_overlap(r.requests), 3);
    EXPECT_EQ(r.token_check.checked, true) << r.token_check.note;
    EXPECT_TRUE(r.token_check.match) << r.token_check.note;
    EXPECT_EQ(r.token_check.completion_length_mismatches, 0);
    EXPECT_GT(r.load_cpu.cpu_s, 0.0);
    EXPECT_GT(observer.calls, 0);

    // The steady window: after every client's first token, before the first client ran out.
    ASSERT_TRUE(r.steady_energy) << r.steady_note;
    double last_initial_first = 0;
    for (int i = 0; i < 3; ++i) last_initial_first = std::max(last_initial_first, r.requests[i].t_first_token_s);
    EXPECT_NEAR(r.steady_energy->t_begin_s, last_initial_first, 1e-9);
    double first_out_of_work = 1e9;  // the first request to end after the 9th was sent
    for (const auto & q : r.requests) {
        if (q.t_end_s >= r.requests.back().t_sent_s) first_out_of_work = std::min(first_out_of_work, q.t_end_s);
    }
    EXPECT_NEAR(r.steady_energy->t_end_s, first_out_of_work, 2e-3);
    EXPECT_GT(r.steady_energy->output_tokens, 0);
    EXPECT_LT(r.steady_energy->output_tokens, want_tokens);
    EXPECT_FALSE(r.measurement);  // no meter
    EXPECT_TRUE(std::isnan(r.steady_energy->energy_j));
}

TEST(LoadStub, meters_the_level_and_its_steady_window) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.token_interval_s = 0.004;
        return r;
    });
    // 150 W from an energy counter, read at start, marks and stop: exact joules per window.
    energy::SyntheticParams p;
    p.kind = energy::SensorKind::energy_counter;
    auto counter = std::make_shared<energy::SyntheticSensor>(energy::Domain{energy::DomainKind::gpu, 0},
                                                             energy::PowerTrace({{0.0, 150.0}}), p);
    energy::Meter meter({counter});
    meter.set_idle_power({{energy::Domain{energy::DomainKind::gpu, 0}, 50.0}});
    LevelResult r = run_level(closed(2, 8), endpoint_of(stub), shapes({10}), {&meter, nullptr, {}});
    expect_accounting(r);
    ASSERT_EQ(r.status, LevelStatus::ok) << r.reason;
    ASSERT_TRUE(r.measurement && r.level_energy && r.steady_energy);
    const auto & m = *r.measurement;
    ASSERT_EQ(m.phases.size(), 3u);
    EXPECT_EQ(m.phases[0].name, "ramp_up");
    EXPECT_EQ(m.phases[1].name, "steady");
    EXPECT_EQ(m.phases[2].name, "ramp_down");
    const EnergyWindow & L = *r.level_energy;
    // The counter is read a few microseconds away from the stamps of start and stop.
    EXPECT_NEAR(L.energy_j, 150.0 * m.duration_s(), 0.01);
    ASSERT_TRUE(L.net_energy_j);
    EXPECT_NEAR(*L.net_energy_j, 100.0 * m.duration_s(), 0.01);
    EXPECT_NEAR(m.duration_s(), r.duration_s, 5e-3);  // the meter brackets the level
    EXPECT_DOUBLE_EQ(L.requests, 8.0);
    EXPECT_DOUBLE_EQ(L.output_tokens, 80.0);
    EXPECT_NEAR(L.j_per_request, L.energy_j / 8.0, 1e-9);
    EXPECT_NEAR(L.j_per_output_token, L.energy_j / 80.0, 1e-9);
    EXPECT_NEAR(L.wh_per_1000_requests, L.j_per_request * 1000.0 / 3600.0, 1e-12);
    EXPECT_NEAR(L.net_j_per_request, *L.net_energy_j / 8.0, 1e-9);

    const EnergyWindow & S = *r.steady_energy;
    const double steady_s = m.phases[1].t_end_s - m.phases[1].t_begin_s;
    EXPECT_NEAR(S.energy_j, 150.0 * steady_s, 0.01);
    EXPECT_NEAR(S.duration_s(), steady_s, 2e-3);            // our timestamps vs the meter's marks
    EXPECT_NEAR(S.requests, S.output_tokens / 10.0, 1e-9);  // request equivalents
    EXPECT_NEAR(S.j_per_output_token, S.energy_j / S.output_tokens, 1e-9);
    EXPECT_FALSE(r.j_per_input_token);  // decode and prefill are not separable here
}

TEST(LoadStub, events_split_across_reads_are_reassembled) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.split_bytes = 7;  // every send() carries 7 bytes: events, chunk headers and CRLFs split anywhere
        r.token_interval_s = 0.001;
        return r;
    });
    LevelResult r = run_level(closed(2, 4), endpoint_of(stub), shapes({12}));
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::ok) << r.reason;
    for (const auto & q : r.requests) {
        EXPECT_EQ(q.chunks, 12);
        EXPECT_EQ(q.completion_tokens, 12);
    }
}

TEST(LoadStub, chat_completions_count_content_deltas) {
    StubServer stub([](long, const nlohmann::json & body) {
        EXPECT_TRUE(body.contains("messages"));
        return StubReply{};
    });
    Endpoint ep = endpoint_of(stub);
    ep.api = Endpoint::Api::chat;
    LevelResult r = run_level(closed(1, 2), ep, shapes({5}));
    EXPECT_EQ(r.status, LevelStatus::ok) << r.reason;
    for (const auto & q : r.requests) EXPECT_EQ(q.chunks, 5);
}

TEST(LoadStub, open_loop_follows_a_seeded_poisson_schedule_under_its_in_flight_cap) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.token_interval_s = 0.01;
        return r;
    });
    LoadSpec spec;
    spec.mode = LoadMode::open;
    spec.rate_rps = 100.0;  // faster than 2 places can serve 5 x 10 ms tokens: arrivals must queue
    spec.max_in_flight = 2;
    spec.max_requests = 12;
    spec.seed = 77;
    LevelResult a = run_level(spec, endpoint_of(stub), shapes({5}));
    LevelResult b = run_level(spec, endpoint_of(stub), shapes({5}));
    expect_accounting(a);
    EXPECT_EQ(a.status, LevelStatus::ok) << a.reason;
    EXPECT_EQ(a.completed, 12);
    EXPECT_LE(max_overlap(a.requests), 2);
    EXPECT_GT(a.queue.max_ms, 0.0);  // some arrivals waited for a place
    // TTFT and E2E count from the arrival: a request that waited for a place has its wait in them.
    for (const auto & q : a.requests) {
        EXPECT_DOUBLE_EQ(q.ttft_s(), q.t_first_token_s - q.t_scheduled_s);
        EXPECT_DOUBLE_EQ(q.e2e_s(), q.t_end_s - q.t_scheduled_s);
    }
    EXPECT_GT(a.ttft.max_ms, a.queue.max_ms);
    EXPECT_GT(a.e2e.max_ms, a.queue.max_ms);
    for (size_t i = 0; i < a.requests.size(); ++i) {
        EXPECT_DOUBLE_EQ(a.requests[i].t_scheduled_s, b.requests[i].t_scheduled_s) << "same seed, same schedule";
        EXPECT_GE(a.requests[i].t_sent_s, a.requests[i].t_scheduled_s);
        if (i > 0) {
            EXPECT_GT(a.requests[i].t_scheduled_s, a.requests[i - 1].t_scheduled_s);
        }
    }
    spec.seed = 78;
    LevelResult c = run_level(spec, endpoint_of(stub), shapes({5}));
    EXPECT_NE(c.requests[0].t_scheduled_s, a.requests[0].t_scheduled_s);
    // The window: from the first token of request W (auto: min(2, 12 / 4) = 2) until the last arrival was sent.
    ASSERT_TRUE(a.steady_energy) << a.steady_note;
    std::vector<double> firsts;
    for (const auto & q : a.requests) firsts.push_back(q.t_first_token_s);
    std::sort(firsts.begin(), firsts.end());
    EXPECT_NEAR(a.steady_energy->t_begin_s, firsts[1], 1e-9);
    EXPECT_NEAR(a.steady_energy->t_end_s, a.requests.back().t_sent_s, 2e-3);
    EXPECT_EQ(a.steady_note,
              "open loop: from the first token of the 2nd request to the moment the last arrival was sent");
    // The schedule is open_loop_schedule's: 12 arrivals in 12 / 100 s, the rate asked delivered.
    LoadSpec first = spec;
    first.seed = 77;
    const std::vector<double> sched = open_loop_schedule(first);
    ASSERT_EQ(sched.size(), 12u);
    for (size_t i = 0; i < a.requests.size(); ++i) EXPECT_DOUBLE_EQ(a.requests[i].t_scheduled_s, sched[i]);
    EXPECT_DOUBLE_EQ(a.arrival_rate_rps, 100.0);
    EXPECT_DOUBLE_EQ(a.to_json(false)["arrival_rate_rps"].get<double>(), a.arrival_rate_rps);

    // Ended by the duration instead: rate x duration arrivals; a closed loop has no such rate.
    spec.max_requests = 0;
    spec.duration_s = 0.15;
    LevelResult d = run_level(spec, endpoint_of(stub), shapes({5}));
    EXPECT_EQ(d.status, LevelStatus::ok) << d.reason;
    EXPECT_EQ(d.sent, 15);
    EXPECT_DOUBLE_EQ(d.arrival_rate_rps, 100.0);
    EXPECT_TRUE(std::isnan(run_level(closed(1, 2), endpoint_of(stub), shapes({5})).arrival_rate_rps));
}

// Poisson arrivals given their count: N = rate x span uniform times in the span, sorted. Their gaps
// are those of a Poisson process (about exponential: coefficient of variation near 1), unlike an
// even spacing, and the span is the shorter of the count's and the duration's.
TEST(OpenLoopSchedule, a_poisson_process_given_its_count) {
    LoadSpec spec;
    spec.mode = LoadMode::open;
    spec.rate_rps = 2.0;
    spec.max_requests = 4000;
    spec.seed = 5;
    double span = 0;
    const std::vector<double> t = open_loop_schedule(spec, &span);
    ASSERT_EQ(t.size(), 4000u);
    EXPECT_DOUBLE_EQ(span, 2000.0);
    EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
    EXPECT_GE(t.front(), 0.0);
    EXPECT_LT(t.back(), 2000.0);
    double sum = 0, sum2 = 0;
    for (size_t i = 1; i < t.size(); ++i) {
        const double g = t[i] - t[i - 1];
        sum += g;
        sum2 += g * g;
    }
    const double n = static_cast<double>(t.size() - 1), mean = sum / n;
    const double cv = std::sqrt(sum2 / n - mean * mean) / mean;
    EXPECT_NEAR(mean, 0.5, 0.02);
    EXPECT_NEAR(cv, 1.0, 0.08) << "exponential-like gaps";
    EXPECT_EQ(open_loop_schedule(spec), t) << "a seed names one schedule";
    spec.seed = 6;
    EXPECT_NE(open_loop_schedule(spec), t);

    spec.max_requests = 10;
    spec.duration_s = 100;  // the count's span (5 s) is shorter
    EXPECT_EQ(open_loop_schedule(spec, &span).size(), 10u);
    EXPECT_DOUBLE_EQ(span, 5.0);
    spec.duration_s = 3;  // the duration's is: 2 x 3 = 6 arrivals in 3 s
    EXPECT_EQ(open_loop_schedule(spec, &span).size(), 6u);
    EXPECT_DOUBLE_EQ(span, 3.0);
    spec.rate_rps = 0.5;  // 1.5 rounds to 2
    EXPECT_EQ(open_loop_schedule(spec).size(), 2u);
    spec.max_requests = 0;
    spec.duration_s = 0;  // unbounded: no schedule (and run_level refuses the spec)
    EXPECT_TRUE(open_loop_schedule(spec, &span).empty());
    EXPECT_DOUBLE_EQ(span, 0.0);
}

TEST(LoadStub, http_errors_are_recorded_per_request_with_the_servers_message) {
    StubServer stub([](long i, const nlohmann::json &) {
        StubReply r;
        if (i % 3 == 1) r.kind = StubReply::Kind::http_error;
        return r;
    });
    LevelResult r = run_level(closed(2, 6), endpoint_of(stub), shapes({3}));
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::partial);
    EXPECT_EQ(r.completed, 4);
    EXPECT_EQ(r.failed, 2);
    ASSERT_FALSE(r.failure_reasons.empty());
    EXPECT_EQ(r.failure_reasons[0].first, "HTTP 500: scripted failure");
    EXPECT_EQ(r.failure_reasons[0].second, 2);
    EXPECT_NE(r.reason.find("2 of 6 requests failed"), std::string::npos) << r.reason;
    EXPECT_FALSE(r.token_check.checked);  // failures: the server's counters cannot be compared
}

TEST(LoadStub, malformed_sse_fails_the_request_at_once) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.kind = StubReply::Kind::malformed;  // the stub then holds the connection open for 2 s
        return r;
    });
    LoadSpec spec = closed(1, 3);
    spec.abort_after_consecutive_failures = 0;
    const double t0 = now_s();
    LevelResult r = run_level(spec, endpoint_of(stub), shapes({8}));
    EXPECT_LT(now_s() - t0, 1.5);
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::failed);
    EXPECT_EQ(r.failed, 3);
    for (const auto & q : r.requests) {
        EXPECT_EQ(q.chunks, 2);
        EXPECT_NE(q.error.find("malformed SSE: an event's data is not a JSON object"), std::string::npos) << q.error;
    }
    EXPECT_NE(r.reason.find("no request completed"), std::string::npos) << r.reason;
}

TEST(LoadStub, a_hanging_server_times_out_within_the_idle_timeout) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.kind = StubReply::Kind::hang;
        return r;
    });
    LoadSpec spec = closed(2, 2);
    spec.idle_timeout_s = 0.3;
    const double t0 = now_s();
    LevelResult r = run_level(spec, endpoint_of(stub), shapes({8}));
    const double took = now_s() - t0;
    EXPECT_GE(took, 0.3);
    EXPECT_LT(took, 1.5);
    expect_accounting(r);
    EXPECT_EQ(r.timed_out, 2);
    EXPECT_EQ(r.status, LevelStatus::failed);
    EXPECT_EQ(r.requests[0].error, "nothing received for 0.3 s");
}

TEST(LoadStub, refused_connections_abort_the_level_after_consecutive_failures) {
    const int port = pick_free_port();  // nothing listens there
    Endpoint ep;
    ep.port = port;
    LoadSpec spec = closed(1, 100);
    spec.abort_after_consecutive_failures = 3;
    const double t0 = now_s();
    LevelResult r = run_level(spec, ep, shapes({8}));
    EXPECT_LT(now_s() - t0, 1.0);
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::failed);
    EXPECT_EQ(r.sent, 3);
    EXPECT_EQ(r.failed, 3);
    EXPECT_EQ(r.not_sent, 97);
    EXPECT_NE(r.reason.find("3 requests in a row failed or timed out"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("Connection refused"), std::string::npos) << r.reason;
}

TEST(LoadStub, streams_cut_short_are_failures_with_their_reason) {
    StubServer stub([](long i, const nlohmann::json &) {
        StubReply r;
        r.kind = i == 0 ? StubReply::Kind::close_mid_stream : StubReply::Kind::no_done;
        return r;
    });
    LoadSpec spec = closed(1, 2);
    LevelResult r = run_level(spec, endpoint_of(stub), shapes({6}));
    expect_accounting(r);
    ASSERT_EQ(r.failed, 2);
    EXPECT_EQ(r.requests[0].error, "the connection closed before the stream ended (no data: [DONE])");
    EXPECT_EQ(r.requests[0].chunks, 2);
    EXPECT_EQ(r.requests[1].error, "the stream ended without data: [DONE]");
    EXPECT_EQ(r.requests[1].completion_tokens, 6);  // its usage arrived; it still failed
}

TEST(LoadStub, a_token_count_the_servers_metrics_disagree_with_is_reported) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.metrics_completion_bias = 3;
        return r;
    });
    LevelResult r = run_level(closed(1, 2), endpoint_of(stub), shapes({4}));
    EXPECT_EQ(r.status, LevelStatus::ok);
    EXPECT_TRUE(r.token_check.checked);
    EXPECT_FALSE(r.token_check.match);
    EXPECT_NE(r.token_check.note.find("MISMATCH"), std::string::npos) << r.token_check.note;
    EXPECT_DOUBLE_EQ(r.token_check.metrics_completion_tokens - r.token_check.usage_completion_tokens, 3.0);
}

TEST(LoadStub, a_stop_request_cancels_what_is_in_flight) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.token_interval_s = 0.02;
        return r;
    });
    LoadSpec spec = closed(2, 50);
    spec.progress_interval_s = 0.05;
    StopAfter observer(1);
    const double t0 = now_s();
    LevelResult r = run_level(spec, endpoint_of(stub), shapes({20}), {nullptr, &observer, {}});
    EXPECT_LT(now_s() - t0, 2.0);
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::stopped);
    EXPECT_EQ(r.reason, "stop requested");
    EXPECT_GE(r.completed, 1);
    EXPECT_GE(r.failed, 1);
    EXPECT_EQ(r.not_sent, 50 - r.sent);
    bool cancelled = false;
    for (const auto & q : r.requests) cancelled = cancelled || q.error == "cancelled: stop requested";
    EXPECT_TRUE(cancelled);
}

TEST(LoadStub, a_server_that_stops_aborts_the_level_with_its_reason) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.token_interval_s = 0.02;
        return r;
    });
    const double t0 = now_s();
    LevelHooks hooks;
    hooks.server_liveness = [t0]() -> std::string {
        return now_s() - t0 > 0.2 ? "server (pid 1) killed by signal 9 (Killed)" : "";
    };
    LevelResult r = run_level(closed(2, 50), endpoint_of(stub), shapes({40}), hooks);
    EXPECT_LT(now_s() - t0, 1.5);
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::failed);
    EXPECT_EQ(r.reason, "server (pid 1) killed by signal 9 (Killed)");
    EXPECT_EQ(r.failure_reasons[0].first, "cancelled: the level was aborted");
}

TEST(LoadStub, a_spec_without_a_bound_or_a_remote_host_is_refused) {
    LoadSpec unbounded;
    unbounded.max_requests = 0;
    unbounded.duration_s = 0;
    Endpoint ep;
    ep.port = 1234;
    EXPECT_THROW(run_level(unbounded, ep, shapes({4})), jb::UsageError);
    Endpoint remote;
    remote.host = "10.0.0.1";
    remote.port = 80;
    EXPECT_THROW(run_level(closed(1, 1), remote, shapes({4})), jb::UsageError);
    EXPECT_THROW(run_level(closed(1, 1), ep, {}), jb::UsageError);
}

TEST(LoadStub, a_duration_bound_stops_sending_and_drains) {
    StubServer stub([](long, const nlohmann::json &) {
        StubReply r;
        r.token_interval_s = 0.01;
        return r;
    });
    LoadSpec spec = closed(2, 0);
    spec.duration_s = 0.3;
    LevelResult r = run_level(spec, endpoint_of(stub), shapes({5}));
    expect_accounting(r);
    EXPECT_EQ(r.status, LevelStatus::ok);
    for (const auto & q : r.requests) EXPECT_LT(q.t_sent_s, 0.3);
    EXPECT_GE(r.duration_s, 0.3);
    EXPECT_LT(r.duration_s, 0.3 + 0.5);
}
