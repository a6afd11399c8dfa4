// SLO, the serving frontier and the traffic recommendation (joulebench/serving.hpp).

#include "joulebench/serving.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "joulebench/error.hpp"
#include "metrics/confidence.hpp"
#include "util/strings.hpp"

namespace jb::metrics {

namespace {

bool finite(double v) {
    return std::isfinite(v);
}

std::string trim(const std::string & s) {
    const size_t a = s.find_first_not_of(" \t");
    if (a == std::string::npos) return "";
    return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

std::vector<std::string> split(const std::string & s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        const size_t p = s.find(sep, start);
        out.push_back(trim(s.substr(start, p == std::string::npos ? std::string::npos : p - start)));
        if (p == std::string::npos) break;
        start = p + 1;
    }
    return out;
}

std::string ms_text(double ms) {
    if (ms >= 1000.0) return fmt::format("{:.3g} s", ms / 1000.0);
    return fmt::format("{:.3g} ms", ms);
}

std::string metric_title(const std::string & m) {
    std::string t = m;
    for (auto & c : t) c = char(std::toupper(c));
    return t;
}

// "2s", "50ms", "1.5 s", "250" (ms) -> ms; NaN when unreadable.
double parse_ms(const std::string & text) {
    static const std::regex re(R"(^\s*([0-9]*\.?[0-9]+)\s*(ms|s)?\s*$)");
    std::smatch m;
    if (!std::regex_match(text, m, re)) return NAN;
    const double v = std::stod(m[1].str());
    return m[2].str() == "s" ? v * 1000.0 : v;
}

bool is_slo_key(const std::string & key) {
    static const std::regex re(R"(^(ttft|tpot|itl|e2e)_p(50|90|99)$)");
    return std::regex_match(key, re);
}

SloTarget parse_target(const std::string & key, const std::string & value, const std::string & option) {
    static const std::regex re(R"(^(ttft|tpot|itl|e2e)_p(50|90|99)$)");
    std::smatch m;
    if (!std::regex_match(key, m, re)) {
        throw UsageError(fmt::format("{}: '{}' is not a latency target; expected ttft, tpot, itl or e2e with _p50, "
                                     "_p90 or _p99 (ttft_p99=2s)",
                                     option, key));
    }
    SloTarget t;
    t.metric = m[1].str();
    t.percentile = std::stoi(m[2].str());
    t.limit_ms = parse_ms(value);
    if (!(t.limit_ms > 0)) {
        throw UsageError(fmt::format("{}: {}={}: expected a time > 0 in s or ms (2s, 50ms)", option, key, value));
    }
    return t;
}

// Closed levels by concurrency, then open levels by rate.
bool level_before(const ServeLevelRecord & a, const ServeLevelRecord & b) {
    if (a.mode != b.mode) return a.mode == "closed";
    if (a.mode == "closed") return a.concurrency < b.concurrency;
    return a.rate_rps < b.rate_rps;
}

double mean_per_completed(int64_t total, int64_t completed) {
    return completed > 0 ? double(total) / double(completed) : NAN;
}

bool within(double measured, double wanted, double tolerance) {
    return finite(measured) && wanted > 0 && std::fabs(measured - wanted) <= tolerance * wanted;
}

// Sequences of a synthetic workload: tg256 -> 1, tg256x8r5 -> 8; pp2048 -> 0 (prefill only);
// -1 for anything else (a task).
int workload_sequences(const std::string & task) {
    static const std::regex tg(R"(^tg[0-9]+(x([0-9]+))?(r[0-9]+)?$)");
    static const std::regex pp(R"(^pp[0-9]+(r[0-9]+)?$)");
    std::smatch m;
    if (std::regex_match(task, m, tg)) return m[2].matched ? std::stoi(m[2].str()) : 1;
    if (std::regex_match(task, pp)) return 0;
    return -1;
}

std::string j_text(double j) {
    return fmt::format("{:.4g} J", j);
}

// A level's J/request, with its interval where it pools repeated runs: "110 J ± 24.84 (3 runs)".
std::string j_text(const ServeLevelRecord & l) {
    if (l.runs < 2 || !std::isfinite(l.j_per_request_ci95)) return j_text(l.best_j_per_request());
    return fmt::format("{:.4g} J ± {:.4g} ({} runs)", l.best_j_per_request(), l.j_per_request_ci95, l.runs);
}

}  // namespace

// ---- repeated runs

std::string repeat_suffix(int run) {
    return run <= 1 ? std::string() : fmt::format("|repeat={}", run);
}

std::string repeat_base(const std::string & workload_fp, int * run) {
    static const std::string kTag = "|repeat=";
    const size_t at = workload_fp.rfind(kTag);
    const std::optional<int> n =
        at == std::string::npos ? std::nullopt : parse_int(workload_fp.substr(at + kTag.size()));
    if (!n || *n < 2) {
        if (run) *run = 1;
        return workload_fp;
    }
    if (run) *run = *n;
    return workload_fp.substr(0, at);
}

namespace {

// Per-level values: a pooled level holds the mean of its runs'.
constexpr double ServeLevelRecord::*kMeanFields[] = {
    &ServeLevelRecord::duration_s,         &ServeLevelRecord::requests_per_s,
    &ServeLevelRecord::output_tokens_per_s, &ServeLevelRecord::input_tokens_per_s,
    &ServeLevelRecord::ttft_p50_ms,        &ServeLevelRecord::ttft_p90_ms,
    &ServeLevelRecord::ttft_p99_ms,        &ServeLevelRecord::tpot_p50_ms,
    &ServeLevelRecord::tpot_p90_ms,        &ServeLevelRecord::tpot_p99_ms,
    &ServeLevelRecord::itl_p50_ms,         &ServeLevelRecord::itl_p90_ms,
    &ServeLevelRecord::itl_p99_ms,         &ServeLevelRecord::e2e_p50_ms,
    &ServeLevelRecord::e2e_p99_ms,         &ServeLevelRecord::queue_p99_ms,
    &ServeLevelRecord::energy_j,           &ServeLevelRecord::energy_net_j,
    &ServeLevelRecord::j_per_request,      &ServeLevelRecord::j_per_output_token,
    &ServeLevelRecord::wh_per_1000_requests, &ServeLevelRecord::j_per_input_token,
    &ServeLevelRecord::avg_power_w,        &ServeLevelRecord::idle_power_w,
    &ServeLevelRecord::load_cpu_s};
constexpr double ServeLevelRecord::*kSteadyFields[] = {
    &ServeLevelRecord::steady_s,                  &ServeLevelRecord::steady_energy_j,
    &ServeLevelRecord::steady_energy_net_j,       &ServeLevelRecord::steady_output_tokens,
    &ServeLevelRecord::steady_j_per_request,      &ServeLevelRecord::steady_j_per_output_token,
    &ServeLevelRecord::steady_wh_per_1000_requests};
constexpr int64_t ServeLevelRecord::*kSumFields[] = {
    &ServeLevelRecord::sent,          &ServeLevelRecord::completed,
    &ServeLevelRecord::failed,        &ServeLevelRecord::timed_out,
    &ServeLevelRecord::not_sent,      &ServeLevelRecord::prompt_tokens,
    &ServeLevelRecord::cached_prompt_tokens, &ServeLevelRecord::completion_tokens};

// Mean of the finite values (NaN when none is).
double finite_mean(const std::vector<const ServeLevelRecord *> & runs, double ServeLevelRecord::*field) {
    double sum = 0;
    int n = 0;
    for (const auto * r : runs) {
        if (std::isfinite(r->*field)) {
            sum += r->*field;
            ++n;
        }
    }
    return n > 0 ? sum / n : kServeNaN;
}

// `all`: one level's runs in round order, `numbers` their rounds.
ServeLevelRecord pool(const std::vector<const ServeLevelRecord *> & all, const std::vector<int> & numbers) {
    std::vector<const ServeLevelRecord *> runs;
    std::vector<int> ok_numbers;
    for (size_t i = 0; i < all.size(); ++i) {
        if (all[i]->status != kServeOk) continue;
        runs.push_back(all[i]);
        ok_numbers.push_back(numbers[i]);
    }
    ServeLevelRecord p = runs.empty() ? *all.front() : *runs.front();
    p.workload_fp = repeat_base(p.workload_fp);
    if (runs.empty() || all.size() == 1) {
        if (std::isfinite(p.best_j_per_request())) {
            p.run_j_per_request = {p.best_j_per_request()};
            p.run_numbers = {numbers.front()};
        }
        return p;
    }
    // One window for every run: the steady one where each has it, else the whole level.
    const bool all_steady = std::all_of(runs.begin(), runs.end(),
                                        [](const auto * r) { return std::isfinite(r->steady_j_per_request); });
    std::vector<double> rps, j;
    for (const auto * r : runs) {
        rps.push_back(all_steady ? r->best_requests_per_s() : r->requests_per_s);
        j.push_back(all_steady ? r->best_j_per_request() : r->j_per_request);
    }
    for (auto f : kMeanFields) p.*f = finite_mean(runs, f);
    for (auto f : kSumFields) {
        p.*f = 0;
        for (const auto * r : runs) p.*f += r->*f;
    }
    for (auto f : kSteadyFields) p.*f = all_steady ? finite_mean(runs, f) : kServeNaN;
    if (all_steady) {
        // The window's requests/s as the runs' mean (best_requests_per_s() derives it from these).
        const double per_request = static_cast<double>(p.completion_tokens) / std::max<int64_t>(p.completed, 1);
        p.steady_output_tokens = mean_ci95(rps).mean * per_request * p.steady_s;
    } else {
        p.steady_note = "not every run had a steady window: the whole levels' values";
    }
    p.tokens_match = -1;
    for (const auto * r : runs) {
        if (r->tokens_match == 0) p.tokens_match = 0;
        if (r->tokens_match == 1 && p.tokens_match == -1) p.tokens_match = 1;
        p.energy_estimated = p.energy_estimated || r->energy_estimated;
    }
    p.runs = int64_t(runs.size());
    p.run_j_per_request = j;
    p.run_numbers = ok_numbers;
    p.j_per_request_ci95 = mean_ci95(j).half_width;
    if (runs.size() < all.size()) {
        const auto bad = std::find_if(all.begin(), all.end(), [](const auto * r) { return r->status != kServeOk; });
        p.reason = fmt::format("{} of {} runs not ok, left out: {}", all.size() - runs.size(), all.size(),
                               (*bad)->reason);
    }
    return p;
}

}  // namespace

std::vector<ServeLevelRecord> pool_repeats(const std::vector<ServeLevelRecord> & levels) {
    using Key = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string>;
    std::map<Key, size_t> at;
    std::vector<std::vector<const ServeLevelRecord *>> groups;
    std::vector<std::vector<int>> numbers;
    for (const ServeLevelRecord & l : levels) {
        int run = 1;
        const Key k{l.host_fingerprint, l.model_hash, l.scheme_canonical, l.level,
                    repeat_base(l.workload_fp, &run), l.settings_fp};
        auto [it, added] = at.emplace(k, groups.size());
        if (added) {
            groups.emplace_back();
            numbers.emplace_back();
        }
        groups[it->second].push_back(&l);
        numbers[it->second].push_back(run);
    }
    std::vector<ServeLevelRecord> out;
    out.reserve(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) {
        // Runs in their order (1, 2, ...), whatever the store's.
        std::vector<size_t> order(groups[g].size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return numbers[g][a] < numbers[g][b]; });
        std::vector<const ServeLevelRecord *> runs;
        std::vector<int> run_numbers;
        for (size_t i : order) {
            runs.push_back(groups[g][i]);
            run_numbers.push_back(numbers[g][i]);
        }
        out.push_back(pool(runs, run_numbers));
    }
    return out;
}

// ---- SLO

std::string SloTarget::str() const {
    const std::string limit = limit_ms >= 1000.0 && std::fmod(limit_ms, 1000.0) == 0.0
                                  ? fmt::format("{:g}s", limit_ms / 1000.0)
                                  : fmt::format("{:g}ms", limit_ms);
    return fmt::format("{}_p{}={}", metric, percentile, limit);
}

std::string Slo::str() const {
    if (targets.empty()) return "none";
    std::string s;
    for (const auto & t : targets) s += (s.empty() ? "" : ",") + t.str();
    return s;
}

Slo parse_slo(const std::string & text, const std::string & option) {
    Slo slo;
    if (trim(text).empty() || trim(text) == "none") return slo;
    for (const std::string & part : split(text, ',')) {
        const size_t eq = part.find('=');
        if (eq == std::string::npos) {
            throw UsageError(fmt::format("{}: '{}': expected METRIC_pP=LIMIT (ttft_p99=2s,tpot_p99=50ms)", option, part));
        }
        SloTarget t = parse_target(trim(part.substr(0, eq)), trim(part.substr(eq + 1)), option);
        for (const auto & o : slo.targets) {
            if (o.metric == t.metric && o.percentile == t.percentile)
                throw UsageError(fmt::format("{}: {}_p{} given twice", option, t.metric, t.percentile));
        }
        slo.targets.push_back(t);
    }
    return slo;
}

Slo default_slo() {
    return parse_slo("ttft_p99=2s,tpot_p99=100ms");
}

double slo_value(const ServeLevelRecord & l, const SloTarget & t) {
    const int p = t.percentile;
    if (t.metric == "ttft") return p == 50 ? l.ttft_p50_ms : p == 90 ? l.ttft_p90_ms : l.ttft_p99_ms;
    if (t.metric == "tpot") return p == 50 ? l.tpot_p50_ms : p == 90 ? l.tpot_p90_ms : l.tpot_p99_ms;
    if (t.metric == "itl") return p == 50 ? l.itl_p50_ms : p == 90 ? l.itl_p90_ms : l.itl_p99_ms;
    if (t.metric == "e2e") return p == 50 ? l.e2e_p50_ms : p == 99 ? l.e2e_p99_ms : NAN;
    return NAN;
}

double slo_ratio(const ServeLevelRecord & level, const Slo & slo) {
    double worst = 0.0;
    for (const SloTarget & t : slo.targets) {
        const double v = slo_value(level, t);
        if (!finite(v)) return NAN;
        worst = std::max(worst, v / t.limit_ms);
    }
    return worst;
}

std::string slo_violation(const ServeLevelRecord & l, const Slo & slo) {
    if (l.status == kServeFailed) return "level failed";
    if (l.status != kServeOk) {
        return fmt::format("{} of {} requests failed or timed out", l.failed + l.timed_out, l.sent);
    }
    for (const SloTarget & t : slo.targets) {
        const double v = slo_value(l, t);
        if (!finite(v)) return fmt::format("no {} p{}", metric_title(t.metric), t.percentile);
        if (v > t.limit_ms) {
            return fmt::format("{} p{} {} > {}", metric_title(t.metric), t.percentile, ms_text(v), ms_text(t.limit_ms));
        }
    }
    return "";
}

std::vector<std::string> serve_cautions(const ServeLevelRecord & l) {
    std::vector<std::string> out;
    if (l.mode != "open") return out;
    const nlohmann::json r = nlohmann::json::parse(l.result_json, nullptr, false);
    const double drawn = r.is_object() && r.contains("arrival_rate_rps") && r["arrival_rate_rps"].is_number()
                             ? r["arrival_rate_rps"].get<double>()
                             : kServeNaN;
    if (finite(drawn) && finite(l.rate_rps) && l.rate_rps > 0 &&
        std::fabs(drawn / l.rate_rps - 1.0) > kArrivalRateTolerance) {
        out.push_back(fmt::format("the arrivals came at {:.3g}/s, not {:g}/s ({:+.0f} %, {} request{}): the level "
                                  "measured a {} load than its label; a longer --duration (or more --requests) "
                                  "holds the rate",
                                  drawn, l.rate_rps, 100.0 * (drawn / l.rate_rps - 1.0), l.sent, l.sent == 1 ? "" : "s",
                                  drawn < l.rate_rps ? "lighter" : "heavier"));
    }
    if (finite(l.queue_p99_ms) && l.queue_p99_ms > kQueueCautionMs) {
        out.push_back(fmt::format("arrivals waited up to {:.1f} s (queue p99) for one of the {} places in flight: the "
                                  "server fell behind ({:.3g} requests/s served); TTFT and E2E count the wait. "
                                  "--parallel (more slots) or --max-in-flight measure a wider server",
                                  l.queue_p99_ms / 1000.0, l.concurrency, l.requests_per_s));
    }
    return out;
}

// ---- frontier

std::vector<std::string> server_settings(const ServeLevelRecord & l) {
    const nlohmann::json j = nlohmann::json::parse(l.server_json, nullptr, false);
    if (!j.is_object()) return {};
    if (j.value("server", "") == "external") return {"external"};
    std::vector<std::string> parts;
    auto add = [&](const char * key, const char * label) {
        if (!j.contains(key)) return;
        const auto & v = j[key];
        if (v.is_number_integer()) {
            parts.push_back(fmt::format("{} {}", label, v.get<int64_t>()));
        } else if (v.is_string() && v != "default" && !v.get<std::string>().empty()) {
            parts.push_back(fmt::format("{} {}", label, v.get<std::string>()));
        }
    };
    add("parallel", "np");
    add("ctx_size", "c");
    add("batch_size", "b");
    add("ubatch_size", "ub");
    add("flash_attn", "fa");
    const std::string k = j.value("cache_type_k", ""), v = j.value("cache_type_v", "");
    if ((!k.empty() && k != "default") || (!v.empty() && v != "default")) {
        parts.push_back(
            fmt::format("KV {}/{}", k == "default" || k.empty() ? "f16" : k, v == "default" || v.empty() ? "f16" : v));
    }
    add("threads", "t");
    add("n_gpu_layers", "ngl");
    if (j.contains("extra_args") && j["extra_args"].is_array()) {
        std::string extra;  // as passed: "--cache-ram 8192"
        for (const auto & a : j["extra_args"]) {
            if (a.is_string()) extra += (extra.empty() ? "" : " ") + a.get<std::string>();
        }
        if (!extra.empty()) parts.push_back(extra);
    }
    return parts;
}

namespace {

// Each frontier's name (SchemeFrontier::label): its scheme, "(tuned server)" for serve --tuned's;
// where a host, model and workload hold more than one frontier of that name, the server settings
// that tell them apart ("fp16" and "fp16 (--cache-ram 8192)"), or "(settings N)" where the
// settings shown do not differ.
void label_frontiers(std::vector<SchemeFrontier> & out, const std::vector<ServeLevelRecord> & levels) {
    std::map<std::tuple<std::string, std::string, std::string, std::string>, std::vector<size_t>> same;
    for (size_t k = 0; k < out.size(); ++k) {
        SchemeFrontier & f = out[k];
        f.label = f.settings_fp == "tuned" ? f.scheme + " (tuned server)" : f.scheme;
        same[{f.host, f.model, f.workload_fp, f.label}].push_back(k);
    }
    for (const auto & [key, members] : same) {
        if (members.size() < 2) continue;
        std::vector<std::vector<std::string>> parts;
        for (size_t k : members) parts.push_back(server_settings(levels[out[k].levels.front()]));
        std::vector<std::string> own(members.size());  // the settings of each that not all of them share
        for (size_t i = 0; i < members.size(); ++i) {
            for (const auto & p : parts[i]) {
                const bool shared = std::all_of(parts.begin(), parts.end(), [&](const auto & q) {
                    return std::find(q.begin(), q.end(), p) != q.end();
                });
                if (!shared) own[i] += (own[i].empty() ? "" : ", ") + p;
            }
        }
        const auto bare = std::count(own.begin(), own.end(), std::string());
        for (size_t i = 0; i < members.size(); ++i) {
            SchemeFrontier & f = out[members[i]];
            if (!own[i].empty()) {
                f.label += " (" + own[i] + ")";
            } else if (bare > 1) {
                f.label += fmt::format(" (settings {})", i + 1);
            }
        }
    }
}

}  // namespace

std::string settings_group(const ServeLevelRecord & level) {
    return level.workload_fp.find("|server=tuned") != std::string::npos ? "tuned" : level.settings_fp;
}

std::vector<SchemeFrontier> serving_frontier(const std::vector<ServeLevelRecord> & levels, const Slo & slo,
                                             const std::string & reference) {
    using Key = std::tuple<std::string, std::string, std::string, std::string, std::string>;
    std::map<Key, size_t> index;
    std::vector<SchemeFrontier> out;
    for (size_t i = 0; i < levels.size(); ++i) {
        const ServeLevelRecord & l = levels[i];
        const Key k{l.host_fingerprint, l.model_hash, l.workload_fp, l.scheme_canonical, settings_group(l)};
        auto [it, inserted] = index.emplace(k, out.size());
        if (inserted) {
            SchemeFrontier f;
            f.host = l.host_fingerprint;
            f.host_name = l.host_name;
            f.model = l.model_hash;
            f.model_name = l.model_name;
            f.scheme = l.scheme_name.empty() ? l.scheme_canonical : l.scheme_name;
            f.scheme_canonical = l.scheme_canonical;
            f.workload_fp = l.workload_fp;
            f.settings_fp = settings_group(l);
            out.push_back(std::move(f));
        }
        out[it->second].levels.push_back(i);
    }
    for (SchemeFrontier & f : out) {
        std::stable_sort(f.levels.begin(), f.levels.end(),
                         [&](size_t a, size_t b) { return level_before(levels[a], levels[b]); });
        f.violations.clear();
        for (size_t i : f.levels) {
            const ServeLevelRecord & l = levels[i];
            std::string v = slo_violation(l, slo);
            if (v.empty() && !finite(l.best_j_per_request())) v = "no energy per request";
            f.violations.push_back(v);
            if (!v.empty()) continue;
            if (!f.operating_point || l.best_j_per_request() < levels[*f.operating_point].best_j_per_request()) {
                f.operating_point = i;
            }
        }
        if (!f.operating_point) {
            f.note = f.levels.empty() ? "no level"
                                      : fmt::format("no level meets {} ({} at {})", slo.str(), f.violations.front(),
                                                    levels[f.levels.front()].level);
        }
    }
    label_frontiers(out, levels);
    // The scheme to choose: the lowest operating point per host, model and workload (the
    // settings may differ: they are part of the choice).
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<size_t>> groups;
    for (size_t i = 0; i < out.size(); ++i) groups[{out[i].host, out[i].model, out[i].workload_fp}].push_back(i);
    for (const auto & [key, members] : groups) {
        std::optional<size_t> best, ref;
        for (size_t i : members) {
            const SchemeFrontier & f = out[i];
            if (!f.operating_point) continue;
            const double j = levels[*f.operating_point].best_j_per_request();
            if (!best || j < levels[*out[*best].operating_point].best_j_per_request()) best = i;
            if ((f.scheme == reference || f.scheme_canonical == reference) && !ref) ref = i;
        }
        if (best) out[*best].chosen = true;
        if (ref) {
            const ServeLevelRecord & rop = levels[*out[*ref].operating_point];
            const auto & r = rop.run_j_per_request;
            for (size_t i : members) {
                if (out[i].operating_point) {
                    const ServeLevelRecord & op = levels[*out[i].operating_point];
                    const auto & c = op.run_j_per_request;
                    out[i].saving_vs_reference = 1.0 - op.best_j_per_request() / rop.best_j_per_request();
                    // Repeated runs on both sides: the saving's 95 % interval, paired by round when
                    // both ran the same rounds (serve --repeats interleaves them).
                    if (i != *ref && c.size() >= 2 && r.size() >= 2) {
                        const bool paired = op.run_numbers == rop.run_numbers && op.run_numbers.size() == c.size();
                        const SavingInterval s = paired ? paired_saving_ci95(c, r) : saving_ci95(c, r);
                        out[i].saving_ci95_lo = s.lo;
                        out[i].saving_ci95_hi = s.hi;
                        out[i].saving_paired = paired;
                    }
                }
            }
        }
    }
    return out;
}

std::vector<std::string> frontier_headlines(const std::vector<SchemeFrontier> & frontiers,
                                            const std::vector<ServeLevelRecord> & levels, const Slo & slo) {
    std::vector<std::string> out;
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<const SchemeFrontier *>> groups;
    std::vector<std::tuple<std::string, std::string, std::string>> order;
    for (const auto & f : frontiers) {
        const auto k = std::make_tuple(f.host, f.model, f.workload_fp);
        if (!groups.count(k)) order.push_back(k);
        groups[k].push_back(&f);
    }
    for (const auto & k : order) {
        const auto & members = groups[k];
        const SchemeFrontier * best = nullptr;
        for (const auto * f : members) {
            if (f->chosen) best = f;
        }
        const std::string where = fmt::format("{} on {}", members.front()->model_name, members.front()->host_name);
        if (!best) {
            out.push_back(fmt::format("{}: no scheme has a level that meets {}.", where, slo.str()));
            continue;
        }
        const ServeLevelRecord & op = levels[*best->operating_point];
        std::string s = fmt::format("{}: choose {} at {}: {} per request ({:.4g} Wh per 1,000 requests, {:.4g} J per "
                                    "output token, {:.3g} requests/s) within {}",
                                    where, best->label, op.level, j_text(op),
                                    op.best_wh_per_1000_requests(), op.best_j_per_output_token(),
                                    op.best_requests_per_s(), slo.str());
        std::vector<std::string> others;
        for (const auto * f : members) {
            if (f == best) continue;
            if (!f->operating_point) {
                others.push_back(fmt::format("{}: none", f->label));
                continue;
            }
            const ServeLevelRecord & o = levels[*f->operating_point];
            others.push_back(fmt::format("{} at {}: {} ({:+.1f} %)", f->label, o.level, j_text(o),
                                         (o.best_j_per_request() / op.best_j_per_request() - 1.0) * 100.0));
        }
        if (!others.empty()) {
            s += "; the others' operating points: ";
            for (size_t i = 0; i < others.size(); ++i) s += (i ? ", " : "") + others[i];
        }
        out.push_back(s + ".");
    }
    return out;
}

// ---- traffic

std::string Traffic::str() const {
    std::string s = fmt::format("prompt={},output={}", prompt_tokens, output_tokens);
    if (concurrency > 0) s += fmt::format(",concurrency={}", concurrency);
    if (rate_rps > 0) s += fmt::format(",rate={:g}", rate_rps);
    if (!slo.empty()) s += "," + slo.str();
    return s;
}

Traffic parse_traffic(const std::string & text, const std::string & option) {
    Traffic t;
    std::string slo_text;
    auto positive_int = [&](const std::string & key, const std::string & v) {
        if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos || std::stol(v) < 1) {
            throw UsageError(fmt::format("{}: {}={}: expected a whole number >= 1", option, key, v));
        }
        return int(std::stol(v));
    };
    for (const std::string & part : split(text, ',')) {
        if (part.empty()) continue;
        const size_t eq = part.find('=');
        if (eq == std::string::npos) {
            throw UsageError(fmt::format("{}: '{}': expected KEY=VALUE (prompt=512,output=256,concurrency=8)", option,
                                         part));
        }
        const std::string key = trim(part.substr(0, eq)), value = trim(part.substr(eq + 1));
        if (key == "prompt") {
            t.prompt_tokens = positive_int(key, value);
        } else if (key == "output") {
            t.output_tokens = positive_int(key, value);
        } else if (key == "concurrency") {
            t.concurrency = positive_int(key, value);
        } else if (key == "rate") {
            t.rate_rps = parse_double(value).value_or(0.0);
            if (!(t.rate_rps > 0))
                throw UsageError(fmt::format("{}: rate={}: expected requests per second > 0", option, value));
        } else if (is_slo_key(key)) {
            slo_text += (slo_text.empty() ? "" : ",") + part;
        } else {
            throw UsageError(fmt::format("{}: unknown key '{}'; expected prompt, output, concurrency or rate, and "
                                         "latency targets (ttft_p99=2s)",
                                         option, key));
        }
    }
    if (t.prompt_tokens == 0 || t.output_tokens == 0) {
        throw UsageError(fmt::format("{}: give prompt=N and output=N tokens (prompt=512,output=256,concurrency=8)", option));
    }
    if (t.concurrency > 0 && t.rate_rps > 0) {
        throw UsageError(fmt::format("{}: give concurrency or rate, not both", option));
    }
    if (t.concurrency == 0 && t.rate_rps == 0) t.concurrency = 1;
    // Without targets, the serving profile's: a recommendation for traffic is always at some latency.
    t.slo = slo_text.empty() ? default_slo() : parse_slo(slo_text, option);
    return t;
}

Profile serving_profile() {
    Profile p;
    p.name = "serving";
    p.description =
        "least energy per request at the latency SLO under the traffic (served levels, else offline per-phase "
        "J/token), at >= 98 % accuracy retention where accuracy was measured";
    p.min_retention = 0.98;
    p.objective = Objective::min_energy;
    return p;
}

TrafficRecommendation recommend_traffic(const std::vector<ServeLevelRecord> & levels,
                                        const std::vector<Summary> & offline, const std::vector<Candidate> & candidates,
                                        const Traffic & traffic, double min_retention) {
    TrafficRecommendation rec;
    rec.traffic = traffic;
    constexpr double kTolerance = 0.25;

    // Retention of a scheme on a model (any host; accuracy does not depend on the hardware).
    std::map<std::pair<std::string, std::string>, double> retention;
    for (const Candidate & c : candidates) {
        const auto k = std::make_pair(c.model, c.scheme);
        if (!retention.count(k) && finite(c.retention) && !c.synthetic) retention[k] = c.retention;
    }

    // Served: (host, model) -> per (scheme, settings) the matching level.
    using HostModel = std::pair<std::string, std::string>;
    std::map<HostModel, std::vector<TrafficAnswer>> answers;
    std::vector<HostModel> order;
    std::map<std::tuple<std::string, std::string, std::string, std::string>, std::vector<const ServeLevelRecord *>>
        groups;
    for (const ServeLevelRecord & l : levels) {
        if (l.status != kServeOk || !finite(l.best_j_per_request())) continue;
        if (!within(mean_per_completed(l.prompt_tokens + l.cached_prompt_tokens, l.completed), traffic.prompt_tokens,
                    kTolerance) ||
            !within(mean_per_completed(l.completion_tokens, l.completed), traffic.output_tokens, kTolerance)) {
            continue;
        }
        groups[{l.host_fingerprint, l.model_hash, l.scheme_canonical, settings_group(l)}].push_back(&l);
    }
    std::set<HostModel> served_pairs;
    for (const auto & [key, ls] : groups) {
        const ServeLevelRecord * pick = nullptr;
        std::string how;
        if (traffic.concurrency > 0) {
            for (const auto * l : ls) {
                if (l->mode != "closed") continue;
                if (!pick || std::abs(l->concurrency - traffic.concurrency) < std::abs(pick->concurrency - traffic.concurrency) ||
                    (std::abs(l->concurrency - traffic.concurrency) == std::abs(pick->concurrency - traffic.concurrency) &&
                     l->concurrency > pick->concurrency)) {
                    pick = l;
                }
            }
            if (pick && pick->concurrency != traffic.concurrency) how = fmt::format(" (nearest to concurrency {})", traffic.concurrency);
        } else {
            for (const auto * l : ls) {
                if (l->mode != "open") continue;
                if (!pick || std::fabs(l->rate_rps - traffic.rate_rps) < std::fabs(pick->rate_rps - traffic.rate_rps)) pick = l;
            }
            if (pick && std::fabs(pick->rate_rps - traffic.rate_rps) > 1e-9) how = fmt::format(" (nearest to rate {:g}/s)", traffic.rate_rps);
            if (!pick) {
                // The smallest closed level that sustains the rate.
                for (const auto * l : ls) {
                    if (l->mode != "closed" || !(l->best_requests_per_s() >= traffic.rate_rps)) continue;
                    if (!pick || l->concurrency < pick->concurrency) pick = l;
                }
                if (pick) how = fmt::format(" (the fewest clients that sustain {:g} requests/s)", traffic.rate_rps);
            }
        }
        if (!pick) continue;
        TrafficAnswer a;
        a.host = pick->host_fingerprint;
        a.host_name = pick->host_name;
        a.model = pick->model_hash;
        a.model_name = pick->model_name;
        a.scheme = pick->scheme_name.empty() ? pick->scheme_canonical : pick->scheme_name;
        a.served = true;
        if (pick->runs > 1) how += fmt::format(" ({} runs)", pick->runs);
        a.basis = fmt::format("served {}{}: prompt {:.0f}, output {:.0f} tokens", pick->level, how,
                              mean_per_completed(pick->prompt_tokens + pick->cached_prompt_tokens, pick->completed),
                              mean_per_completed(pick->completion_tokens, pick->completed));
        a.j_per_request = pick->best_j_per_request();
        a.j_per_request_ci95 = pick->j_per_request_ci95;
        a.wh_per_1000_requests = pick->best_wh_per_1000_requests();
        a.j_per_output_token = pick->best_j_per_output_token();
        a.requests_per_s = pick->best_requests_per_s();
        a.ttft_p99_ms = pick->ttft_p99_ms;
        a.tpot_p99_ms = pick->tpot_p99_ms;
        a.violation = slo_violation(*pick, traffic.slo);
        if (!a.violation.empty()) {
            const ServeLevelRecord * most = nullptr;
            for (const auto * l : ls) {
                if (l->mode != pick->mode || !slo_violation(*l, traffic.slo).empty()) continue;
                if (!most || l->best_requests_per_s() > most->best_requests_per_s()) most = l;
            }
            if (most) {
                a.within_slo_level = most->level;
                a.within_slo_requests_per_s = most->best_requests_per_s();
                a.within_slo_j_per_request = most->best_j_per_request();
            }
        }
        const HostModel hm{a.host, a.model};
        if (!answers.count(hm)) order.push_back(hm);
        served_pairs.insert(hm);
        answers[hm].push_back(std::move(a));
    }

    // Offline: per (host, model, scheme) the prefill J/token and the decode J/token nearest the concurrency.
    struct Phases {
        const Summary * prefill = nullptr;
        const Summary * decode = nullptr;
    };
    std::map<std::tuple<std::string, std::string, std::string>, Phases> phases;
    std::vector<std::tuple<std::string, std::string, std::string>> phase_order;
    const int want_seq = traffic.concurrency > 0 ? traffic.concurrency : 1;
    for (const Summary & s : offline) {
        if (served_pairs.count({s.host, s.model})) continue;
        const auto k = std::make_tuple(s.host, s.model, s.scheme);
        if (!phases.count(k)) phase_order.push_back(k);
        Phases & p = phases[k];
        const int seq = workload_sequences(s.task);
        if (finite(s.prefill_j_per_token) && s.prefill_tokens > 0) {
            // A pure prefill workload first, then the most prefill tokens.
            const bool pure = seq == 0, have_pure = p.prefill && workload_sequences(p.prefill->task) == 0;
            if (!p.prefill || (pure && !have_pure) || (pure == have_pure && s.prefill_tokens > p.prefill->prefill_tokens)) {
                p.prefill = &s;
            }
        }
        if (finite(s.decode_j_per_token) && s.decode_tokens > 0) {
            auto distance = [&](const Summary * x) {
                const int q = workload_sequences(x->task);
                return q < 1 ? 1 << 20 : std::abs(q - want_seq);
            };
            if (!p.decode || distance(&s) < distance(p.decode)) p.decode = &s;
        }
    }
    for (const auto & k : phase_order) {
        const Phases & p = phases[k];
        if (!p.prefill || !p.decode) continue;
        TrafficAnswer a;
        a.host = p.decode->host;
        a.host_name = p.decode->host_name;
        a.model = p.decode->model;
        a.model_name = p.decode->model_name;
        a.scheme = p.decode->scheme;
        a.served = false;
        const double prefill_j = traffic.prompt_tokens * p.prefill->prefill_j_per_token;
        const double decode_j = traffic.output_tokens * p.decode->decode_j_per_token;
        a.j_per_request = prefill_j + decode_j;
        a.wh_per_1000_requests = a.j_per_request * 1000.0 / 3600.0;
        a.j_per_output_token = a.j_per_request / traffic.output_tokens;
        a.basis = fmt::format("offline: {} x {:.4g} J/token ({} prefill) + {} x {:.4g} J/token ({} decode)",
                              traffic.prompt_tokens, p.prefill->prefill_j_per_token, p.prefill->task,
                              traffic.output_tokens, p.decode->decode_j_per_token, p.decode->task);
        const HostModel hm{a.host, a.model};
        if (!answers.count(hm)) order.push_back(hm);
        answers[hm].push_back(std::move(a));
    }

    for (const auto & hm : order) {
        auto & list = answers[hm];
        for (auto & a : list) {
            auto it = retention.find({a.model, a.scheme});
            if (it != retention.end()) a.retention = it->second;
        }
        std::stable_sort(list.begin(), list.end(),
                         [](const TrafficAnswer & x, const TrafficAnswer & y) { return x.j_per_request < y.j_per_request; });
        TrafficAnswer * best = nullptr;
        for (auto & a : list) {
            const bool accurate = !finite(a.retention) || a.retention >= min_retention - 1e-12;
            if (a.violation.empty() && accurate && finite(a.j_per_request)) {
                best = &a;
                break;
            }
        }
        const TrafficAnswer & first = list.front();
        const std::string where = fmt::format("{} on {}", first.model_name, first.host_name);
        const std::string source = first.served ? "served measurements" : "offline per-phase J/token (no served level "
                                                                          "of this model at these lengths)";
        for (const auto & a : list) rec.answers.push_back(a);
        if (!best) {
            // Served: how much load each scheme's server does take within the targets.
            std::vector<std::string> most;
            bool any_within = false;
            for (const auto & a : list) {
                if (!a.served || a.violation.empty()) continue;
                any_within = any_within || !a.within_slo_level.empty();
                most.push_back(a.within_slo_level.empty()
                                   ? fmt::format("{} none", a.scheme)
                                   : fmt::format("{} {} ({:.3g} requests/s, {} per request)", a.scheme,
                                                 a.within_slo_level, a.within_slo_requests_per_s,
                                                 j_text(a.within_slo_j_per_request)));
            }
            const std::string within =
                most.empty()  ? ""
                : any_within ? fmt::format("; the most load measured within it: {}", fmt::join(most, ", "))
                             : "; no measured load of any scheme meets it";
            rec.why += fmt::format("{}{}: no scheme meets {} (from {}){}.", rec.why.empty() ? "" : " ", where,
                                   traffic.slo.str(), source, within);
            continue;
        }
        rec.answers[rec.answers.size() - list.size() + size_t(best - list.data())].best = true;
        std::string s = fmt::format("{}: choose {}: {} per request, {:.4g} Wh per 1,000 requests, from {}", where,
                                    best->scheme, j_text(best->j_per_request), best->wh_per_1000_requests, source);
        for (const auto & a : list) {
            if (&a == best || !finite(a.j_per_request)) continue;
            s += fmt::format("; {} {:+.1f} %", a.scheme, (a.j_per_request / best->j_per_request - 1.0) * 100.0);
        }
        rec.why += (rec.why.empty() ? "" : " ") + s + ".";
        for (const auto & a : list) {
            if (finite(a.retention) && a.retention < min_retention - 1e-12) {
                rec.notes.push_back(fmt::format("{} {}: retention {:.1f} % < {:.0f} %: not chosen", where, a.scheme,
                                                a.retention * 100.0, min_retention * 100.0));
            }
        }
        if (!first.served) {
            rec.notes.push_back(fmt::format("{}: offline J/token has no latency: the SLO is not checked; serve the "
                                            "model (joulebench serve) to measure it",
                                            where));
        }
    }
    if (rec.answers.empty()) {
        rec.why = "No answer: no served level matches the traffic's lengths (within 25 %) and no offline cells give "
                  "both prefill and decode J/token.";
    }
    return rec;
}

}  // namespace jb::metrics
