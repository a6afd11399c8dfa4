// The SSE and HTTP parsers take bytes as the network delivers them: every test here feeds the
// same input split at every possible place and expects the same result.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "serve/http.hpp"
#include "serve/sse.hpp"
#include "joulebench/error.hpp"

using namespace jb::serve;

namespace {

std::vector<std::string> sse_events(const std::string & stream, size_t split, std::string * error = nullptr) {
    SseParser p;
    std::vector<std::string> out;
    for (size_t i = 0; i < stream.size(); i += split) {
        if (!p.feed(std::string_view(stream).substr(i, split), out)) break;
    }
    if (error) *error = p.error();
    return out;
}

struct Parsed {
    bool ok = false;
    int status = 0;
    std::string body;
    std::string error;
    bool done = false;
};

Parsed parse_http(const std::string & bytes, size_t split, bool eof = true) {
    HttpResponseParser p;
    Parsed r;
    r.ok = true;
    for (size_t i = 0; i < bytes.size() && r.ok; i += split)
        r.ok = p.feed(std::string_view(bytes).substr(i, split), r.body);
    if (r.ok && eof && !p.done()) r.ok = p.finish_at_eof();
    r.status = p.status();
    r.error = p.error();
    r.done = p.done();
    return r;
}

}  // namespace

TEST(Sse, yields_the_same_events_however_the_stream_is_split) {
    const std::string stream =
        "data: {\"a\":1}\n\n"
        ":\n\n"                                // a keep-alive comment
        "data: first\r\ndata: second\r\n\r\n"  // two data lines, CRLF
        "event: x\rdata:no-space\r\r"          // CR line ends, no space after the colon
        "id: 7\n\n"                            // no data: not dispatched
        "data: [DONE]\n\n";
    const std::vector<std::string> want = {"{\"a\":1}", "first\nsecond", "no-space", "[DONE]"};
    for (size_t split = 1; split <= stream.size(); ++split) {
        EXPECT_EQ(sse_events(stream, split), want) << "split every " << split << " bytes";
    }
}

TEST(Sse, counts_comments_and_knows_when_it_stopped_mid_event) {
    SseParser p;
    std::vector<std::string> out;
    ASSERT_TRUE(p.feed(": ping\n\n: ping\n\ndata: {\"x\"", out));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(p.comments(), 2);
    EXPECT_TRUE(p.mid_event());
}

TEST(Sse, refuses_an_event_that_never_ends) {
    SseParser p(64);
    std::vector<std::string> out;
    EXPECT_FALSE(p.feed("data: " + std::string(100, 'x'), out));
    EXPECT_NE(p.error().find("longer than 64 bytes"), std::string::npos) << p.error();
    EXPECT_FALSE(p.feed("\n\n", out));  // stays failed
}

TEST(Http, decodes_a_chunked_body_however_it_is_split) {
    const std::string bytes =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        "10\r\ndata: abcdefgh\n\n\r\n"
        "5;ext=1\r\nhello\r\n"
        "0\r\nTrailer: x\r\n\r\n";
    for (size_t split = 1; split <= bytes.size(); ++split) {
        Parsed r = parse_http(bytes, split, false);
        ASSERT_TRUE(r.ok) << "split " << split << ": " << r.error;
        EXPECT_TRUE(r.done) << "split " << split;
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "data: abcdefgh\n\nhello") << "split " << split;
    }
}

TEST(Http, reads_content_length_and_close_delimited_bodies) {
    Parsed a = parse_http("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!", 3, false);
    EXPECT_TRUE(a.ok && a.done);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, "busy!");
    Parsed b = parse_http("HTTP/1.0 200 OK\r\n\r\nuntil the end", 4, true);
    EXPECT_TRUE(b.ok && b.done);
    EXPECT_EQ(b.body, "until the end");
    Parsed c = parse_http("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 5, false);
    EXPECT_TRUE(c.ok && c.done);
    EXPECT_EQ(c.status, 204);
}

TEST(Http, reports_malformed_and_truncated_responses) {
    Parsed bad_status = parse_http("SMTP ready\r\n\r\n", 100);
    EXPECT_FALSE(bad_status.ok);
    EXPECT_NE(bad_status.error.find("status line"), std::string::npos) << bad_status.error;

    Parsed bad_chunk = parse_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100);
    EXPECT_FALSE(bad_chunk.ok);
    EXPECT_NE(bad_chunk.error.find("chunk size"), std::string::npos) << bad_chunk.error;

    Parsed cut = parse_http("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 100, true);
    EXPECT_FALSE(cut.ok);
    EXPECT_NE(cut.error.find("middle of the response body"), std::string::npos) << cut.error;

    Parsed nothing = parse_http("", 1, true);
    EXPECT_FALSE(nothing.ok);
    EXPECT_NE(nothing.error.find("before any response"), std::string::npos) << nothing.error;
}

TEST(Http, only_talks_to_loopback_hosts) {
    EXPECT_TRUE(is_loopback_host("127.0.0.1"));
    EXPECT_TRUE(is_loopback_host("127.1.2.3"));
    EXPECT_TRUE(is_loopback_host("localhost"));
    EXPECT_TRUE(is_loopback_host("::1"));
    EXPECT_FALSE(is_loopback_host("10.0.0.1"));
    EXPECT_FALSE(is_loopback_host("example.com"));
    EXPECT_THROW(require_loopback("192.168.1.1", "endpoint"), jb::UsageError);
    std::string error;
    EXPECT_EQ(connect_nonblocking("8.8.8.8", 80, error), -1);
    EXPECT_NE(error.find("not a loopback"), std::string::npos);
}
