// The sweep as a Slurm job array: submission, resubmission of what is missing or failed, and the
// state of every cell.

#include "cluster/array.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "joulebench/error.hpp"
#include "util/files.hpp"
#include "quant/scheme.hpp"
#include "joulebench/store.hpp"
#include "sweep/family.hpp"
#include "sweep/workload.hpp"

extern char ** environ;

namespace jb::cluster {

namespace fs = std::filesystem;

namespace {

struct CommandResult {
    int status = -1;  // exit status; -1: could not start
    std::string out, err;
};

std::string read_file_text(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs a program found on PATH with stdout and stderr captured (through two temporary files).
CommandResult run_command(const std::vector<std::string> & args) {
    CommandResult r;
    char out_tmpl[] = "/tmp/joulebench-slurm-out-XXXXXX";
    char err_tmpl[] = "/tmp/joulebench-slurm-err-XXXXXX";
    int out_fd = mkstemp(out_tmpl);
    int err_fd = mkstemp(err_tmpl);
    if (out_fd < 0 || err_fd < 0) {
        if (out_fd >= 0) close(out_fd), unlink(out_tmpl);
        if (err_fd >= 0) close(err_fd), unlink(err_tmpl);
        throw RuntimeFailure(fmt::format("cannot create a temporary file in /tmp: {}", std::strerror(errno)));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    std::vector<std::string> words = args;
    std::vector<char *> argv;
    for (auto & w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out_fd);
    close(err_fd);
    if (rc == 0) {
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        r.out = read_file_text(out_tmpl);
        r.err = read_file_text(err_tmpl);
    } else {
        r.err = std::strerror(rc);
    }
    unlink(out_tmpl);
    unlink(err_tmpl);
    return r;
}

std::string first_line(const std::string & text) {
    std::string line = text.substr(0, text.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

std::string self_binary() {
    std::error_code ec;
    fs::path p = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw RuntimeFailure("cannot find joulebench's own path (/proc/self/exe): " + ec.message());
    return p.string();
}

std::string short_hostname() {
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
    std::string h = buf;
    return h.substr(0, h.find('.'));
}

std::string manifest_path(const std::string & dir) {
    return (fs::path(dir) / "sweep.json").string();
}

ShardFacts read_shard(const fs::path & path) {
    ShardFacts f;
    std::error_code ec;
    if (!fs::exists(path, ec)) return f;
    f.exists = true;
    try {
        const Store store = Store::open_readonly(path.string());
        for (const auto & c : store.list_cells()) {
            if (c.ok()) {
                ++f.ok;
                f.node = c.host_name;
            } else {
                ++f.failed;
                if (f.error.empty()) f.error = c.error;
                if (f.node.empty()) f.node = c.host_name;
            }
        }
    } catch (const std::exception & e) {
        f.error = fmt::format("shard unreadable: {}", e.what());
    }
    return f;
}

}  // namespace

Manifest read_manifest(const std::string & results_dir) {
    const std::string path = manifest_path(results_dir);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        throw InputError(path, "no such file (not a results directory of `joulebench sweep --slurm`)");
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_file_text(path));
    } catch (const nlohmann::json::exception & e) {
        throw InputError(path, fmt::format("not valid JSON: {}", e.what()));
    }
    return Manifest::from_json(j, path);
}

std::vector<CellStatus> cell_statuses(const std::string & results_dir, const Manifest & m, std::string * queue_error) {
    // The newest job that included each cell is the one whose word counts.
    std::map<int, std::string> latest_job;
    for (const auto & job : m.jobs) {
        for (int c : job.cells) latest_job[c] = job.job_id;
    }
    std::map<std::pair<std::string, int>, QueueEntry> queue;  // (job, task) -> entry
    auto remember = [&](const std::vector<QueueEntry> & entries) {
        for (const auto & e : entries) {
            for (int t = e.first; t <= e.last; ++t) queue.emplace(std::make_pair(e.job_id, t), e);
        }
    };
    std::string error;
    std::vector<std::string> ids;
    for (const auto & job : m.jobs) {
        if (std::find(ids.begin(), ids.end(), job.job_id) == ids.end()) ids.push_back(job.job_id);
    }
    for (const auto & id : ids) {
        // Queued and recently ended array tasks (slurmctld keeps ended ones for MinJobAge).
        CommandResult r = run_command({"scontrol", "show", "job", "-o", id});
        if (r.status == 0) {
            remember(parse_scontrol(r.out));
        } else if ((r.out + r.err).find("Invalid job id") == std::string::npos) {
            error = r.status < 0 ? fmt::format("scontrol: {}", r.err)
                                 : fmt::format("scontrol show job {}: {}", id, first_line(r.err + r.out));
        }
    }
    if (!ids.empty() && error.empty()) {
        // Older tasks, where accounting is enabled ("accounting storage is disabled" otherwise).
        std::string list;
        for (const auto & id : ids) list += (list.empty() ? "" : ",") + id;
        CommandResult r =
            run_command({"sacct", "-X", "-n", "-P", "--format=JobID,State,NodeList,ExitCode", "-j", list});
        if (r.status == 0) {
            for (const auto & e : parse_sacct(r.out)) {
                for (int t = e.first; t <= e.last; ++t) queue.emplace(std::make_pair(e.job_id, t), e);
            }
        }
    }
    if (queue_error) *queue_error = error;

    std::vector<CellStatus> out;
    for (const auto & cell : m.cells) {
        std::optional<QueueEntry> q;
        const auto job = latest_job.find(cell.index);
        if (job != latest_job.end()) {
            const auto it = queue.find({job->second, cell.index});
            if (it != queue.end()) q = it->second;
        }
        const ShardFacts shard = read_shard(fs::path(results_dir) / shard_name(cell.index));
        CellStatus st = classify_cell(cell, m.repeat, shard, q, job != latest_job.end());
        if (st.job.empty() && job != latest_job.end()) st.job = fmt::format("{}_{}", job->second, cell.index);
        if (!error.empty() && st.state == CellState::failed && shard.failed == 0 && shard.error.empty()) {
            // Slurm could not be asked: the task may still be queued or running.
            st.detail = "unknown: " + error;
        }
        out.push_back(std::move(st));
    }
    return out;
}

Grid sweep_grid(const SweepSpec & spec) {
    Grid g;
    if (spec.models.empty() && spec.families.empty()) throw UsageError("--models is required (or give --family)");
    g.models = spec.models;
    for (const auto & m : family_models_missing(spec.families, g.models)) g.models.push_back(m);
    g.schemes = spec.schemes;
    g.tasks = spec.tasks;
    g.cells = grid_cells(g.models, g.schemes, g.tasks);
    return g;
}

void check_grid(const Grid & g, const SweepSpec & spec) {
    if (spec.repeat < 1) throw UsageError(fmt::format("--repeat must be >= 1 (got {})", spec.repeat));
    for (const auto & m : g.models) {
        std::error_code ec;
        if (!fs::is_regular_file(m, ec)) throw InputError(m, "model file not found");
    }
    for (const auto & s : g.schemes) {
        if (s != "dynamic") parse_scheme(s);
    }
    for (const auto & t : g.tasks) sweep::make_workload(t, spec.task);
}

Cell narrow_to_cell(SweepSpec & spec, int index, const std::vector<std::string> & given_args) {
    const Grid g = sweep_grid(spec);
    if (index >= int(g.cells.size())) {
        throw UsageError(
            fmt::format("--cell {}: the grid has {} cells ({} model{} x {} scheme{} x {} task{}), "
                        "numbered from 0",
                        index, g.cells.size(), g.models.size(), g.models.size() == 1 ? "" : "s", g.schemes.size(),
                        g.schemes.size() == 1 ? "" : "s", g.tasks.size(), g.tasks.size() == 1 ? "" : "s"));
    }
    const Cell & c = g.cells[size_t(index)];
    spec.models = {c.model};
    spec.models_fixed = true;  // a family's other models are other cells
    spec.schemes = {c.scheme};
    spec.tasks = {c.task};
    // The run's command line keeps where the cell ran: its node is the host row, its GPUs
    // the host's gpus_json; the Slurm job says which array task it was.
    std::string line = fmt::format("joulebench sweep --cell {}", index);
    for (const auto & w : given_args) line += " " + shell_quote(w);
    line += " --db " + shell_quote(spec.db);
    const char * job = std::getenv("SLURM_ARRAY_JOB_ID");
    const char * task = std::getenv("SLURM_ARRAY_TASK_ID");
    const char * node = std::getenv("SLURMD_NODENAME");
    const char * gpus = std::getenv("CUDA_VISIBLE_DEVICES");
    if (job) {
        line += fmt::format("  # Slurm job {}_{} on {}, CUDA_VISIBLE_DEVICES={}", job, task ? task : "?",
                            node ? node : "?", gpus ? gpus : "(unset)");
    }
    spec.command_line = line;
    return c;
}

SubmitOutcome submit_array(const SweepSpec & spec, const SubmitSpec & s,
                           const std::function<void(const std::string &)> & on_message) {
    auto say = [&](const std::string & text) {
        if (on_message) on_message(text);
    };
    const Grid g = sweep_grid(spec);
    check_grid(g, spec);
    std::error_code ec;
    const std::string dir = fs::weakly_canonical(fs::absolute(s.results_dir), ec).string();
    if (ec) throw InputError(s.results_dir, "cannot resolve --results-dir: " + ec.message());
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw InputError(dir, "--results-dir is not a directory");
    SubmitOutcome out;
    out.dir = dir;
    const std::string cache = s.cache_dir.empty() ? (fs::path(dir) / "cache").string()
                                                  : fs::weakly_canonical(fs::absolute(s.cache_dir), ec).string();

    Manifest m;
    m.created_at = utc_now_iso();
    m.joulebench = self_binary();
    m.workdir = fs::current_path().string();
    m.cache_dir = cache;
    m.sweep_args = s.sweep_args;
    m.repeat = spec.repeat;
    m.cells = g.cells;

    std::vector<int> todo;
    std::string states;
    const std::string mpath = manifest_path(dir);
    if (fs::exists(mpath, ec)) {
        const Manifest old = read_manifest(dir);
        if (old.sweep_args != m.sweep_args || old.cells != m.cells || old.repeat != m.repeat) {
            std::string a, b;
            for (const auto & w : old.sweep_args) a += " " + w;
            for (const auto & w : m.sweep_args) b += " " + w;
            throw UsageError(
                fmt::format("{}: this results directory holds another sweep (its options:{}; these:{}); "
                            "give another --results-dir, or the same options to resubmit its missing "
                            "and failed cells",
                            mpath, a, b));
        }
        m.created_at = old.created_at;
        m.jobs = old.jobs;
        std::string queue_error;
        const auto statuses = cell_statuses(dir, old, &queue_error);
        if (!queue_error.empty()) {
            throw RuntimeFailure(
                fmt::format("cannot tell which cells are still queued ({}); nothing submitted. "
                            "`joulebench status --slurm {}` shows what the shards hold",
                            queue_error, dir));
        }
        std::map<std::string, int> count;
        for (const auto & st : statuses) {
            ++count[state_name(st.state)];
            if (st.state == CellState::missing || st.state == CellState::failed)
                todo.push_back(st.cell.index);
        }
        for (const auto & [name, n] : count) states += fmt::format("{}{} {}", states.empty() ? "" : ", ", n, name);
    } else {
        for (const auto & c : g.cells) todo.push_back(c.index);
    }
    if (todo.empty()) {
        out.what = fmt::format("all {} cells in {} are done or queued ({}); nothing submitted", g.cells.size(), dir,
                               states);
        return out;
    }

    ScriptParams p;
    p.joulebench = m.joulebench;
    p.results_dir = dir;
    p.workdir = m.workdir;
    p.cache_dir = cache;
    p.sweep_args = m.sweep_args;
    p.cells = g.cells;
    p.job_name = s.job_name;
    p.partition = s.partition;
    p.gres = s.gres;
    p.time = s.time;
    p.array_parallel = s.array_parallel;
    p.extra = s.sbatch_options;
    p.created_at = m.created_at;
    p.created_on = short_hostname();
    out.script = sbatch_script(p);
    const std::string & script = out.script;
    out.array =
        array_spec(todo) + (s.array_parallel > 0 ? fmt::format("%{}", s.array_parallel) : "");
    out.what = todo.size() == g.cells.size()
                                 ? fmt::format("all {} cells", g.cells.size())
                                 : fmt::format("{} of {} cells ({})", todo.size(), g.cells.size(), states);
    const std::string & array = out.array;
    if (s.dry_run) return out;

    fs::create_directories(fs::path(dir) / "logs");
    fs::create_directories(cache);
    const fs::path script_path = fs::path(dir) / "sweep.sbatch";
    write_file_atomically(script_path, script, fs::perms::owner_exec);
    CommandResult r = run_command({"sbatch", "--parsable", "--array=" + array, script_path.string()});
    if (r.status < 0) {
        throw UsageError(
            fmt::format("sbatch: cannot run it ({}): --slurm needs Slurm's client commands on PATH; "
                        "--dry-run prints the script without them",
                        r.err));
    }
    if (r.status != 0) {
        throw RuntimeFailure(fmt::format("sbatch --array={} {} failed (exit {}): {}", array, script_path.string(),
                                         r.status, first_line(r.err.empty() ? r.out : r.err)));
    }
    out.job_id = first_line(r.out).substr(0, first_line(r.out).find(';'));
    const std::string & job_id = out.job_id;
    if (job_id.empty() || job_id.find_first_not_of("0123456789") != std::string::npos) {
        throw RuntimeFailure(
            fmt::format("sbatch printed no job id (stdout: '{}', stderr: '{}')", first_line(r.out), first_line(r.err)));
    }
    m.jobs.push_back({job_id, array, utc_now_iso(), todo});
    write_file_atomically(mpath, m.to_json().dump(2) + "\n");
    say(fmt::format("submitted {} as Slurm job {} (array {})", out.what, job_id, array));
    return out;
}

Table status_table(const std::string & results_dir) {
    const Manifest m = read_manifest(results_dir);
    std::string queue_error;
    const auto statuses = cell_statuses(results_dir, m, &queue_error);

    Table t;
    t.title = fmt::format("Slurm sweep in {}", results_dir);
    for (const char * name : {"cell", "model", "scheme", "task", "state", "node", "job", "detail"}) {
        t.add_column(name);
        t.columns.back().right_align = std::string(name) == "cell";
    }
    std::map<std::string, int> count;
    for (const auto & st : statuses) {
        ++count[state_name(st.state)];
        t.add_row({int64_t(st.cell.index), std::filesystem::path(st.cell.model).filename().string(), st.cell.scheme,
                   st.cell.task, std::string(state_name(st.state)), st.node, st.job, st.detail});
    }
    std::string summary = fmt::format("{} cells:", statuses.size());
    for (const char * s : {"done", "running", "pending", "failed", "missing"}) {
        if (count[s] > 0) summary += fmt::format(" {} {},", count[s], s);
    }
    summary.pop_back();
    t.notes.push_back(summary);
    if (!queue_error.empty())
        t.notes.push_back("Slurm could not be asked (" + queue_error + "): states come from the shards only");
    if (count["failed"] + count["missing"] > 0) {
        t.notes.push_back("the same `joulebench sweep ... --slurm` command resubmits the failed and missing cells");
    }
    if (count["done"] > 0) t.notes.push_back(fmt::format("collect: joulebench merge {}/*.db -o all.db", results_dir));
    return t;
}

}  // namespace jb::cluster
