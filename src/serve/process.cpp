#include "serve/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "serve/http.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

extern char ** environ;

namespace jb::serve {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sleep_s(double s) {
    std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::string describe_status(const siginfo_t & info) {
    if (info.si_code == CLD_EXITED) return fmt::format("exited with status {}", info.si_status);
    const int sig = info.si_status;
    return fmt::format("killed by signal {} ({}){}", sig, strsignal(sig),
                       info.si_code == CLD_DUMPED ? ", core dumped" : "");
}

// Binds host:port without SO_REUSEADDR/SO_REUSEPORT; returns the socket or -1 with errno.
int bind_socket(const std::string & host, int port) {
    const bool v6 = host == "::1" || host == "[::1]";
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc = 0;
    if (v6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(static_cast<uint16_t>(port));
        a.sin6_addr = in6addr_loopback;
        rc = ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &a.sin_addr);
        rc = ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
    }
    if (rc < 0) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

}  // namespace

// ---- ProcessGroup

ProcessGroup::ProcessGroup(const ProcessSpec & spec) : log_path_(spec.log_path) {
    if (spec.argv.empty()) throw RuntimeFailure("no program to start (empty argv)");
    if (spec.log_path.empty()) throw RuntimeFailure(fmt::format("{}: no log file given", spec.argv[0]));

    // Everything the child needs is prepared here: after fork() only async-signal-safe calls.
    std::vector<std::string> args = spec.argv;
    std::vector<char *> argv;
    for (auto & a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char *> envp;
    for (char ** e = environ; e && *e; ++e) {
        bool drop = false;
        for (const auto & prefix : spec.unset_env_prefixes)
            drop = drop || std::strncmp(*e, prefix.c_str(), prefix.size()) == 0;
        if (!drop) envp.push_back(*e);
    }
    envp.push_back(nullptr);

    int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0)
        throw InputError(spec.log_path, fmt::format("cannot write the server log: {}", std::strerror(errno)));
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int exec_pipe[2] = {-1, -1};
    if (null_fd < 0 || ::pipe2(exec_pipe, O_CLOEXEC) < 0) {
        int e = errno;
        ::close(log_fd);
        if (null_fd >= 0) ::close(null_fd);
        throw RuntimeFailure(fmt::format("cannot start {}: {}", spec.argv[0], std::strerror(e)));
    }

    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD}) ::signal(sig, SIG_DFL);
        ::execve(argv[0], argv.data(), envp.data());
        int e = errno;
        ssize_t ignored = ::write(exec_pipe[1], &e, sizeof(e));
        (void)ignored;
        ::_exit(127);
    }
    const int fork_errno = errno;
    ::close(log_fd);
    ::close(null_fd);
    ::close(exec_pipe[1]);
    if (pid < 0) {
        ::close(exec_pipe[0]);
        throw RuntimeFailure(fmt::format("cannot start {}: fork: {}", spec.argv[0], std::strerror(fork_errno)));
    }
    ::setpgid(pid, pid);  // also here, so that the group exists whichever runs first
    pid_ = pid;

    // The pipe closes on a successful exec; an errno arrives if exec failed.
    int exec_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    ::close(exec_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
        throw RuntimeFailure(fmt::format("cannot execute {}: {}", spec.argv[0], std::strerror(exec_errno)));
    }
}

ProcessGroup::~ProcessGroup() {
    try {
        stop(2.0);
    } catch (...) {
    }
}

std::optional<std::string> ProcessGroup::poll_locked(bool block) {
    if (reaped_) return exit_reason_;
    siginfo_t info{};
    // WNOWAIT: the leader stays a zombie, so its pid (= the group id) cannot be reused while
    // we signal the group.
    int rc = 0;
    do {
        info.si_pid = 0;
        rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {  // not our child any more (reaped elsewhere): nothing left to wait for
        reaped_ = true;
        exit_reason_ = fmt::format("ended (wait failed: {})", std::strerror(errno));
        return exit_reason_;
    }
    if (info.si_pid == 0) return std::nullopt;  // still running
    exit_reason_ = describe_status(info);
    ::kill(-pid_, SIGKILL);  // whatever else runs in its group
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return exit_reason_;
}

std::optional<std::string> ProcessGroup::exit_reason() {
    std::lock_guard<std::mutex> lock(mutex_);
    return poll_locked(false);
}

void ProcessGroup::stop(double grace_s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pid_ <= 0 || poll_locked(false)) return;
    ::kill(-pid_, SIGTERM);
    const double deadline = now_s() + std::max(0.0, grace_s);
    while (now_s() < deadline) {
        if (poll_locked(false)) return;
        sleep_s(0.01);
    }
    ::kill(-pid_, SIGKILL);
    poll_locked(true);
}

std::string ProcessGroup::log_tail(int n_lines) const {
    std::ifstream in(log_path_, std::ios::binary);
    if (!in) return "";
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff start = std::max<std::streamoff>(0, size - 16384);
    in.seekg(start);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::deque<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) lines.push_back(std::move(line));
        if (static_cast<int>(lines.size()) > n_lines) lines.pop_front();
        pos = nl + 1;
    }
    std::string out;
    for (const auto & l : lines) out += (out.empty() ? "" : "\n") + l;
    return out;
}

// ---- ports

int pick_free_port(const std::string & host) {
    int fd = bind_socket(host, 0);
    if (fd < 0) throw RuntimeFailure(fmt::format("cannot find a free port on {}: {}", host, std::strerror(errno)));
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    ::close(fd);
    return a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6 *>(&a)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in *>(&a)->sin_port);
}

bool takes_option(const std::string & binary, const std::string & option) {
    static std::mutex mutex;
    static std::map<std::string, std::string> help;  // binary -> its --help
    std::lock_guard<std::mutex> lock(mutex);
    auto it = help.find(binary);
    if (it == help.end()) {
        std::string text;
        // Bounded: a wrapper script that ignores --help and starts a server must not hang us.
        if (FILE * p = ::popen(("timeout -k 2 20 " + shell_quote(binary) + " --help 2>&1 </dev/null").c_str(), "r")) {
            char buf[4096];
            size_t n = 0;
            while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
            ::pclose(p);
        }
        it = help.emplace(binary, std::move(text)).first;
    }
    const std::string & h = it->second;
    for (size_t at = h.find(option); at != std::string::npos; at = h.find(option, at + 1)) {
        const size_t end = at + option.size();
        const bool starts = at == 0 || h[at - 1] == ' ' || h[at - 1] == ',' || h[at - 1] == '\n';
        const bool ends = end == h.size() || h[end] == ' ' || h[end] == ',' || h[end] == '\n' || h[end] == '=';
        if (starts && ends) return true;
    }
    return false;
}

bool port_in_use(const std::string & host, int port) {
    int fd = bind_socket(host, port);
    if (fd < 0) return errno == EADDRINUSE || errno == EACCES;
    ::close(fd);
    return false;
}

// ---- llama-server

namespace {

// Whether the user's own llama-server arguments set the prompt cache (they win over prompt_cache).
bool gives_cache_ram(const std::vector<std::string> & args) {
    return std::any_of(args.begin(), args.end(),
                       [](const std::string & w) { return w == "-cram" || w.rfind("--cache-ram", 0) == 0; });
}

}  // namespace

json server_settings_json(const ServerOptions & o) {
    auto int_or_default = [](int v) { return v > 0 ? json(v) : json("default"); };
    auto str_or_default = [](const std::string & v) { return v.empty() ? json("default") : json(v); };
    return json{
        {"server", "llama-server"},
        {"binary", o.binary},
        {"model", o.model},
        {"parallel", int_or_default(o.parallel)},
        {"ctx_size", int_or_default(o.ctx_size)},
        {"batch_size", int_or_default(o.batch_size)},
        {"ubatch_size", int_or_default(o.ubatch_size)},
        {"flash_attn", str_or_default(o.flash_attn)},
        {"cache_type_k", str_or_default(o.cache_type_k)},
        {"cache_type_v", str_or_default(o.cache_type_v)},
        {"n_gpu_layers", o.n_gpu_layers ? json(*o.n_gpu_layers) : json("default")},
        {"threads", int_or_default(o.threads)},
        {"threads_batch", int_or_default(o.threads_batch)},
        {"metrics", o.metrics},
        {"prompt_cache", gives_cache_ram(o.extra_args) ? "extra_args" : o.prompt_cache ? "server default" : "off"},
        {"extra_args", o.extra_args},
        {"llama_cpp_commit", JOULEBENCH_LLAMA_COMMIT},
    };
}

ServerLaunch make_launch(const ServerOptions & o) {
    require_loopback(o.host, "llama-server");
    if (o.binary.empty())
        throw UsageError("no llama-server binary given (build the llama-server target, or --server-bin)");
    if (!fs::is_regular_file(o.binary)) throw InputError(o.binary, "llama-server binary not found");
    if (::access(o.binary.c_str(), X_OK) != 0) throw InputError(o.binary, "llama-server binary is not executable");
    if (!fs::is_regular_file(o.model)) throw InputError(o.model, "model file not found");

    ServerLaunch l;
    l.host = o.host;
    l.port = o.port > 0 ? o.port : pick_free_port(o.host);
    l.log_path = !o.log_path.empty()
                     ? o.log_path
                     : (fs::temp_directory_path() / fmt::format("joulebench-llama-server-{}.log", l.port)).string();
    l.startup_timeout_s = o.startup_timeout_s;
    l.stop_grace_s = o.stop_grace_s;
    l.settings = server_settings_json(o);

    auto & a = l.argv;
    a = {o.binary,
         "-m",
         o.model,
         "--host",
         o.host == "localhost" ? "127.0.0.1" : o.host,
         "--port",
         std::to_string(l.port)};
    auto add = [&](const char * flag, const std::string & v) {
        a.push_back(flag);
        a.push_back(v);
    };
    if (o.parallel > 0) add("-np", std::to_string(o.parallel));
    if (o.ctx_size > 0) add("-c", std::to_string(o.ctx_size));
    if (o.batch_size > 0) add("-b", std::to_string(o.batch_size));
    if (o.ubatch_size > 0) add("-ub", std::to_string(o.ubatch_size));
    if (!o.flash_attn.empty()) add("-fa", o.flash_attn);
    if (!o.cache_type_k.empty()) add("-ctk", o.cache_type_k);
    if (!o.cache_type_v.empty()) add("-ctv", o.cache_type_v);
    if (o.n_gpu_layers) add("-ngl", std::to_string(*o.n_gpu_layers));
    if (o.threads > 0) add("-t", std::to_string(o.threads));
    if (o.threads_batch > 0) add("-tb", std::to_string(o.threads_batch));
    if (o.metrics) a.push_back("--metrics");
    if (!o.prompt_cache && !gives_cache_ram(o.extra_args) && takes_option(o.binary, "--cache-ram")) {
        add("--cache-ram", "0");
    }
    a.insert(a.end(), o.extra_args.begin(), o.extra_args.end());
    l.settings["argv"] = a;
    return l;
}

ServerProcess::ServerProcess(ServerLaunch launch) : launch_(std::move(launch)) {
    require_loopback(launch_.host, "server");
    const std::string name = launch_.argv.empty() ? "server" : fs::path(launch_.argv[0]).filename().string();
    if (port_in_use(launch_.host, launch_.port)) {
        throw RuntimeFailure(
            fmt::format("{}: port {} on {} is already in use (another server?); choose another port, "
                        "or 0 for a free one",
                        name, launch_.port, launch_.host));
    }
    ProcessSpec spec;
    spec.argv = launch_.argv;
    spec.log_path = launch_.log_path;
    group_ = std::make_unique<ProcessGroup>(spec);

    auto fail = [&](const std::string & what) {
        group_->stop(launch_.stop_grace_s);
        std::string tail = group_->log_tail(12);
        throw RuntimeFailure(fmt::format("{} (pid {}, port {}) {}; log {}{}{}", name, group_->pid(), launch_.port, what,
                                         launch_.log_path, tail.empty() ? " is empty" : ", last lines:\n", tail));
    };
    const double t0 = now_s();
    std::string last_answer = "no answer yet";
    while (true) {
        if (auto reason = group_->exit_reason()) fail(fmt::format("{} during startup", *reason));
        const double left = launch_.startup_timeout_s - (now_s() - t0);
        if (left <= 0) {
            fail(fmt::format("did not report healthy on GET /health within {:g} s (last answer: {})",
                             launch_.startup_timeout_s, last_answer));
        }
        HttpResult r = http_request(launch_.host, launch_.port, "GET", "/health", "", std::min(1.0, left));
        // A process that died between our check and the answer may have left the port to
        // someone else: only a live leader's "ok" counts.
        if (r.ok() && !group_->exit_reason()) break;
        last_answer = r.describe();
        sleep_s(std::min(0.05, std::max(0.0, left)));
    }

    settings_ = launch_.settings;
    HttpResult props = http_request(launch_.host, launch_.port, "GET", "/props", "", 5.0);
    if (props.ok()) {
        json p = json::parse(props.body, nullptr, false);
        if (p.is_object()) {
            json reported = json::object();
            if (p.contains("total_slots")) reported["total_slots"] = p["total_slots"];
            if (p.contains("default_generation_settings") && p["default_generation_settings"].contains("n_ctx")) {
                reported["slot_n_ctx"] = p["default_generation_settings"]["n_ctx"];
            }
            for (const char * key : {"build_info", "model_path"}) {
                if (p.contains(key)) reported[key] = p[key];
            }
            settings_["reported"] = reported;
        }
    }
}

ServerProcess::~ServerProcess() {
    if (group_) group_->stop(launch_.stop_grace_s);
}

std::function<std::string()> ServerProcess::liveness() {
    return [this]() -> std::string {
        auto reason = group_->exit_reason();
        if (!reason) return "";
        std::string tail = group_->log_tail(8);
        return fmt::format("server (pid {}) {}{}{}", group_->pid(), *reason, tail.empty() ? "" : "; last log lines:\n",
                           tail);
    };
}

}  // namespace jb::serve
