#pragma once
// A served model's process: llama-server (or any program) started in its own process group
// on a loopback port, its output in a log file, ready once GET /health answers 200, stopped
// with SIGTERM to the group and SIGKILL after a grace period. Nothing outlives its owner: the
// destructor stops the group, and the kernel kills the server if joulebench itself dies
// (PR_SET_PDEATHSIG; note that Linux sends it when the *thread* that started the server
// ends, so start servers from a thread that outlives them, e.g. the main thread).
//
//   ServerOptions o;  o.binary = ...; o.model = "models/stories260K.gguf"; o.parallel = 4;
//   ServerProcess server(make_launch(o));      // throws jb::RuntimeFailure with the log's tail
//   Endpoint ep;  ep.port = server.port();  ep.has_metrics = true;
//   run_level(spec, ep, requests, {&meter, &observer, server.liveness()});

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace jb::serve {

// ---- process groups

struct ProcessSpec {
    std::vector<std::string> argv;  // argv[0] is a path to the program (not looked up on PATH)
    std::string log_path;           // the program's stdout and stderr (truncated)
    // Environment variables left out of the child's environment, by prefix: llama-server
    // reads LLAMA_ARG_* as defaults for its options, so a stray one would change the
    // settings behind our back; without them the recorded argv is the whole configuration.
    std::vector<std::string> unset_env_prefixes = {"LLAMA_ARG_"};
};

class ProcessGroup {
public:
    // Starts the program as the leader of a new process group. Throws jb::RuntimeFailure if
    // the log cannot be written or the program cannot be executed (with the reason).
    explicit ProcessGroup(const ProcessSpec & spec);
    // Stops the group (grace 2 s) if still running.
    ~ProcessGroup();
    ProcessGroup(const ProcessGroup &) = delete;
    ProcessGroup & operator=(const ProcessGroup &) = delete;

    pid_t pid() const { return pid_; }  // the leader; also the process group id
    // nullopt while the leader runs, else how it ended: "exited with status 1", "killed by
    // signal 9 (Killed)". Never blocks. Once the leader has ended, the rest of its group is
    // killed and the leader reaped. Thread-safe.
    std::optional<std::string> exit_reason();
    // SIGTERM to the group; SIGKILL to the group after grace_s; returns once the leader is
    // reaped (the group's other members have been sent SIGKILL). Idempotent; thread-safe.
    void stop(double grace_s);

    const std::string & log_path() const { return log_path_; }
    // The last n lines of the log (for error messages).
    std::string log_tail(int n_lines = 12) const;

private:
    std::optional<std::string> poll_locked(bool block);

    pid_t pid_ = -1;
    std::string log_path_;
    std::mutex mutex_;
    bool reaped_ = false;
    std::string exit_reason_;
};

// ---- llama-server

// The llama-server settings that change energy; each is passed only when set, so an unset
// one keeps the server's default (recorded as such). Recorded with every result.
struct ServerOptions {
    std::string binary;  // llama-server; e.g. JB_LLAMA_SERVER in tests or --server-bin
    std::string model;   // -m
    std::string host = "127.0.0.1";
    int port = 0;                         // 0: a free loopback port
    int parallel = 0;                     // -np (slots); 0: default
    int ctx_size = 0;                     // -c (total over all slots); 0: default
    int batch_size = 0;                   // -b; 0: default
    int ubatch_size = 0;                  // -ub; 0: default
    std::string flash_attn;               // -fa on|off|auto; "": default
    std::string cache_type_k;             // -ctk; "": default
    std::string cache_type_v;             // -ctv; "": default
    std::optional<int> n_gpu_layers;      // -ngl
    int threads = 0;                      // -t; 0: default
    int threads_batch = 0;                // -tb; 0: default
    bool metrics = true;                  // --metrics: /metrics lets token counts be checked
    // false: --cache-ram 0, no prompt cache in host memory (where the binary takes the option, and
    // unless extra_args give --cache-ram). llama-server's default keeps one and, when a task starts,
    // copies every idle slot's KV into it (docs/serve.md, "llama-server's prompt cache").
    bool prompt_cache = true;
    std::vector<std::string> extra_args;  // passed as they are, recorded
    std::string log_path;                 // "": <temp dir>/joulebench-llama-server-<port>.log
    double startup_timeout_s = 120.0;     // model load included
    double stop_grace_s = 10.0;
};

// Everything needed to start a server and find it: argv, where it listens, what it was
// started with. make_launch builds it from ServerOptions; tests may build one by hand.
struct ServerLaunch {
    std::vector<std::string> argv;
    std::string host = "127.0.0.1";
    int port = 0;
    std::string log_path;
    double startup_timeout_s = 120.0;
    double stop_grace_s = 10.0;
    nlohmann::json settings = nlohmann::json::object();  // provenance (server_settings_json)
};

// A free TCP port on a loopback host (bound, read back, released; another process could
// still take it before the server binds it).
int pick_free_port(const std::string & host = "127.0.0.1");
// True if something listens on (or holds) host:port, tested by binding it.
bool port_in_use(const std::string & host, int port);

// Whether `binary --help` lists `option` (as a whole word): for options a llama-server older than
// the pinned one may lack. The help text is read once per binary, within 20 s (else: not listed).
bool takes_option(const std::string & binary, const std::string & option);

// The settings that matter for energy as a JSON object: each option's value or "default".
nlohmann::json server_settings_json(const ServerOptions & o);
// Checks the binary and model exist (jb::InputError), requires a loopback host
// (jb::UsageError), picks a port when o.port is 0, and builds argv and settings.
ServerLaunch make_launch(const ServerOptions & o);

class ServerProcess {
public:
    // Starts the server and waits until GET /health answers 200. Throws jb::RuntimeFailure,
    // after stopping it, when the port is already in use (before starting anything), the
    // program cannot run, it exits during startup (a model that does not load), or it is
    // not healthy within startup_timeout_s; the message carries the last lines of its log.
    explicit ServerProcess(ServerLaunch launch);
    ~ServerProcess();  // stops the group
    ServerProcess(const ServerProcess &) = delete;
    ServerProcess & operator=(const ServerProcess &) = delete;

    const std::string & host() const { return launch_.host; }
    int port() const { return launch_.port; }
    pid_t pid() const { return group_->pid(); }
    const std::string & log_path() const { return launch_.log_path; }
    std::string log_tail(int n_lines = 12) const { return group_->log_tail(n_lines); }

    // The launch settings plus what the running server reported on GET /props (slots,
    // per-slot context, build), when it answered.
    const nlohmann::json & settings() const { return settings_; }

    // nullopt while running, else how it ended.
    std::optional<std::string> exit_reason() { return group_->exit_reason(); }
    // For run_level's hooks: "" while the server runs, else why it stopped and its log tail.
    std::function<std::string()> liveness();
    void stop() { group_->stop(launch_.stop_grace_s); }

private:
    ServerLaunch launch_;
    std::unique_ptr<ProcessGroup> group_;
    nlohmann::json settings_;
};

}  // namespace jb::serve
