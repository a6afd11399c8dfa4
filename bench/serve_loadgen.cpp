// The load generator must not be the bottleneck (issue "Serving under load": >= 2,000 streamed
// tokens/s of bookkeeping on one core). This runs closed-loop levels against the in-process
// stub server, which streams tokens as fast as its sockets take them, and reports the
// generator's own CPU time (the one thread that runs the level's event loop) per 1,000 tokens,
// and from it the tokens/s one core could keep up with. Every token is parsed as a real one
// would be: HTTP chunk, SSE event, JSON, timestamps, inter-token gap.
//
//   bench_serve_loadgen [--tokens=512] [--requests=32] [--concurrency=1,4,16] [--per-write=1,16]
// --per-write: token events per send() of the stub; 1 makes every token its own chunk on the
// wire (as llama-server sends them), 16 lets reads carry bursts. Exits 1 below 2,000 tokens/s.

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "serve/load.hpp"
#include "serve/stub_server.hpp"

using namespace jb::serve;

namespace {

std::vector<int> int_list(const char * s) {
    std::vector<int> out;
    std::string text(s);
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        out.push_back(
            std::atoi(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos).c_str()));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char ** argv) {
    int tokens = 512;
    int requests = 32;
    std::vector<int> concurrency = {1, 4, 16};
    std::vector<int> per_write = {1, 16};
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--tokens=", 9) == 0) {
            tokens = std::atoi(argv[i] + 9);
        } else if (std::strncmp(argv[i], "--requests=", 11) == 0) {
            requests = std::atoi(argv[i] + 11);
        } else if (std::strncmp(argv[i], "--concurrency=", 14) == 0) {
            concurrency = int_list(argv[i] + 14);
        } else if (std::strncmp(argv[i], "--per-write=", 12) == 0) {
            per_write = int_list(argv[i] + 12);
        } else {
            fmt::print(stderr, "usage: {} [--tokens=N] [--requests=N] [--concurrency=A,B] [--per-write=A,B]\n",
                       argv[0]);
            return 2;
        }
    }

    fmt::print("{} requests x {} tokens per level; generator = the one thread running the event loop\n\n", requests,
               tokens);
    fmt::print("{:>11} {:>9} {:>8} {:>12} {:>13} {:>15} {:>18}\n", "concurrency", "per write", "tokens", "wall tok/s",
               "gen CPU s", "CPU s/1k tok", "1-core tok/s");
    double worst = 1e300;
    for (int pw : per_write) {
        for (int c : concurrency) {
            StubServer stub([pw](long, const nlohmann::json &) {
                StubReply r;
                r.tokens_per_write = pw;
                return r;
            });
            std::vector<RequestShape> shapes(1);
            shapes[0].prompt = "benchmark prompt";
            shapes[0].max_tokens = tokens;
            LoadSpec spec;
            spec.mode = LoadMode::closed;
            spec.concurrency = c;
            spec.max_requests = requests;
            Endpoint ep;
            ep.port = stub.port();
            LevelResult r = run_level(spec, ep, shapes);
            if (r.status != LevelStatus::ok) {
                fmt::print(stderr, "level failed: {}\n", r.reason);
                return 1;
            }
            const double capacity = r.load_cpu.cpu_s > 0 ? static_cast<double>(r.chunks) / r.load_cpu.cpu_s : 0.0;
            worst = std::min(worst, capacity);
            fmt::print("{:>11} {:>9} {:>8} {:>12.0f} {:>13.3f} {:>15.4f} {:>18.0f}\n", c, pw, r.chunks,
                       static_cast<double>(r.chunks) / r.duration_s, r.load_cpu.cpu_s, r.load_cpu.cpu_s_per_1000_tokens,
                       capacity);
        }
    }
    const bool ok = worst >= 2000.0;
    fmt::print("\n{}: the slowest level's generator keeps up with {:.0f} tokens/s on one core (target >= 2,000)\n",
               ok ? "PASS" : "FAIL", worst);
    return ok ? 0 : 1;
}
