#include "cluster/slurm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "joulebench/error.hpp"

namespace jb::cluster {

std::vector<Cell> grid_cells(const std::vector<std::string> & models, const std::vector<std::string> & schemes,
                             const std::vector<std::string> & tasks) {
    std::vector<Cell> out;
    for (const auto & m : models) {
        for (const auto & s : schemes) {
            for (const auto & t : tasks) out.push_back({int(out.size()), m, s, t});
        }
    }
    return out;
}

std::string shard_name(int index) {
    return fmt::format("cell-{:04}.db", index);
}

std::string array_spec(std::vector<int> indices) {
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    std::string out;
    for (size_t i = 0; i < indices.size();) {
        size_t j = i;
        while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
        if (!out.empty()) out += ",";
        out += j == i ? std::to_string(indices[i]) : fmt::format("{}-{}", indices[i], indices[j]);
        i = j + 1;
    }
    return out;
}

namespace {

// A value that goes into an #SBATCH line: Slurm splits those at blanks and expands % patterns
// in file names, so such paths are refused rather than mangled.
void check_sbatch_value(const std::string & value, const std::string & what) {
    if (value.find_first_of(" \t\n%") != std::string::npos) {
        throw UsageError(
            fmt::format("{} '{}': Slurm's #SBATCH lines cannot hold blanks or '%' here; choose a "
                        "path without them",
                        what, value));
    }
}

std::string file_name_of(const std::string & path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string sbatch_script(const ScriptParams & p) {
    check_sbatch_value(p.results_dir, "--results-dir");
    check_sbatch_value(p.workdir, "working directory");
    const size_t n = p.cells.size();
    std::string s = "#!/bin/bash\n";
    s += fmt::format("# joulebench sweep as a Slurm job array, written by `joulebench sweep --slurm`{}{}.\n",
                     p.created_on.empty() ? "" : " on " + p.created_on,
                     p.created_at.empty() ? "" : " at " + p.created_at);
    s += "#\n";
    s += fmt::format("# {} cell{}: array task N measures cell N (one model x scheme x task, all repeats) into\n", n,
                     n == 1 ? "" : "s");
    s += fmt::format("# its own shard {}/cell-NNNN.db:\n", p.results_dir);
    size_t w_model = 5, w_scheme = 6;
    for (const auto & c : p.cells) {
        w_model = std::max(w_model, file_name_of(c.model).size());
        w_scheme = std::max(w_scheme, c.scheme.size());
    }
    s += fmt::format("#   {:>4}  {:<{}}  {:<{}}  {}\n", "cell", "model", w_model, "scheme", w_scheme, "task");
    for (const auto & c : p.cells) {
        s += fmt::format("#   {:>4}  {:<{}}  {:<{}}  {}\n", c.index, file_name_of(c.model), w_model, c.scheme, w_scheme,
                         c.task);
    }
    s += "#\n";
    s += fmt::format("# Quantized files: every task uses the one cache {}. The cache locks each\n", p.cache_dir);
    s += "# (model, scheme) file while it is made (flock on a .lock file; written as .part, then renamed),\n";
    s += "# so the first task that needs a file quantizes it, the others wait and reuse it: each file is\n";
    s += "# made once. It must be on a filesystem every node shares, with working flock (NFS v4; Lustre\n";
    s += "# mounted with -o flock).\n";
    s += "#\n";
    s += fmt::format("# Progress:  joulebench status --slurm {}\n", p.results_dir);
    s += "# Resubmit:  the same `joulebench sweep ... --slurm` command submits only missing or failed cells\n";
    s += fmt::format("# Collect:   joulebench merge {}/*.db -o all.db\n", p.results_dir);
    s += "#\n";
    s += fmt::format("#SBATCH --job-name={}\n", p.job_name);
    s += fmt::format("#SBATCH --array=0-{}{}\n", n == 0 ? 0 : n - 1,
                     p.array_parallel > 0 ? fmt::format("%{}", p.array_parallel) : "");
    s += fmt::format("#SBATCH --output={}/logs/cell-%a.log\n", p.results_dir);
    s += fmt::format("#SBATCH --chdir={}\n", p.workdir);
    if (!p.partition.empty()) s += fmt::format("#SBATCH --partition={}\n", p.partition);
    if (!p.gres.empty()) s += fmt::format("#SBATCH --gres={}\n", p.gres);
    if (!p.time.empty()) s += fmt::format("#SBATCH --time={}\n", p.time);
    for (const auto & e : p.extra) s += fmt::format("#SBATCH {}\n", e);
    s += "set -euo pipefail\n";
    s += "cell=${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}\n";
    s += fmt::format("shard=$(printf '%s/cell-%04d.db' {} \"$cell\")\n", shell_quote(p.results_dir));
    s += "echo \"joulebench: cell $cell on $(hostname -s) (job ${SLURM_ARRAY_JOB_ID:-?}_$cell, "
         "GPUs ${CUDA_VISIBLE_DEVICES:-none}) into $shard\" >&2\n";
    s += fmt::format("exec {} sweep --cell \"$cell\" --db \"$shard\" --cache-dir {} --no-progress",
                     shell_quote(p.joulebench), shell_quote(p.cache_dir));
    for (const auto & a : p.sweep_args) {
        s += ' ';
        s += shell_quote(a);
    }
    s += '\n';
    return s;
}

namespace {

bool parse_int(std::string_view text, int & out) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

// "5" -> 5..5; "6-7%1" -> 6..7; "[4-6%2]" -> 4..6; "1,3" (a pending list) -> 1..3 is wrong, so a
// list is split by the caller. Returns false when the text is no task range.
bool parse_task_range(std::string text, int & first, int & last) {
    if (!text.empty() && text.front() == '[') text = text.substr(1);
    if (!text.empty() && text.back() == ']') text.pop_back();
    if (auto pct = text.find('%'); pct != std::string::npos) text.resize(pct);
    const auto dash = text.find('-');
    if (dash == std::string::npos) {
        if (!parse_int(text, first)) return false;
        last = first;
        return true;
    }
    return parse_int(std::string_view(text).substr(0, dash), first) &&
           parse_int(std::string_view(text).substr(dash + 1), last) && first <= last;
}

// A task list as Slurm prints it ("1,3-5%2"): one entry per range.
void add_ranges(const QueueEntry & base, std::string list, std::vector<QueueEntry> & out) {
    if (!list.empty() && list.front() == '[') list = list.substr(1);
    if (!list.empty() && list.back() == ']') list.pop_back();
    if (auto pct = list.find('%'); pct != std::string::npos) list.resize(pct);
    std::stringstream in(list);
    for (std::string part; std::getline(in, part, ',');) {
        QueueEntry e = base;
        if (parse_task_range(part, e.first, e.last)) out.push_back(e);
    }
}

std::string clean_node(const std::string & node) {
    return node == "(null)" || node == "None assigned" || node == "None" ? "" : node;
}

}  // namespace

std::vector<QueueEntry> parse_scontrol(const std::string & text) {
    std::vector<QueueEntry> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string array_job, tasks;
        QueueEntry e;
        for (std::string w; words >> w;) {
            const auto eq = w.find('=');
            if (eq == std::string::npos) continue;
            const std::string key = w.substr(0, eq), value = w.substr(eq + 1);
            if (key == "ArrayJobId")
                array_job = value;
            else if (key == "ArrayTaskId")
                tasks = value;
            else if (key == "JobState")
                e.state = value;
            else if (key == "NodeList")
                e.node = clean_node(value);
            else if (key == "ExitCode")
                e.exit_code = value;
        }
        if (array_job.empty() || tasks.empty() || e.state.empty()) continue;
        e.job_id = array_job;
        add_ranges(e, tasks, out);
    }
    return out;
}

std::vector<QueueEntry> parse_sacct(const std::string & text) {
    std::vector<QueueEntry> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::vector<std::string> f;
        std::stringstream in(line);
        for (std::string x; std::getline(in, x, '|');) f.push_back(x);
        if (f.size() < 2) continue;
        const auto us = f[0].find('_');
        if (us == std::string::npos || f[0].find('.') != std::string::npos) continue;  // not an array task, or a step
        QueueEntry e;
        e.job_id = f[0].substr(0, us);
        // "CANCELLED by 0" -> CANCELLED
        e.state = f[1].substr(0, f[1].find(' '));
        if (f.size() > 2) e.node = clean_node(f[2]);
        if (f.size() > 3) e.exit_code = f[3];
        add_ranges(e, f[0].substr(us + 1), out);
    }
    return out;
}

const char * state_name(CellState s) {
    switch (s) {
        case CellState::missing:
            return "missing";
        case CellState::pending:
            return "pending";
        case CellState::running:
            return "running";
        case CellState::done:
            return "done";
        case CellState::failed:
            return "failed";
    }
    return "?";
}

CellStatus classify_cell(const Cell & cell, int repeat, const ShardFacts & shard,
                         const std::optional<QueueEntry> & queue, bool submitted) {
    CellStatus st;
    st.cell = cell;
    st.node = shard.node;
    if (queue) {
        st.job = fmt::format("{}_{}", queue->job_id, cell.index);
        if (st.node.empty()) st.node = queue->node;
    }
    if (shard.exists && shard.ok >= repeat) {
        st.state = CellState::done;
        return st;
    }
    const std::string q = queue ? queue->state : "";
    if (q == "PENDING" || q == "CONFIGURING" || q == "REQUEUED" || q == "REQUEUE_HOLD" || q == "REQUEUE_FED" ||
        q == "RESIZING" || q == "SUSPENDED") {
        st.state = CellState::pending;
        return st;
    }
    if (q == "RUNNING" || q == "COMPLETING" || q == "STAGE_OUT" || q == "SIGNALING") {
        st.state = CellState::running;
        return st;
    }
    if (!shard.error.empty() || shard.failed > 0) {
        st.state = CellState::failed;
        st.detail = shard.error.empty() ? "a failed cell in the shard" : shard.error;
        return st;
    }
    if (!q.empty() && q != "COMPLETED") {
        st.state = CellState::failed;
        st.detail = fmt::format("Slurm: {}{}", q, queue->exit_code.empty() ? "" : " (exit " + queue->exit_code + ")");
        return st;
    }
    if (submitted) {
        st.state = CellState::failed;
        st.detail = shard.exists ? fmt::format("ended with {} of {} repeats in the shard", shard.ok, repeat)
                                 : "ended without writing its shard";
        if (!q.empty()) st.detail += " (Slurm: COMPLETED)";
        return st;
    }
    st.state = CellState::missing;
    return st;
}

nlohmann::json Manifest::to_json() const {
    nlohmann::json cells_j = nlohmann::json::array();
    for (const auto & c : cells) {
        cells_j.push_back({{"index", c.index},
                           {"model", c.model},
                           {"scheme", c.scheme},
                           {"task", c.task},
                           {"shard", shard_name(c.index)}});
    }
    nlohmann::json jobs_j = nlohmann::json::array();
    for (const auto & j : jobs) {
        jobs_j.push_back(
            {{"job_id", j.job_id}, {"array", j.array}, {"submitted_at", j.submitted_at}, {"cells", j.cells}});
    }
    return {{"format", "joulebench-slurm-sweep"},
            {"version", 1},
            {"created_at", created_at},
            {"joulebench", joulebench},
            {"workdir", workdir},
            {"cache_dir", cache_dir},
            {"sweep_args", sweep_args},
            {"repeat", repeat},
            {"cells", cells_j},
            {"jobs", jobs_j}};
}

Manifest Manifest::from_json(const nlohmann::json & j, const std::string & file) {
    auto need = [&](const nlohmann::json & obj, const char * key, const std::string & where) -> const nlohmann::json & {
        if (!obj.is_object() || !obj.contains(key))
            throw InputError(file, fmt::format("{}: missing field '{}'", where, key));
        return obj.at(key);
    };
    Manifest m;
    try {
        if (!j.is_object() || j.value("format", "") != "joulebench-slurm-sweep") {
            throw InputError(file, "field 'format': not a joulebench Slurm sweep manifest");
        }
        if (need(j, "version", "manifest").get<int>() != 1) {
            throw InputError(file, fmt::format("field 'version': {} is not 1 (made by a newer joulebench?)",
                                               j.at("version").dump()));
        }
        m.created_at = need(j, "created_at", "manifest").get<std::string>();
        m.joulebench = need(j, "joulebench", "manifest").get<std::string>();
        m.workdir = need(j, "workdir", "manifest").get<std::string>();
        m.cache_dir = need(j, "cache_dir", "manifest").get<std::string>();
        m.sweep_args = need(j, "sweep_args", "manifest").get<std::vector<std::string>>();
        m.repeat = need(j, "repeat", "manifest").get<int>();
        const auto & cells_j = need(j, "cells", "manifest");
        for (size_t i = 0; i < cells_j.size(); ++i) {
            const std::string where = fmt::format("cells[{}]", i);
            Cell c{need(cells_j[i], "index", where).get<int>(), need(cells_j[i], "model", where).get<std::string>(),
                   need(cells_j[i], "scheme", where).get<std::string>(),
                   need(cells_j[i], "task", where).get<std::string>()};
            if (c.index != int(i)) throw InputError(file, fmt::format("{}.index: {} (expected {})", where, c.index, i));
            m.cells.push_back(std::move(c));
        }
        const auto & jobs_j = need(j, "jobs", "manifest");
        for (size_t i = 0; i < jobs_j.size(); ++i) {
            const std::string where = fmt::format("jobs[{}]", i);
            m.jobs.push_back({need(jobs_j[i], "job_id", where).get<std::string>(),
                              need(jobs_j[i], "array", where).get<std::string>(),
                              need(jobs_j[i], "submitted_at", where).get<std::string>(),
                              need(jobs_j[i], "cells", where).get<std::vector<int>>()});
        }
    } catch (const nlohmann::json::exception & e) {
        throw InputError(file, fmt::format("malformed manifest: {}", e.what()));
    }
    return m;
}

}  // namespace jb::cluster
