// The serving tables (report/serving.hpp). Columns are listed once per table; every format reads them.

#include "report/serving.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "report/report_util.hpp"

namespace jb::report {

namespace {

// The scheme as the tables show it; levels of `serve --tuned` say so.
std::string scheme_of(const ServeLevelRecord & l) {
    const std::string s = l.scheme_name.empty() ? l.scheme_canonical : l.scheme_name;
    return metrics::settings_group(l) == "tuned" ? s + " (tuned server)" : s;
}
// Closed levels by concurrency, then open by rate, within model, host and scheme (as stored).
std::vector<const ServeLevelRecord *> ordered(const std::vector<ServeLevelRecord> & levels) {
    std::vector<const ServeLevelRecord *> out;
    std::map<std::string, size_t> scheme_rank;  // schemes in the order they were first served
    for (const auto & l : levels) {
        out.push_back(&l);
        scheme_rank.emplace(l.scheme_canonical + "\x1f" + metrics::settings_group(l), scheme_rank.size());
    }
    std::stable_sort(out.begin(), out.end(), [&](const ServeLevelRecord * a, const ServeLevelRecord * b) {
        if (a->model_name != b->model_name) return a->model_name < b->model_name;
        if (a->host_name != b->host_name) return a->host_name < b->host_name;
        const size_t ra = scheme_rank[a->scheme_canonical + "\x1f" + metrics::settings_group(*a)];
        const size_t rb = scheme_rank[b->scheme_canonical + "\x1f" + metrics::settings_group(*b)];
        if (ra != rb) return ra < rb;
        if (a->mode != b->mode) return a->mode == "closed";
        return a->mode == "closed" ? a->concurrency < b->concurrency : a->rate_rps < b->rate_rps;
    });
    return out;
}

// server_settings joined: "np 4, c 1024, fa auto"; "external" for an endpoint.
std::string server_of(const ServeLevelRecord & l) {
    std::string out;
    for (const auto & p : metrics::server_settings(l)) out += (out.empty() ? "" : ", ") + p;
    return out;
}

std::string window_of(const ServeLevelRecord & l) {
    return std::isfinite(l.steady_j_per_request) ? "steady" : std::isfinite(l.j_per_request) ? "level" : "";
}

std::string token_check(const ServeLevelRecord & l) {
    return l.tokens_match == 1 ? "match" : l.tokens_match == 0 ? "MISMATCH" : "";
}

}  // namespace

metrics::Slo report_slo(const ReportInput & in) {
    return in.slo.empty() ? metrics::default_slo() : metrics::parse_slo(in.slo);
}

Table serve_levels_table(const std::vector<ServeLevelRecord> & levels) {
    Table t;
    t.title = "Served levels: energy per request against throughput";
    t.add_text_column("model_name", "model");
    t.add_text_column("host_name", "host");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("level", "level");
    t.add_text_column("server", "server settings");
    t.add_text_column("status", "status");
    t.add_column("runs", "runs", 0);
    t.add_column("sent", "sent", 0);
    t.add_column("completed", "completed", 0);
    t.add_column("failed", "failed", 0);
    t.add_column("timed_out", "timed out", 0);
    t.add_column("requests_per_s", "req/s", 3);
    t.add_column("output_tok_s", "out tok/s", 1);
    t.add_column("j_per_request", "J/request", 4);
    t.add_column("j_per_request_ci95", "± 95 %", 4);
    t.add_column("j_per_output_token", "J/out token", 5);
    t.add_column("wh_per_1000_requests", "Wh/1k req", 4);
    t.add_text_column("window", "window");
    t.add_column("level_requests_per_s", "req/s (level)", 3);
    t.add_column("level_output_tok_s", "out tok/s (level)", 1);
    t.add_column("level_j_per_request", "J/request (level)", 4);
    t.add_column("level_j_per_output_token", "J/out token (level)", 5);
    t.add_column("avg_power_w", "avg W", 1);
    t.add_column("energy_j", "energy (J)", 2);
    t.add_column("steady_s", "steady (s)", 2);
    t.add_text_column("tokens", "tokens vs /metrics");
    t.add_column("load_cpu_s", "loadgen CPU (s)", 3);
    t.add_text_column("energy_estimated", "estimated");
    t.add_text_column("run_j_per_request", "J/request per run");
    t.add_text_column("note", "note");
    bool any_estimated = false, any_pooled = false;
    for (const ServeLevelRecord * l : ordered(levels)) {
        any_estimated = any_estimated || l->energy_estimated;
        any_pooled = any_pooled || l->runs > 1;
        std::string per_run;
        if (l->run_j_per_request.size() > 1) per_run = fmt::format("{:.4g}", fmt::join(l->run_j_per_request, ", "));
        std::string note = l->reason;
        if (!std::isfinite(l->steady_j_per_request) && !l->steady_note.empty() && l->status != kServeFailed) {
            note += (note.empty() ? "" : "; ") + l->steady_note;
        }
        for (const auto & c : metrics::serve_cautions(*l)) note += (note.empty() ? "" : "; ") + c;
        t.add_row({l->model_name,
                   l->host_name,
                   scheme_of(*l),
                   l->level,
                   server_of(*l),
                   l->status,
                   l->runs,
                   l->sent,
                   l->completed,
                   l->failed,
                   l->timed_out,
                   real(l->best_requests_per_s()),
                   real(l->best_output_tokens_per_s()),
                   real(l->best_j_per_request()),
                   real(l->j_per_request_ci95),
                   real(l->best_j_per_output_token()),
                   real(l->best_wh_per_1000_requests()),
                   window_of(*l),
                   real(l->requests_per_s),
                   real(l->output_tokens_per_s),
                   real(l->j_per_request),
                   real(l->j_per_output_token),
                   real(l->avg_power_w),
                   real(l->energy_j),
                   real(l->steady_s),
                   token_check(*l),
                   real(l->load_cpu_s),
                   std::string(l->energy_estimated ? "yes" : ""),
                   per_run,
                   note});
    }
    t.notes.push_back(
        "req/s, out tok/s, J/request, J/out token, Wh/1k req: over the steady-state window (every client busy; ramp-up "
        "and drain left out) where the level has one (window = steady), else over the whole level; the (level) columns "
        "are the whole level's. Energy is gross (every measured domain, idle included); sent = completed + failed + timed "
        "out.");
    if (any_estimated)
        t.notes.push_back("estimated: no energy counter on this host; the energy is a model (TDP x utilisation)");
    if (any_pooled) {
        t.notes.push_back("runs: the level's repeated runs that ended ok (serve --repeats), pooled: values and latency "
                          "percentiles are the runs' means, counts their sums; ± 95 %: half-width of the 95 % t interval "
                          "of the mean J/request");
    }
    return t;
}

Table serve_latency_table(const std::vector<ServeLevelRecord> & levels, const metrics::Slo & slo) {
    Table t;
    t.title = fmt::format("Served levels: latency percentiles (ms; SLO {})", slo.str());
    t.add_text_column("model_name", "model");
    t.add_text_column("host_name", "host");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("level", "level");
    for (const char * m : {"ttft", "tpot", "itl"}) {
        for (int p : {50, 90, 99}) {
            std::string up = m;
            for (auto & c : up) c = char(std::toupper(c));
            t.add_column(fmt::format("{}_p{}_ms", m, p), fmt::format("{} p{}", up, p), 1);
        }
    }
    t.add_column("e2e_p50_ms", "E2E p50", 1);
    t.add_column("e2e_p99_ms", "E2E p99", 1);
    t.add_column("queue_p99_ms", "queue p99", 1);
    t.add_text_column("meets_slo", "meets SLO");
    for (const ServeLevelRecord * l : ordered(levels)) {
        const std::string v = metrics::slo_violation(*l, slo);
        t.add_row({l->model_name, l->host_name, scheme_of(*l), l->level, real(l->ttft_p50_ms), real(l->ttft_p90_ms),
                   real(l->ttft_p99_ms), real(l->tpot_p50_ms), real(l->tpot_p90_ms), real(l->tpot_p99_ms),
                   real(l->itl_p50_ms), real(l->itl_p90_ms), real(l->itl_p99_ms), real(l->e2e_p50_ms),
                   real(l->e2e_p99_ms), real(l->queue_p99_ms), v.empty() ? std::string("yes") : "no: " + v});
    }
    t.notes.push_back(
        "TTFT: first token - arrival (closed loop: sent; open loop: with the wait for a place, queue); TPOT: (last - "
        "first token) / (tokens - 1); ITL: every gap between streamed tokens; E2E: end - arrival; percentiles as "
        "numpy's linear (vLLM benchmark_serving's definitions)");
    return t;
}

Table serve_frontier_table(const std::vector<ServeLevelRecord> & levels, const metrics::Slo & slo) {
    Table t;
    t.title = fmt::format("Operating point per scheme: the lowest J/request that meets {}", slo.str());
    t.add_text_column("model_name", "model");
    t.add_text_column("host_name", "host");
    t.add_text_column("scheme", "scheme");
    t.add_text_column("level", "operating point");
    t.add_column("runs", "runs", 0);
    t.add_column("j_per_request", "J/request", 4);
    t.add_column("j_per_request_ci95", "± 95 %", 4);
    t.add_column("wh_per_1000_requests", "Wh/1k req", 4);
    t.add_column("j_per_output_token", "J/out token", 5);
    t.add_column("requests_per_s", "req/s", 3);
    t.add_column("ttft_p99_ms", "TTFT p99 (ms)", 1);
    t.add_column("tpot_p99_ms", "TPOT p99 (ms)", 1);
    t.add_column("saving_pct", "saving vs fp16 (%)", 1);
    t.add_column("saving_lo_pct", "saving 95 % lo", 1);
    t.add_column("saving_hi_pct", "saving 95 % hi", 1);
    t.add_text_column("choice", "choice");
    t.add_text_column("note", "note");
    const auto frontiers = metrics::serving_frontier(levels, slo);
    for (const auto & f : frontiers) {
        if (!f.operating_point) {
            t.add_row({f.model_name, f.host_name, f.label, Value(), Value(), Value(), Value(), Value(), Value(),
                       Value(), Value(), Value(), Value(), Value(), Value(), std::string(), f.note});
            continue;
        }
        const ServeLevelRecord & l = levels[*f.operating_point];
        t.add_row({f.model_name, f.host_name, f.label, l.level, l.runs, real(l.best_j_per_request()),
                   real(l.j_per_request_ci95), real(l.best_wh_per_1000_requests()), real(l.best_j_per_output_token()),
                   real(l.best_requests_per_s()), real(l.ttft_p99_ms), real(l.tpot_p99_ms),
                   pct(f.saving_vs_reference), pct(f.saving_ci95_lo), pct(f.saving_ci95_hi),
                   std::string(f.chosen ? "choose" : ""), std::string()});
    }
    for (const auto & h : metrics::frontier_headlines(frontiers, levels, slo)) t.notes.push_back(h);
    if (std::any_of(frontiers.begin(), frontiers.end(), [](const auto & f) { return std::isfinite(f.saving_ci95_lo); })) {
        t.notes.push_back("saving 95 % lo/hi: where both operating points pool repeated runs (serve --repeats), paired "
                          "by round when both ran the same rounds (each round's drift cancels), else Welch's");
    }
    if (!frontiers.empty()) {
        t.notes.push_back("J/request, Wh/1k req, J/out token and req/s: over the level's steady-state window where it "
                          "has one, else over the whole level");
    }
    return t;
}

std::vector<NamedTable> serving_tables(const ReportInput & in) {
    const metrics::Slo slo = report_slo(in);
    return {{"serving", serve_levels_table(in.serve_levels)},
            {"serving_latency", serve_latency_table(in.serve_levels, slo)},
            {"serving_frontier", serve_frontier_table(in.serve_levels, slo)}};
}

}  // namespace jb::report
