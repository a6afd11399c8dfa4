// The serve runner (joulebench/serve.hpp): every (model, scheme) served by llama-server (or an
// endpoint already running), driven at every level, each level metered and committed to SQLite
// in one transaction as it finishes. The store lock, the device claim, the idle baseline, the
// host record and the scheme files are the sweep's (sweep/bookkeeping.hpp, sweep/schemes.hpp).

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "energy/device_claim.hpp"
#include "energy/discover.hpp"
#include "energy/gpu_sharing.hpp"
#include "energy/meter.hpp"
#include "engine/llama_engine.hpp"
#include "joulebench/error.hpp"
#include "joulebench/serve.hpp"
#include "joulebench/store.hpp"
#include "quant/cache.hpp"
#include "quant/gguf_file.hpp"
#include "quant/hash.hpp"
#include "serve/http.hpp"
#include "serve/load.hpp"
#include "serve/process.hpp"
#include "serve/requests.hpp"
#include "joulebench/serving.hpp"
#include "serve/tuned.hpp"
#include "store/lock.hpp"
#include "sweep/bookkeeping.hpp"
#include "sweep/host_info.hpp"
#include "sweep/schemes.hpp"
#include "util/paths.hpp"

namespace jb {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

class Notify {
public:
    explicit Notify(ServeObserver * o) : o_(o ? o : &none_) {}
    ServeObserver * operator->() { return o_; }
    void info(const std::string & text) { o_->on_message(MessageLevel::info, text); }
    void warn(const std::string & text) { o_->on_message(MessageLevel::warning, text); }

private:
    ServeObserver none_;
    ServeObserver * o_;
};

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// ---- the spec

struct UrlEndpoint {
    std::string host;
    int port = 0;
};

// "http://127.0.0.1:8080[/...]" or "127.0.0.1:8080"; loopback only.
UrlEndpoint parse_url(const std::string & url) {
    std::string rest = url;
    if (rest.rfind("https://", 0) == 0) throw UsageError(fmt::format("--url {}: https is not supported (loopback http only)", url));
    if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
    rest = rest.substr(0, rest.find('/'));
    UrlEndpoint e;
    size_t colon = rest.rfind(':');
    if (!rest.empty() && rest.front() == '[') {  // [::1]:8080
        const size_t close = rest.find(']');
        if (close == std::string::npos) throw UsageError(fmt::format("--url {}: unterminated [host]", url));
        e.host = rest.substr(1, close - 1);
        colon = rest.find(':', close);
    } else {
        e.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    }
    const std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
        throw UsageError(fmt::format("--url {}: expected http://HOST:PORT with a port number", url));
    }
    e.port = std::stoi(port);
    serve::require_loopback(e.host, "--url");
    return e;
}

struct Level {
    serve::LoadMode mode = serve::LoadMode::closed;
    int concurrency = 1;
    double rate = 0.0;
    std::string name() const {
        return mode == serve::LoadMode::closed ? fmt::format("c={}", concurrency) : fmt::format("r={:g}", rate);
    }
};

// What every level sends: the parsed lengths and the prompts' source.
struct Workload {
    serve::LengthDist input, output;
    enum class Source { synthetic, tasks, jsonl } source = Source::synthetic;
    std::string task;  // tasks: a task name or a mix (short, medium, long)
    std::string file;  // jsonl
    json description;  // what the workload fingerprint covers
    std::string fp;
};

long requests_of(const ServeSpec & spec, const Level & l) {
    if (spec.requests > 0 || spec.duration_s > 0) return spec.requests;
    if (l.mode == serve::LoadMode::closed) return std::max<long>(16, 4L * l.concurrency);
    return std::max<long>(16, long(std::ceil(l.rate * 20.0)));
}

Workload parse_workload(const ServeSpec & spec) {
    Workload w;
    w.input = serve::parse_length_dist(spec.input_len, "--input-len");
    w.output = serve::parse_length_dist(spec.output_len, "--output-len");
    json d = {{"output_len", w.output.str()},
              {"api", spec.api},
              {"requests", spec.requests},
              {"duration_s", spec.duration_s},
              {"seed", spec.seed},
              {"ignore_eos", spec.ignore_eos},
              {"temperature", 0.0}};
    if (spec.prompts.empty()) {
        d["prompts"] = "synthetic";
        d["input_len"] = w.input.str();
        if (!spec.corpus.empty()) {
            std::error_code ec;
            if (!fs::is_regular_file(spec.corpus, ec)) throw InputError(spec.corpus, "corpus file not found");
            d["corpus_xxh64"] = hex64(xxh64_file(spec.corpus));
        }
    } else if (spec.prompts.rfind("tasks:", 0) == 0) {
        w.source = Workload::Source::tasks;
        w.task = spec.prompts.substr(6);
        if (w.task.empty()) throw UsageError("--prompts tasks:NAME: no task name (gsm8k, mmlu, ..., short, medium, long)");
        d["prompts"] = spec.prompts;
    } else {
        w.source = Workload::Source::jsonl;
        w.file = spec.prompts;
        std::error_code ec;
        if (!fs::is_regular_file(w.file, ec)) throw InputError(w.file, "prompt file not found (--prompts FILE.jsonl or tasks:NAME)");
        d["prompts"] = "jsonl";
        d["file"] = fs::path(w.file).filename().string();
        d["file_xxh64"] = hex64(xxh64_file(w.file));
    }
    w.description = d;
    w.fp = hex64(xxh64(d.dump()));
    return w;
}

void check_spec(const ServeSpec & spec) {
    if (spec.url.empty() && spec.models.empty()) throw UsageError("-m/--models is required (or --url for a running endpoint)");
    if (spec.schemes.empty()) throw UsageError("--schemes: no scheme given");
    if (!spec.url.empty() && spec.schemes.size() > 1)
        throw UsageError("--url serves one model under one scheme: give at most one --schemes label");
    if (!spec.url.empty() && spec.models.size() > 1) throw UsageError("--url serves one model: give at most one -m");
    if (!spec.url.empty() && spec.tuned)
        throw UsageError("--tuned starts llama-server with the tuned settings: it cannot drive --url");
    if (spec.concurrency.empty() && spec.rates.empty()) throw UsageError("no level: give --concurrency and/or --rate");
    for (int c : spec.concurrency) {
        if (c < 1) throw UsageError(fmt::format("--concurrency: {} is not a number of clients >= 1", c));
    }
    for (double r : spec.rates) {
        if (!(r > 0) || !std::isfinite(r)) throw UsageError(fmt::format("--rate: {} is not a rate > 0 requests/s", r));
    }
    if (spec.requests < 0) throw UsageError(fmt::format("--requests must be >= 0 (got {})", spec.requests));
    if (spec.repeats < 1) throw UsageError(fmt::format("--repeats must be >= 1 (got {})", spec.repeats));
    if (!(spec.duration_s >= 0)) throw UsageError(fmt::format("--duration must be >= 0 s (got {})", spec.duration_s));
    for (double r : spec.rates) {
        // Arrivals are rate x duration, rounded (serve::open_loop_schedule): under one, the level
        // would hold one arrival at a rate it was not asked for.
        if (spec.requests == 0 && spec.duration_s > 0 && r * spec.duration_s < 0.5) {
            throw UsageError(fmt::format("--rate {:g} with --duration {:g}: {:.2g} arrivals a level, fewer than one; a "
                                         "longer --duration or --requests N",
                                         r, spec.duration_s, r * spec.duration_s));
        }
    }
    if (spec.max_in_flight < 0) throw UsageError("--max-in-flight must be >= 0");
    if (spec.api != "completions" && spec.api != "chat")
        throw UsageError(fmt::format("--api '{}': expected completions or chat", spec.api));
    if (spec.idle_s < 0 || spec.idle_check_s < 0 || spec.settle_s < 0)
        throw UsageError("--idle-s, --idle-check-s and --settle-s must be >= 0");
    if (!(spec.interval_ms > 0)) throw UsageError(fmt::format("--interval-ms must be > 0 (got {})", spec.interval_ms));
    if (!(spec.request_timeout_s > 0) || !(spec.idle_timeout_s > 0))
        throw UsageError("--request-timeout-s and --idle-timeout-s must be > 0");
    const auto & s = spec.server;
    if (s.parallel < 0 || s.ctx_size < 0 || s.batch_size < 0 || s.ubatch_size < 0 || s.threads < 0 || s.threads_batch < 0)
        throw UsageError("server options (--parallel, --ctx-size, --batch-size, --ubatch-size, --threads) must be >= 0");
    for (const std::string * fa : {&s.flash_attn}) {
        if (!fa->empty() && *fa != "on" && *fa != "off" && *fa != "auto")
            throw UsageError(fmt::format("--flash-attn '{}': expected on, off or auto", *fa));
    }
}

// ---- server settings

struct ServerPlan {
    serve::ServerOptions options;
    std::string settings_fp;
    json settings;
};

int round_up(int v, int to) {
    return (v + to - 1) / to * to;
}

ServerPlan plan_server(const ServeSpec & spec, const std::string & binary, const std::string & model_file,
                       const ResolvedScheme * rs, const Workload & w) {
    ServerPlan p;
    serve::ServerOptions & o = p.options;
    const auto & s = spec.server;
    o.binary = binary;
    o.model = model_file;
    int widest = 0;
    for (int c : spec.concurrency) widest = std::max(widest, c);
    // Open loop: the requests in flight are capped by --max-in-flight, else by the slots, which
    // are then at least 16 (arrivals beyond the slots wait on our side and their wait is reported).
    if (!spec.rates.empty()) widest = std::max(widest, spec.max_in_flight > 0 ? spec.max_in_flight : 16);
    o.parallel = s.parallel > 0 ? s.parallel : std::max(widest, 1);
    const int per_slot = w.source == Workload::Source::synthetic ? round_up(w.input.max + w.output.max + 64, 256)
                                                                 : round_up(4096 + w.output.max, 256);
    o.ctx_size = s.ctx_size > 0 ? s.ctx_size : o.parallel * per_slot;
    o.batch_size = s.batch_size;
    o.ubatch_size = s.ubatch_size;
    o.flash_attn = s.flash_attn;
    o.cache_type_k = s.cache_type_k;
    o.cache_type_v = s.cache_type_v;
    if (rs) {
        // The scheme's KV types (as the sweep runs them); f16 is the server's default and left unset.
        if (o.cache_type_k.empty() && rs->scheme.kv_type_k != GGML_TYPE_F16) o.cache_type_k = cache_type_name(rs->scheme.kv_type_k);
        if (o.cache_type_v.empty() && rs->scheme.kv_type_v != GGML_TYPE_F16) o.cache_type_v = cache_type_name(rs->scheme.kv_type_v);
        if (o.flash_attn.empty() && rs->scheme.flash_attn_required()) o.flash_attn = "on";
    }
    o.n_gpu_layers = s.n_gpu_layers;
    o.threads = s.threads;
    o.threads_batch = s.threads_batch;
    o.extra_args = s.extra_args;
    // Requests go with cache_prompt false (no prompt reuse: every level measured cold), so a prompt
    // cache only copies each finished slot's KV to host memory, and when a level starts the previous
    // level's idle slots (an H200 level after 64 clients waited 4 s for its first tokens).
    o.prompt_cache = false;
    o.startup_timeout_s = s.startup_timeout_s;
    o.stop_grace_s = 10.0;
    p.settings = serve::server_settings_json(o);
    json fp = p.settings;
    fp.erase("binary");  // where the binary or model lies does not change the settings
    fp.erase("model");
    p.settings_fp = hex64(xxh64(fp.dump()));
    return p;
}

json endpoint_settings(const std::string & url) {
    return {{"server", "external"},
            {"url", url},
            {"note", "an endpoint already running: its settings are its own; the metered devices' energy includes "
                     "everything that ran on them"}};
}

// ---- request shapes

std::string read_text(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path, "cannot read");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<serve::RequestShape> build_shapes(const ServeSpec & spec, const Workload & w, long n,
                                              const std::string & host, int port) {
    std::vector<serve::RequestShape> shapes;
    if (w.source == Workload::Source::synthetic) {
        serve::SyntheticSpec s;
        s.input_tokens = w.input;
        s.output_tokens = w.output;
        s.n_requests = n;
        s.seed = spec.seed;
        s.corpus_text = read_text(spec.corpus.empty() ? serve::default_corpus_path() : spec.corpus);
        serve::ServerTokenizer tokenizer(host, port);
        return serve::synthetic_requests(s, tokenizer);
    }
    const std::string data_dir = spec.data_dir.empty() ? shipped_path("data/samples") : spec.data_dir;
    if (w.source == Workload::Source::jsonl) {
        shapes = serve::jsonl_requests(w.file, w.output.kind == serve::LengthDist::Kind::fixed ? w.output.value
                                                                                                : int(w.output.mean));
    } else {
        serve::TaskPromptSpec t;
        const auto mixes = serve::task_prompt_preset_names();
        if (std::find(mixes.begin(), mixes.end(), w.task) != mixes.end()) {
            t = serve::task_prompt_preset(w.task, data_dir, 1);
        } else {
            t.task = w.task;
            t.data_dir = data_dir;
        }
        t.limit = int(std::min<long>(n, 100000));
        t.seed = spec.seed;
        t.max_tokens = 1;
        shapes = serve::task_requests(t);
        serve::Rng rng(spec.seed);
        for (auto & s : shapes) s.max_tokens = w.output.sample(rng);
    }
    return shapes;
}

// ---- a level's record

double ms_or_nan(const serve::LatencySummary & s, double v) {
    return s.n > 0 ? v : NAN;
}

void fill_record(ServeLevelRecord & rec, const serve::LevelResult & r) {
    rec.status = r.status == serve::LevelStatus::ok        ? kServeOk
                 : r.status == serve::LevelStatus::partial ? kServePartial
                                                           : kServeFailed;
    rec.reason = r.reason;
    rec.sent = r.sent;
    rec.completed = r.completed;
    rec.failed = r.failed;
    rec.timed_out = r.timed_out;
    rec.not_sent = r.not_sent;
    rec.duration_s = r.duration_s;
    rec.prompt_tokens = r.prompt_tokens;
    rec.cached_prompt_tokens = r.cached_prompt_tokens;
    rec.completion_tokens = r.completion_tokens;
    rec.requests_per_s = r.requests_per_s;
    rec.output_tokens_per_s = r.output_tokens_per_s;
    rec.input_tokens_per_s = r.input_tokens_per_s;
    rec.ttft_p50_ms = ms_or_nan(r.ttft, r.ttft.p50_ms);
    rec.ttft_p90_ms = ms_or_nan(r.ttft, r.ttft.p90_ms);
    rec.ttft_p99_ms = ms_or_nan(r.ttft, r.ttft.p99_ms);
    rec.tpot_p50_ms = ms_or_nan(r.tpot, r.tpot.p50_ms);
    rec.tpot_p90_ms = ms_or_nan(r.tpot, r.tpot.p90_ms);
    rec.tpot_p99_ms = ms_or_nan(r.tpot, r.tpot.p99_ms);
    rec.itl_p50_ms = ms_or_nan(r.itl, r.itl.p50_ms);
    rec.itl_p90_ms = ms_or_nan(r.itl, r.itl.p90_ms);
    rec.itl_p99_ms = ms_or_nan(r.itl, r.itl.p99_ms);
    rec.e2e_p50_ms = ms_or_nan(r.e2e, r.e2e.p50_ms);
    rec.e2e_p99_ms = ms_or_nan(r.e2e, r.e2e.p99_ms);
    rec.queue_p99_ms = ms_or_nan(r.queue, r.queue.p99_ms);
    if (r.level_energy) {
        const auto & e = *r.level_energy;
        rec.energy_j = e.energy_j;
        rec.energy_net_j = e.net_energy_j.value_or(NAN);
        rec.energy_estimated = e.estimated;
        rec.j_per_request = e.j_per_request;
        rec.j_per_output_token = e.j_per_output_token;
        rec.wh_per_1000_requests = e.wh_per_1000_requests;
        rec.avg_power_w = e.duration_s() > 0 ? e.energy_j / e.duration_s() : NAN;
    }
    if (r.steady_energy) {
        const auto & e = *r.steady_energy;
        rec.steady_s = e.duration_s();
        rec.steady_energy_j = e.energy_j;
        rec.steady_energy_net_j = e.net_energy_j.value_or(NAN);
        rec.steady_output_tokens = e.output_tokens;
        rec.steady_j_per_request = e.j_per_request;
        rec.steady_j_per_output_token = e.j_per_output_token;
        rec.steady_wh_per_1000_requests = e.wh_per_1000_requests;
    }
    rec.steady_note = r.steady_note;
    rec.j_per_input_token = r.j_per_input_token.value_or(NAN);
    rec.tokens_match = r.token_check.checked ? (r.token_check.match ? 1 : 0) : -1;
    rec.load_cpu_s = r.load_cpu.cpu_s;
    rec.result_json = r.to_json(/*with_requests=*/true).dump();
}

// A level that could not run at all (the server did not start, the prompts could not be built).
ServeLevelRecord failed_record(ServeLevelRecord rec, const std::string & reason) {
    rec.status = kServeFailed;
    rec.reason = reason;
    rec.result_json = json{{"status", "failed"}, {"reason", reason}}.dump();
    return rec;
}

// Forwards a level's progress and the stop request to the ServeObserver.
class LevelBridge final : public serve::LevelObserver {
public:
    LevelBridge(Notify & notify, const ServeLevel & level) : notify_(notify), level_(level) {}
    bool should_stop() override { return notify_->stop_requested(); }
    void on_progress(const serve::Progress & p) override {
        ServeProgress q;
        q.t_s = p.t_s;
        q.sent = p.sent;
        q.completed = p.completed;
        q.failed = p.failed;
        q.timed_out = p.timed_out;
        q.in_flight = p.in_flight;
        q.waiting = p.waiting;
        q.chunks_per_s = p.chunks_per_s;
        q.steady = p.steady;
        notify_->on_level_progress(level_, q);
    }

private:
    Notify & notify_;
    const ServeLevel & level_;
};

}  // namespace

std::string ServeLevel::label() const {
    return fmt::format("{} {} {}", model_file, scheme, level);
}

std::string default_server_binary() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return "llama-server";
    return (self.parent_path() / "llama-server").string();
}

ServeOutcome run_serve(const ServeSpec & spec, ServeObserver * observer) {
    Notify notify(observer);
    check_spec(spec);
    Workload workload = parse_workload(spec);
    const std::string base_fp = workload.fp;  // the load, as a tune of it names it
    workload.fp += spec.workload_suffix;
    if (spec.tuned) workload.fp += "|server=tuned";
    if (!spec.tune_json.empty()) workload.description["tune"] = json::parse(spec.tune_json);
    const bool external = !spec.url.empty();
    const UrlEndpoint url_ep = external ? parse_url(spec.url) : UrlEndpoint{};
    for (const auto & m : spec.models) {
        std::error_code ec;
        if (!fs::is_regular_file(m, ec)) throw InputError(m, "model file not found");
    }
    for (const auto & s : spec.schemes) {
        if (!external && s != "dynamic") parse_scheme(s);
    }
    std::string binary;
    if (!external) {
        binary = spec.server_bin.empty() ? default_server_binary() : spec.server_bin;
        std::error_code ec;
        if (!fs::is_regular_file(binary, ec)) {
            throw InputError(binary, "llama-server not found (build it: cmake --build build --target llama-server; "
                                     "or give --server-bin)");
        }
        if (::access(binary.c_str(), X_OK) != 0) throw InputError(binary, "llama-server is not executable");
    }
    std::vector<Level> levels;
    for (int c : spec.concurrency) levels.push_back({serve::LoadMode::closed, c, 0.0});
    for (double r : spec.rates) levels.push_back({serve::LoadMode::open, 0, r});

    fs::path db_path(spec.db);
    if (db_path.has_parent_path()) fs::create_directories(db_path.parent_path());
    const StoreLock lock = StoreLock::acquire(spec.db, spec.command_line.empty() ? "a serve run" : spec.command_line,
                                              spec.wait_for_db, [&](const LockHolder & h) {
                                                  notify.info(fmt::format("{} is in use by {}: waiting for it", spec.db,
                                                                          describe_holder(h)));
                                              });
    Store store = Store::open(spec.db, /*create=*/true);

    energy::Discovery found = energy::discover_sensors();
    sweep::keep_placement_gpus(found, spec.engine.gpus);
    HostRecord host = sweep::describe_host(found);
    host.fingerprint = host_fingerprint(host);
    store.upsert_host(host);
    const std::string sensors = energy::discovery_json(found);
    const energy::DeviceClaim claim(found.sensors, "serve " + spec.db);
    energy::MeterOverlapWatch overlap(claim);
    if (const auto others = claim.others(); !others.empty()) {
        notify.warn(fmt::format("another joulebench run meters the same devices: {}; each counts the other's load, and "
                                "the levels that overlap are marked shared_meter",
                                energy::describe_other_meters(others)));
    }
    const int64_t run_id = store.begin_run(spec.command_line, host.fingerprint);

    energy::MeterParams mp;
    mp.interval_s = spec.interval_ms / 1000.0;
    std::vector<std::pair<energy::Domain, double>> idle;
    ServeOutcome out;
    out.idle_w = NAN;
    // Measured before the first server starts, and only if a level is left to run.
    bool idle_measured = false;
    auto measure_idle = [&] {
        if (idle_measured || !(spec.idle_s > 0)) return;
        idle_measured = true;
        notify.info(fmt::format("measuring idle power for {:.1f} s", spec.idle_s));
        idle = sweep::idle_baseline(found.sensors, mp, spec.idle_s);
        out.idle_w = sweep::total_w(idle);
    };
    for (const auto & u : found.unavailable) notify.info(fmt::format("not measured: {}: {}", u.what, u.reason));

    const std::vector<std::string> model_list = spec.models.empty() ? std::vector<std::string>{""} : spec.models;
    const size_t total = model_list.size() * spec.schemes.size() * levels.size() * size_t(spec.repeats);
    size_t index = 0;
    bool unsettled_said = false;
    const std::string cache_dir = spec.cache_dir.empty() ? default_cache_dir() : spec.cache_dir;
    long n_shapes = 1;
    for (const Level & l : levels) n_shapes = std::max(n_shapes, requests_of(spec, l) > 0 ? requests_of(spec, l) : 256L);
    n_shapes = std::min<long>(n_shapes, 4096);

    // Rounds (--repeats) outermost: every model and scheme once, then again, each with a fresh server.
    for (size_t mi = 0; mi < model_list.size() * size_t(spec.repeats); ++mi) {
        const int round = int(mi / model_list.size()) + 1;
        const std::string & model_path = model_list[mi % model_list.size()];
        const std::string level_fp = workload.fp + metrics::repeat_suffix(round);
        if (out.stopped) break;
        ModelRecord model;
        if (!model_path.empty()) {
            model.hash = hex64(xxh64_file_memo(model_path, QuantCache(cache_dir).sources_dir()));
            model.path = fs::absolute(model_path).string();
            model.file_name = fs::path(model_path).filename().string();
            model.file_bytes = int64_t(fs::file_size(model_path));
            model.synthetic = gguf_is_synthetic(model_path);
            try {
                const GgufSummary g = inspect_gguf(model_path);
                model.arch = g.architecture;
                model.n_params = g.n_elements;
            } catch (const std::exception &) {
                // the server reports what it cannot load; the model row keeps the file facts
            }
        } else {
            // An endpoint whose model is not a local file: named by what it reports.
            std::string id = spec.url;
            const serve::HttpResult r = serve::http_request(url_ep.host, url_ep.port, "GET", "/v1/models");
            if (r.ok()) {
                const json j = json::parse(r.body, nullptr, false);
                if (j.is_object() && j.contains("data") && j["data"].is_array() && !j["data"].empty() &&
                    j["data"][0].contains("id") && j["data"][0]["id"].is_string()) {
                    id = j["data"][0]["id"].get<std::string>();
                }
            }
            model.hash = "endpoint:" + id;
            model.path = spec.url;
            model.file_name = fs::path(id).filename().string();
        }
        store.upsert_model(model);

        for (const std::string & scheme_name : spec.schemes) {
            if (out.stopped) break;
            std::optional<ResolvedScheme> rs;
            SchemeRecord srec;
            ServerPlan plan;
            if (external) {
                srec.name = scheme_name;
                srec.canonical = "endpoint:" + scheme_name;
                srec.tensor_types_json = "{}";
                plan.settings = endpoint_settings(spec.url);
                plan.settings_fp = hex64(xxh64(plan.settings.dump()));
            } else {
                SchemeOptions so;
                so.cache_dir = spec.cache_dir;
                so.engine = spec.engine;
                rs = resolve_scheme(model_path, scheme_name, so, [&](const std::string & m) { notify.info(m); },
                                    [&](const std::string & m) { notify.warn(m); });
                srec = sweep::scheme_record(*rs);
                plan = plan_server(spec, binary, rs->file.scheme.empty() ? model_path : rs->file.path, &*rs, workload);
            }
            store.upsert_scheme(srec);
            if (rs && !rs->file.scheme.empty()) {
                store.upsert_model_scheme(model.hash, srec.canonical, srec.bpw, srec.file_bytes);
            }

            // One server plan per level: the same for every level, or with --tuned each level's best
            // stored setting (a level without one fails, saying which tune to run).
            std::vector<ServerPlan> plans(levels.size(), plan);
            std::vector<std::string> untuned(levels.size());
            if (spec.tuned && !external) {
                const std::string file = rs->file.scheme.empty() ? model_path : rs->file.path;
                for (size_t li = 0; li < levels.size(); ++li) {
                    const auto t = serve::tuned_server(store, {host.fingerprint, model.hash, srec.canonical,
                                                               levels[li].name(), "", ""},
                                                       base_fp, spec.server);
                    if (!t) {
                        untuned[li] = fmt::format(
                            "no llama-server setting of this load is tuned in {}: run joulebench tune -m {} --scheme {} "
                            "--workload serve:{} with the same request options and --db {} first",
                            spec.db, model_path, scheme_name,
                            levels[li].mode == serve::LoadMode::closed ? fmt::format("c{}", levels[li].concurrency)
                                                                       : fmt::format("r{}", levels[li].rate),
                            spec.db);
                        continue;
                    }
                    ServeSpec one = spec;
                    one.server = t->server;
                    plans[li] = plan_server(one, binary, file, &*rs, workload);
                    plans[li].settings["tuned"] = {{"settings", t->suffix},
                                                   {"settings_tried", t->settings},
                                                   {"trials", t->trials},
                                                   {"tune_j_per_output_token", t->j_per_output_token}};
                }
            }

            auto base_record = [&](size_t li) {
                const Level & l = levels[li];
                const ServerPlan & pl = plans[li];
                ServeLevelRecord rec;
                rec.set_key({host.fingerprint, model.hash, srec.canonical, l.name(), level_fp, pl.settings_fp});
                rec.run_id = run_id;
                rec.mode = l.mode == serve::LoadMode::closed ? "closed" : "open";
                // Open loop: at most --max-in-flight, else the server's slots (16 for an endpoint's unknown ones).
                rec.concurrency = l.mode == serve::LoadMode::closed ? l.concurrency
                                  : spec.max_in_flight > 0           ? spec.max_in_flight
                                  : external                         ? 16
                                                                     : std::max(pl.options.parallel, 1);
                rec.rate_rps = l.mode == serve::LoadMode::open ? l.rate : NAN;
                rec.endpoint = external ? spec.url : "llama-server";
                rec.server_json = pl.settings.dump();
                rec.workload_json = workload.description.dump();
                rec.sensors_json = sensors;
                rec.idle_power_w = out.idle_w;
                return rec;
            };
            auto cell_of = [&](const Level & l) {
                ServeLevel v;
                v.total = total;
                v.model_file = model.file_name;
                v.scheme = scheme_name;
                v.level = spec.repeats > 1 ? fmt::format("{} (run {}/{})", l.name(), round, spec.repeats) : l.name();
                return v;
            };

            // Levels already stored are skipped; a server starts only when one is left to run.
            std::vector<bool> done(levels.size(), false);
            size_t first_left = levels.size();  // the first level to run that has a plan
            for (size_t i = 0; i < levels.size(); ++i) {
                done[i] = store.has_serve_level(base_record(i).key(), !spec.retry_failed);
                if (!done[i] && untuned[i].empty() && first_left == levels.size()) first_left = i;
            }
            const bool any_left = first_left < levels.size();

            std::unique_ptr<serve::ServerProcess> server;
            std::string running_fp;  // the settings of the server started last (or tried)
            std::vector<serve::RequestShape> shapes;
            std::string unavailable;  // why no level of this scheme (of this plan) can run
            json reported = plan.settings;
            auto start_server = [&](size_t li) -> bool {
                server.reset();
                unavailable.clear();
                const ServerPlan & pl = plans[li];
                running_fp = pl.settings_fp;
                reported = pl.settings;
                if (external) return true;
                try {
                    if (rs && !rs->error.empty()) throw RuntimeFailure(rs->error);
                    notify.info(fmt::format("starting llama-server for {} {} (-np {}, -c {}{})", model.file_name,
                                            scheme_name, pl.options.parallel, pl.options.ctx_size,
                                            spec.tuned ? ", tuned" : ""));
                    server = std::make_unique<serve::ServerProcess>(serve::make_launch(pl.options));
                    reported = server->settings();
                    if (pl.settings.contains("tuned")) reported["tuned"] = pl.settings["tuned"];
                } catch (const std::exception & e) {
                    server.reset();
                    unavailable = fmt::format("llama-server did not start: {}", e.what());
                    return false;
                }
                // The requests, once, tokenized by the first server that starts.
                if (shapes.empty()) {
                    try {
                        shapes = build_shapes(spec, workload, n_shapes, server->host(), server->port());
                        if (shapes.empty()) throw InputError(spec.prompts, "no prompts");
                    } catch (const std::exception & e) {
                        unavailable = fmt::format("the requests could not be built: {}", e.what());
                        return false;
                    }
                }
                return true;
            };
            if (any_left) measure_idle();
            if (any_left && external) {
                try {
                    shapes = build_shapes(spec, workload, n_shapes, url_ep.host, url_ep.port);
                    if (shapes.empty()) throw InputError(spec.prompts, "no prompts");
                } catch (const std::exception & e) {
                    unavailable = fmt::format("the requests could not be built: {}", e.what());
                }
            } else if (any_left) {
                start_server(first_left);
            }

            for (size_t li = 0; li < levels.size(); ++li, ++index) {
                const Level & l = levels[li];
                ServeLevel view = cell_of(l);
                view.index = index;
                if (notify->stop_requested()) {
                    out.stopped = true;
                    break;
                }
                ServeLevelRecord rec = base_record(li);
                out.levels.push_back(rec.key());
                if (done[li]) {
                    ++out.skipped;
                    ServeLevelOutcome o;
                    o.status = "skipped";
                    notify->on_level_end(view, o);
                    continue;
                }
                const auto t_level = Clock::now();
                rec.started_at = utc_now_iso();
                ServeLevelOutcome outcome;
                if (!external && untuned[li].empty() && plans[li].settings_fp != running_fp) {
                    // --tuned: this level's setting differs from the running server's.
                    start_server(li);
                } else if (unavailable.empty() && !external && server && server->exit_reason()) {
                    // The server died in the previous level: a fresh one for this level.
                    notify.warn(fmt::format("llama-server for {} {} has stopped ({}); starting it again",
                                            model.file_name, scheme_name, *server->exit_reason()));
                    start_server(li);
                }
                if (!untuned[li].empty()) {
                    rec = failed_record(rec, untuned[li]);
                    notify->on_level_begin(view, [] { return 0.0; });
                } else if (!unavailable.empty()) {
                    rec = failed_record(rec, unavailable);
                    rec.server_json = reported.dump();
                    notify->on_level_begin(view, [] { return 0.0; });
                } else {
                    serve::LoadSpec load;
                    load.mode = l.mode;
                    load.concurrency = l.concurrency;
                    load.rate_rps = l.rate;
                    load.max_in_flight = int(rec.concurrency);
                    load.max_requests = requests_of(spec, l);
                    load.duration_s = spec.duration_s;
                    load.seed = spec.seed;
                    load.ignore_eos = spec.ignore_eos;
                    load.request_timeout_s = spec.request_timeout_s;
                    load.idle_timeout_s = spec.idle_timeout_s;
                    // Our own server: no prompt reuse across levels (each level is measured cold).
                    if (!external) load.extra_body = {{"cache_prompt", false}};
                    serve::Endpoint ep;
                    ep.host = external ? url_ep.host : server->host();
                    ep.port = external ? url_ep.port : server->port();
                    ep.api = spec.api == "chat" ? serve::Endpoint::Api::chat : serve::Endpoint::Api::completions;
                    ep.has_metrics = !external;

                    energy::Meter meter(found.sensors, mp);
                    meter.set_idle_power(idle);
                    std::optional<energy::SharingWatch> sharing;
                    // Ours: the server, and this process (a tuner that asked llama.cpp for its GPUs
                    // holds a context on them).
                    if (!external) sharing.emplace(found.sensors, std::vector<unsigned>{unsigned(server->pid()), unsigned(getpid())});
                    notify->on_level_begin(view, [&meter] { return meter.latest_power_w(); });
                    if (sharing) sharing->begin();
                    overlap.begin();
                    LevelBridge bridge(notify, view);
                    serve::LevelHooks hooks{&meter, &bridge, {}};
                    if (server) hooks.server_liveness = server->liveness();
                    const serve::LevelResult r = serve::run_level(load, ep, shapes, hooks);
                    const auto shared = sharing ? sharing->end() : std::vector<energy::SharedDevice>{};
                    const auto overlapped = overlap.end();
                    if (r.status == serve::LevelStatus::stopped) {
                        out.stopped = true;
                        outcome.status = "stopped";
                        outcome.reason = r.reason;
                        outcome.seconds = seconds_since(t_level);
                        notify->on_level_end(view, outcome);
                        break;
                    }
                    fill_record(rec, r);
                    for (const auto & c : metrics::serve_cautions(rec)) notify.warn(view.label() + ": " + c);
                    json workload_json = workload.description;
                    workload_json["load"] = r.spec;
                    workload_json["shapes"] = shapes.size();
                    rec.workload_json = workload_json.dump();
                    rec.server_json = reported.dump();
                    json ej = json::object();
                    if (r.measurement) {
                        ej["domains"] = sweep::energy_json(*r.measurement);
                        ej["estimated"] = rec.energy_estimated;
                    }
                    const auto warn = [&](const std::string & m) { notify.warn(m); };
                    sweep::mark_shared_gpu(ej, shared, view.label(), warn);
                    sweep::mark_shared_meter(ej, overlapped, view.label(), warn);
                    rec.energy_json = ej.dump();
                }
                rec.finished_at = utc_now_iso();
                store.commit_serve_level(rec);
                ++(rec.status == kServeOk ? out.ok : rec.status == kServePartial ? out.partial : out.failed);
                outcome.status = rec.status;
                outcome.reason = rec.reason;
                outcome.seconds = seconds_since(t_level);
                outcome.record = rec;
                notify->on_level_end(view, outcome);

                const bool more = li + 1 < levels.size();
                if (more && unavailable.empty() && spec.idle_check_s > 0 && !idle.empty() && !notify->stop_requested()) {
                    const auto settle = sweep::settle_device(found.sensors, mp, spec.idle_check_s, out.idle_w,
                                                             spec.settle_s, [&] { return notify->stop_requested(); });
                    if (!settle.settled && !notify->stop_requested() && !unsettled_said) {
                        unsettled_said = true;
                        notify.warn(fmt::format("idle power {:.1f} W vs {:.1f} W at the start after waiting {:.1f} s "
                                                "between levels (a loaded model draws more than an idle device): net "
                                                "energies may be biased",
                                                settle.watts, out.idle_w, settle.waited_s));
                    }
                }
            }
            if (server) server->stop();
        }
    }
    store.finish_run(run_id);
    return out;
}

}  // namespace jb
