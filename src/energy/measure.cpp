// jb::measure and jb::measure_command (joulebench/meter.hpp): the Meter around a function or a
// child process.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "energy/cpu_time.hpp"
#include "energy/discover.hpp"
#include "energy/meter.hpp"
#include "joulebench/error.hpp"
#include "joulebench/meter.hpp"

extern char ** environ;

namespace jb {

namespace {

struct ChildResult {
    bool started = false;
    int status = 0;  // exit status; 128 + N if killed by signal N; 127 if it could not be executed
    std::string error;  // why it could not be executed, or the signal that killed it
};

// Runs argv as a child and waits for it.
ChildResult run_child(const std::vector<std::string> & command) {
    std::vector<char *> argv;
    for (const auto & a : command) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);

    // Like time(1) and perf stat: Ctrl-C and Ctrl-\ go to the command; we stay to report.
    struct sigaction ignore = {};
    struct sigaction old_int = {};
    struct sigaction old_quit = {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGQUIT);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    ChildResult result;
    if (rc != 0) {
        result.error = fmt::format("cannot execute '{}': {}", command[0],
                                   rc == ENOENT ? "command not found" : std::strerror(rc));
        result.status = 127;
    } else {
        result.started = true;
        int wstatus = 0;
        while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(wstatus)) {
            result.status = WEXITSTATUS(wstatus);
        } else if (WIFSIGNALED(wstatus)) {
            int sig = WTERMSIG(wstatus);
            result.error = fmt::format("command killed by signal {} ({})", sig, strsignal(sig));
            result.status = 128 + sig;
        }
    }
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    return result;
}

void check_options(const MeterOptions & o) {
    if (!(o.idle_s >= 0.0) || !std::isfinite(o.idle_s)) {
        throw UsageError(fmt::format("--idle-s must be >= 0 seconds (got {})", o.idle_s));
    }
    if (!(o.interval_ms > 0.0) || !std::isfinite(o.interval_ms)) {
        throw UsageError(fmt::format("--interval-ms must be > 0 (got {})", o.interval_ms));
    }
    if (o.cpu_tdp_w < 0.0) throw UsageError(fmt::format("--cpu-tdp-w must be > 0 watts (got {})", o.cpu_tdp_w));
}

// The sensors of this machine, described in `run`; the Meter, with its idle baseline measured.
// scope: whose CPU time the CPU estimate counts.
std::unique_ptr<energy::Meter> prepare(const MeterOptions & o, energy::CpuScope scope, MeteredRun & run,
                                       const std::function<void(const std::string &)> & say) {
    check_options(o);
    energy::DiscoverOptions options = energy::discover_options_from_env();
    options.cpu_tdp_w = o.cpu_tdp_w;
    options.cpu_scope = scope;
    energy::Discovery found = energy::discover_sensors(options);
    for (const auto & s : found.sensors) {
        run.sensors.push_back(fmt::format("{}: {} ({})", s->domain().str(), s->provenance().name,
                                          energy::method_name(energy::method_of(*s))));
    }
    run.unavailable = found.unavailable;
    run.sensors_json = energy::discovery_json(found);
    if (say) {
        for (const auto & s : run.sensors) say("metering " + s);
        for (const auto & u : found.unavailable) say(fmt::format("not metered: {}: {}", u.what, u.reason));
    }
    energy::MeterParams params;
    params.interval_s = o.interval_ms * 1e-3;
    auto meter = std::make_unique<energy::Meter>(found.sensors, params);
    if (o.idle_s > 0.0) {
        if (say) say(fmt::format("measuring idle power for {} s first...", o.idle_s));
        energy::CpuLoadWatch load(scope);
        load.begin();
        meter->measure_idle(o.idle_s);
        run.idle_load = load.end();
    }
    return meter;
}

}  // namespace

MeteredRun measure(const std::function<void(const PhaseMark & mark)> & fn, const MeterOptions & options) {
    MeteredRun run;
    auto meter = prepare(options, energy::CpuScope::process_tree, run, {});
    energy::CpuLoadWatch load(energy::CpuScope::process_tree);
    load.begin();
    meter->start("run");
    try {
        fn([&](const std::string & phase) { meter->mark(phase); });
    } catch (...) {
        meter->stop();
        throw;
    }
    run.measurement = meter->stop();
    run.load = load.end();
    return run;
}

MeteredRun measure_command(const std::vector<std::string> & argv, const MeterOptions & options,
                           const std::function<void(const std::string &)> & on_message) {
    if (argv.empty()) throw UsageError("no command to measure");
    MeteredRun run;
    // The command's processes only: joulebench's own sampling is not the command's work.
    auto meter = prepare(options, energy::CpuScope::children, run, on_message);
    energy::CpuLoadWatch load(energy::CpuScope::children);
    load.begin();
    meter->start("run");
    const ChildResult child = run_child(argv);
    run.measurement = meter->stop();
    run.load = load.end();
    run.exit_status = child.status;
    run.started = child.started;
    run.command_error = child.error;
    return run;
}

}  // namespace jb
