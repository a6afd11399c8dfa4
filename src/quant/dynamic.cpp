#include "quant/dynamic.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "quant/cache.hpp"
#include "quant/gguf_file.hpp"
#include "quant/hash.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace jb {

namespace {

// Bumped whenever the search would choose differently for the same inputs (grouping, rules).
constexpr const char * k_version = "joulebench-dynamic-v1";

using Clock = std::chrono::steady_clock;

// One candidate for one group, with what llama.cpp really made of it.
struct Probe {
    GroupSensitivity row;
    std::map<std::string, ggml_type> types;  // the group's tensors -> type in the probe's file
};

// A distinct choice for a group (probes that gave the same tensor types are one level).
struct Level {
    std::string candidate;  // as asked
    double kld = 0.0;
    int64_t bytes = 0;
    std::map<std::string, ggml_type> types;
};

struct Group {
    std::string name;
    std::vector<std::string> tensors;
    std::vector<Level> levels;  // cheapest first
    size_t cur = 0;             // the level assigned
};

// Sort key that lists groups in the order a forward pass meets them.
std::pair<long, int> group_order(const std::string & g) {
    if (g == "token_embd") {
        return {-1, 0};
    }
    if (g == "output") {
        return {LONG_MAX, 0};
    }
    static const std::regex re(R"(^blk\.(\d+)\.(attn|ffn)$)");
    std::smatch m;
    if (std::regex_match(g, m, re)) {
        return {std::stol(m[1]), m[2] == "attn" ? 0 : 1};
    }
    return {LONG_MAX - 1, 0};
}

std::string summarize_types(const std::map<std::string, ggml_type> & types) {
    std::map<std::string, int> counts;
    for (const auto & [_, t] : types) {
        counts[type_name(t)]++;
    }
    std::string out;
    for (const auto & [t, n] : counts) {
        out += fmt::format("{}{} x{}", out.empty() ? "" : ", ", t, n);
    }
    return out;
}

json types_to_json(const std::map<std::string, ggml_type> & types) {
    json j = json::object();
    for (const auto & [name, t] : types) {
        j[name] = type_name(t);
    }
    return j;
}

std::map<std::string, ggml_type> types_from_json(const json & j) {
    std::map<std::string, ggml_type> out;
    for (const auto & [name, v] : j.items()) {
        ggml_type t;
        if (!v.is_string() || !ggml_type_from_name(v.get<std::string>(), t)) {
            throw std::runtime_error("bad tensor type for " + name);
        }
        out[name] = t;
    }
    return out;
}

json fidelity_to_json(const Fidelity & f) {
    return {{"n_tokens", f.n_tokens},   {"mean_kld", f.mean_kld},
            {"p99_kld", f.p99_kld},     {"max_kld", f.max_kld},
            {"top1_agreement", f.top1_agreement}, {"ppl_ref", f.ppl_ref},
            {"ppl_quant", f.ppl_quant}};
}

Fidelity fidelity_from_json(const json & j) {
    Fidelity f;
    f.n_tokens = j.at("n_tokens").get<int>();
    f.mean_kld = j.at("mean_kld").get<double>();
    f.p99_kld = j.at("p99_kld").get<double>();
    f.max_kld = j.at("max_kld").get<double>();
    f.top1_agreement = j.at("top1_agreement").get<double>();
    f.ppl_ref = j.at("ppl_ref").get<double>();
    f.ppl_quant = j.at("ppl_quant").get<double>();
    return f;
}

json sensitivity_row_json(const GroupSensitivity & s) {
    return {{"group", s.group}, {"type", s.type},   {"actual", s.actual},
            {"mean_kld", s.mean_kld}, {"bytes", s.bytes}, {"same_as_lower", s.same_as_lower}};
}

GroupSensitivity sensitivity_row_from_json(const json & j) {
    GroupSensitivity s;
    s.group = j.at("group").get<std::string>();
    s.type = j.at("type").get<std::string>();
    s.actual = j.at("actual").get<std::string>();
    s.mean_kld = j.at("mean_kld").get<double>();
    s.bytes = j.at("bytes").get<int64_t>();
    s.same_as_lower = j.at("same_as_lower").get<bool>();
    return s;
}

// A cache document, or nothing if it is absent, unreadable or written for another key (a
// 64-bit name collision, or a file from another version).
std::optional<json> read_cached(const std::string & path, const std::string & key) {
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    try {
        json j = json::parse(in);
        if (j.is_object() && j.value("key", "") == key) {
            return j;
        }
    } catch (const std::exception &) {
    }
    return std::nullopt;
}

// Removes a quantized file this call created and no longer needs (probe files are as big as
// the model); a cache hit belongs to someone else and stays.
void drop_file(const SchemeResult & r, bool keep) {
    if (keep || r.cache_hit || r.is_source) {
        return;
    }
    std::error_code ec;
    fs::remove(r.path, ec);
    fs::remove(r.path + ".json", ec);
}

// The only model that differs from the reference in one group: the group's tensors by exact
// name at `type`, every other weight F16 by a catch-all rule. The default file type must be
// a quantized one (Q8_0), or llama.cpp would ignore the rules; an f16 rule is honoured
// (tensor_type_fallback() leaves F16 alone), so the catch-all reproduces the fp16 reference.
Scheme probe_scheme(const Group & g, const std::string & candidate, ggml_type type) {
    Scheme s;
    s.kind = SchemeKind::custom;
    s.name = "dynprobe-" + g.name + "-" + candidate;
    s.ftype = LLAMA_FTYPE_MOSTLY_Q8_0;
    std::map<std::string, ggml_type> tt;
    for (const auto & t : g.tensors) {
        tt[t] = type;
    }
    s.set_tensor_types(std::move(tt));
    s.overrides.push_back({".*", GGML_TYPE_F16});
    return s;
}

Scheme final_scheme(const std::map<std::string, ggml_type> & types, ggml_type kv_k, ggml_type kv_v) {
    Scheme s = parse_scheme("dynamic");
    s.set_tensor_types(types);
    s.overrides.push_back({".*", GGML_TYPE_F16});  // weights in no group: the reference's precision
    s.kv_type_k = kv_k;
    s.kv_type_v = kv_v;
    return s;
}

// The assignment: groups' levels and the greedy raise.
class Assignment {
public:
    explicit Assignment(std::vector<Group> & groups, double kv_kld) : groups_(groups), kv_kld_(kv_kld) {}

    // kv_kld + sum of the groups' KLDs at their levels. Adding the groups' KLDs is a
    // first-order approximation: each was measured with every other group at the reference
    // precision, and errors of different groups need not add exactly.
    double predicted() const {
        double sum = kv_kld_;
        for (const auto & g : groups_) {
            sum += g.levels[g.cur].kld;
        }
        return sum;
    }

    // Raises one group to a more precise level: the move with the largest predicted KLD saved
    // per extra byte (any higher level, so a level whose measured KLD is no better than the
    // one above it is jumped over). With `force`, when no move saves anything by measurement,
    // raises the group with the largest KLD by one level. False when nothing can be raised.
    bool raise_once(bool force) {
        Group * best_g = nullptr;
        size_t best_j = 0;
        double best_ratio = -1.0;
        for (auto & g : groups_) {
            const Level & at = g.levels[g.cur];
            for (size_t j = g.cur + 1; j < g.levels.size(); ++j) {
                const double saved = at.kld - g.levels[j].kld;
                if (saved <= 0.0) {
                    continue;
                }
                const int64_t extra = g.levels[j].bytes - at.bytes;
                const double ratio = extra > 0 ? saved / double(extra) : std::numeric_limits<double>::infinity();
                if (ratio > best_ratio) {
                    best_ratio = ratio;
                    best_g = &g;
                    best_j = j;
                }
            }
        }
        if (!best_g && force) {
            for (auto & g : groups_) {
                if (g.cur + 1 < g.levels.size() && (!best_g || g.levels[g.cur].kld > best_g->levels[best_g->cur].kld)) {
                    best_g = &g;
                    best_j = g.cur + 1;
                }
            }
        }
        if (!best_g) {
            return false;
        }
        best_g->cur = best_j;
        return true;
    }

    bool can_raise() const {
        return std::any_of(groups_.begin(), groups_.end(), [](const Group & g) { return g.cur + 1 < g.levels.size(); });
    }

    // Raises until the prediction is at most `target`; returns how many raises it took.
    int raise_to(double target) {
        int n = 0;
        while (predicted() > target && raise_once(false)) {
            ++n;
        }
        return n;
    }

    std::map<std::string, ggml_type> tensor_types() const {
        std::map<std::string, ggml_type> out;
        for (const auto & g : groups_) {
            out.insert(g.levels[g.cur].types.begin(), g.levels[g.cur].types.end());
        }
        return out;
    }

private:
    std::vector<Group> & groups_;
    double kv_kld_;
};

struct Candidate {
    std::string name;  // as asked, lower-case
    ggml_type type = GGML_TYPE_COUNT;
};

std::vector<Candidate> parse_candidates(const std::vector<std::string> & names) {
    if (names.empty()) {
        throw UsageError("dynamic: no candidate types (e.g. --candidates q4_k,q6_k,q8_0)");
    }
    std::vector<Candidate> out;
    for (const auto & n : names) {
        Candidate c;
        c.name = lower(n);
        if (!ggml_type_from_name(n, c.type)) {
            throw UsageError(fmt::format("dynamic: unknown candidate type '{}' (ggml types: q4_k, q5_k, q6_k, q8_0, "
                                         "iq4_xs, f16, ...)", n));
        }
        if (c.type != GGML_TYPE_F16 && c.type != GGML_TYPE_BF16 && !ggml_is_quantized(c.type)) {
            throw UsageError(fmt::format("dynamic: candidate type '{}' is not a weight type llama.cpp quantizes to", n));
        }
        const bool dup = std::any_of(out.begin(), out.end(), [&](const Candidate & o) { return o.type == c.type; });
        if (!dup) {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

std::map<std::string, std::string> dynamic_groups(const std::string & model_path) {
    static const std::regex re(R"(^blk\.(\d+)\.(attn|ffn)_.*weight$)");
    std::map<std::string, std::string> out;
    for (const auto & t : inspect_gguf(model_path).tensors) {
        if (t.n_dims < 2) {
            continue;  // norms and biases: llama.cpp never quantizes them
        }
        std::smatch m;
        if (t.name == "token_embd.weight") {
            out[t.name] = "token_embd";
        } else if (t.name == "output.weight") {
            out[t.name] = "output";
        } else if (std::regex_match(t.name, m, re)) {
            out[t.name] = "blk." + m[1].str() + "." + m[2].str();
        }
    }
    return out;
}

std::string DynamicResult::sensitivity_json() const {
    json rows = json::array();
    for (const auto & s : sensitivity) {
        rows.push_back(sensitivity_row_json(s));
    }
    json j = {
        {"scheme", chosen.canonical()},
        {"tensor_types", types_to_json(chosen.tensor_types)},
        {"kv_k", type_name(chosen.kv_type_k)},
        {"kv_v", type_name(chosen.kv_type_v)},
        {"kv_note", kv_note},
        {"group_types", group_types},
        {"budget", budget},
        {"kv_kld", kv_kld},
        {"predicted_kld", predicted_kld},
        {"final_fidelity", fidelity_to_json(final_fidelity)},
        {"budget_met", budget_met},
        {"rounds", rounds},
        {"search_s", search_s},
        {"calib_path", calib_path},
        {"calib_tokens", calib_tokens},
        {"plan_from", plan_from},
        {"sensitivity", rows},
    };
    return j.dump(2);
}

std::map<std::string, std::string> transfer_group_plan(const std::map<std::string, std::string> & from,
                                                        const std::vector<std::string> & to_groups,
                                                        const std::vector<std::string> & candidate_order) {
    if (from.empty()) {
        throw UsageError("dynamic: the reference plan has no groups to transfer");
    }
    // The reference's layers: index -> {"attn": candidate, "ffn": candidate}.
    std::map<long, std::map<std::string, std::string>> ref_layers;
    std::string most_precise;
    auto rank = [&](const std::string & c) {
        const auto it = std::find(candidate_order.begin(), candidate_order.end(), c);
        return it == candidate_order.end() ? -1 : long(it - candidate_order.begin());
    };
    for (const auto & [group, cand] : from) {
        const auto [layer, part] = group_order(group);
        if (layer >= 0 && layer < LONG_MAX - 1) {
            ref_layers[layer][part == 0 ? "attn" : "ffn"] = cand;
        }
        if (most_precise.empty() || rank(cand) > rank(most_precise)) {
            most_precise = cand;
        }
    }
    long n_to = 0;
    for (const auto & g : to_groups) {
        const long layer = group_order(g).first;
        if (layer >= 0 && layer < LONG_MAX - 1) {
            n_to = std::max(n_to, layer + 1);
        }
    }
    const long n_ref = ref_layers.empty() ? 0 : ref_layers.rbegin()->first + 1;
    std::map<std::string, std::string> out;
    for (const auto & g : to_groups) {
        const auto [layer, part] = group_order(g);
        std::string cand;
        if (layer >= 0 && layer < LONG_MAX - 1 && n_ref > 0) {
            const long ref_layer = n_to <= 1 ? 0 : std::lround(double(layer) * double(n_ref - 1) / double(n_to - 1));
            const auto it = ref_layers.find(ref_layer);
            if (it != ref_layers.end()) {
                const auto jt = it->second.find(part == 0 ? "attn" : "ffn");
                if (jt != it->second.end()) {
                    cand = jt->second;
                }
            }
        } else if (const auto it = from.find(g); it != from.end()) {
            cand = it->second;  // token_embd, output
        }
        out[g] = cand.empty() ? most_precise : cand;
    }
    return out;
}

namespace {

// dynamic for a source whose own sensitivity would be meaningless (a synthetic model): the plan
// searched on opt.plan_from, carried over by relative depth, then one quantization of `source`.
// No fidelity is measured on the source (its outputs are noise); the result reports the
// reference's measured fidelity and budget.
DynamicResult transfer_dynamic_plan(const std::string & source, const DynamicOptions & opt) {
    const auto t0 = Clock::now();
    DynamicOptions ref_opt = opt;
    ref_opt.plan_from.clear();
    const DynamicResult ref = build_dynamic_scheme(opt.plan_from, ref_opt);

    const std::vector<Candidate> candidates = parse_candidates(opt.candidate_types);
    std::vector<Candidate> by_bits = candidates;
    std::stable_sort(by_bits.begin(), by_bits.end(), [](const Candidate & a, const Candidate & b) {
        return double(ggml_type_size(a.type)) / double(ggml_blck_size(a.type)) <
               double(ggml_type_size(b.type)) / double(ggml_blck_size(b.type));
    });
    std::vector<std::string> order;
    std::map<std::string, ggml_type> type_of;
    for (const auto & c : by_bits) {
        order.push_back(c.name);
        type_of[c.name] = c.type;
    }

    const std::map<std::string, std::string> tensor_groups = dynamic_groups(source);
    std::vector<std::string> group_names;
    for (const auto & [_, g] : tensor_groups) {
        if (std::find(group_names.begin(), group_names.end(), g) == group_names.end()) {
            group_names.push_back(g);
        }
    }
    if (group_names.empty()) {
        throw InputError(source, "no weight matrices to choose types for (expected blk.N.attn_*/ffn_* tensors)");
    }
    const std::map<std::string, std::string> plan = transfer_group_plan(ref.group_types, group_names, order);
    std::map<std::string, ggml_type> types;
    for (const auto & [tensor, group] : tensor_groups) {
        const auto it = type_of.find(plan.at(group));
        if (it == type_of.end()) {
            throw UsageError(fmt::format("dynamic: the plan of {} uses {}, which is not among the candidates",
                                         opt.plan_from, plan.at(group)));
        }
        types[tensor] = it->second;
    }

    // The reference's search and measured fidelity, with this model's plan; its file, scheme, KV
    // note, cache flag and time are this model's, set below.
    DynamicResult r = ref;
    r.plan_from = opt.plan_from;
    r.group_types = plan;
    r.kv_note.clear();

    QuantizeOptions quiet = opt.quant;
    quiet.on_progress = nullptr;
    const SchemeResult src_file = quantize_cached(source, parse_scheme("fp16"), quiet);
    ggml_type kv_k = opt.kv_type_k;
    ggml_type kv_v = opt.kv_type_v;
    if (const std::string why = kv_cache_problem(src_file.path, kv_k, kv_v); !why.empty()) {
        r.kv_note = why + "; the result keeps an F16 KV cache";
        kv_k = kv_v = GGML_TYPE_F16;
    }
    r.chosen = final_scheme(types, kv_k, kv_v);
    if (opt.on_progress) {
        opt.on_progress(fmt::format("plan of {} (measured there: mean KLD {:.6f}, budget {}) carried over to {} groups by "
                                    "relative depth; quantizing", opt.plan_from, ref.final_fidelity.mean_kld, ref.budget,
                                    group_names.size()));
    }
    r.scheme = quantize_cached(source, r.chosen, quiet);
    r.cache_hit = ref.cache_hit && r.scheme.cache_hit;
    r.search_s = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
}

}  // namespace

DynamicResult build_dynamic_scheme(const std::string & source, const DynamicOptions & opt) {
    if (!opt.plan_from.empty()) {
        return transfer_dynamic_plan(source, opt);
    }
    const auto t0 = Clock::now();
    auto progress = [&](const std::string & msg) {
        if (opt.on_progress) {
            opt.on_progress(msg);
        }
    };

    // --- inputs and keys ---------------------------------------------------------------------
    if (!(opt.kld_budget > 0.0) || !std::isfinite(opt.kld_budget)) {
        throw UsageError(fmt::format("dynamic: KLD budget {} must be a positive number (e.g. 0.01)", opt.kld_budget));
    }
    if (opt.calib_tokens < 16) {
        throw UsageError(fmt::format("dynamic: {} calibration tokens are too few (at least 16)", opt.calib_tokens));
    }
    if (opt.chunk < 2) {
        throw UsageError(fmt::format("dynamic: chunk of {} tokens is too small (at least 2)", opt.chunk));
    }
    if (opt.max_rounds < 1) {
        throw UsageError("dynamic: max_rounds must be >= 1");
    }
    const std::vector<Candidate> candidates = parse_candidates(opt.candidate_types);
    check_kv_pair(opt.kv_type_k, opt.kv_type_v, false, "dynamic");
    inspect_gguf(source);  // a missing or broken source fails here, naming the file

    const std::string calib_path = opt.calib_path.empty() ? default_calibration_path() : opt.calib_path;
    const std::string calib_text = read_calibration_text(calib_path);

    QuantCache qcache(opt.quant.cache_dir.empty() ? default_cache_dir() : opt.quant.cache_dir);
    QuantCache dcache((fs::path(qcache.dir()) / "dynamic").string());
    const uint64_t src_hash = xxh64_file_memo(source, qcache.sources_dir());
    const std::string imatrix_hash = opt.quant.imatrix_path.empty() ? "none" : hex64(xxh64_file(opt.quant.imatrix_path));

    std::vector<std::string> cand_key;
    for (const auto & c : candidates) {
        cand_key.push_back(c.name);
    }
    // Everything a probe's measurement depends on (the candidates are not: the sensitivity
    // cache holds probes by group and type). The evaluation device (CPU or GPU) is not in it:
    // its rounding differs, but far below any useful budget.
    const std::string sens_key = fmt::format("{};sensitivity;src={};calib={};tokens={};chunk={};imatrix={};llama={};qnt={}",
                                             k_version, hex64(src_hash), hex64(xxh64(calib_text)), opt.calib_tokens,
                                             opt.chunk, imatrix_hash, JOULEBENCH_LLAMA_COMMIT, GGML_QNT_VERSION);
    const std::string result_key =
        fmt::format("{};candidates={};budget={:.17g};kv={}/{};rounds={}", sens_key, fmt::join(cand_key, ","),
                    opt.kld_budget, type_name(opt.kv_type_k), type_name(opt.kv_type_v), opt.max_rounds);
    const std::string stem = fs::path(source).stem().string();
    const CacheEntry sens_entry = dcache.entry(stem + ".sensitivity", sens_key);
    const CacheEntry result_entry = dcache.entry(stem + ".dynamic", result_key);
    auto json_path = [](const CacheEntry & e) { return e.path.substr(0, e.path.size() - 5) + ".json"; };

    QuantizeOptions quiet = opt.quant;
    quiet.on_progress = nullptr;  // one line per probe comes from here instead

    // --- a cached result: no evaluation, at most a quantization if the file was deleted ------
    auto try_result_hit = [&]() -> std::optional<DynamicResult> {
        const auto doc = read_cached(json_path(result_entry), result_key);
        if (!doc) {
            return std::nullopt;
        }
        DynamicResult r;
        try {
            ggml_type kv_k;
            ggml_type kv_v;
            if (!ggml_type_from_name(doc->at("kv_k").get<std::string>(), kv_k) ||
                !ggml_type_from_name(doc->at("kv_v").get<std::string>(), kv_v)) {
                return std::nullopt;
            }
            r.chosen = final_scheme(types_from_json(doc->at("tensor_types")), kv_k, kv_v);
            r.kv_note = doc->at("kv_note").get<std::string>();
            r.group_types = doc->at("group_types").get<std::map<std::string, std::string>>();
            r.budget = doc->at("budget").get<double>();
            r.kv_kld = doc->at("kv_kld").get<double>();
            r.predicted_kld = doc->at("predicted_kld").get<double>();
            r.final_fidelity = fidelity_from_json(doc->at("final_fidelity"));
            r.budget_met = doc->at("budget_met").get<bool>();
            r.rounds = doc->at("rounds").get<int>();
            r.search_s = doc->at("search_s").get<double>();
            r.calib_tokens = doc->at("calib_tokens").get<int>();
            for (const auto & row : doc->at("sensitivity")) {
                r.sensitivity.push_back(sensitivity_row_from_json(row));
            }
        } catch (const std::exception &) {
            return std::nullopt;  // damaged: search again and overwrite
        }
        r.calib_path = calib_path;
        r.cache_hit = true;
        r.sensitivity_cache_hit = true;
        r.scheme = quantize_cached(source, r.chosen, quiet);
        return r;
    };
    if (auto hit = try_result_hit()) {
        return *hit;
    }
    // Another process searching for the same result: wait for it, then take its answer.
    CacheLock result_lock = dcache.lock(result_entry);
    if (auto hit = try_result_hit()) {
        return *hit;
    }

    DynamicResult r;
    r.budget = opt.kld_budget;
    r.calib_path = calib_path;

    // --- the reference -------------------------------------------------------------------------
    const SchemeResult ref_file = quantize_cached(source, parse_scheme("fp16"), opt.quant);
    progress(fmt::format("reference: fp16 ({}) on {}", ref_file.path, calib_path));
    const FidelityReference ref = compute_reference(ref_file.path, calib_text, opt.calib_tokens, opt.engine, opt.chunk);
    r.n_evaluations++;
    r.calib_tokens = int(ref.tokens.size());
    const EngineParams ref_params = fidelity_engine_params(opt.engine, ref_file.path, opt.chunk);
    ggml_type kv_k = opt.kv_type_k;
    ggml_type kv_v = opt.kv_type_v;
    if (const std::string why = kv_cache_problem(ref_file.path, kv_k, kv_v); !why.empty()) {
        r.kv_note = why + "; the result keeps an F16 KV cache";
        progress("warning: " + r.kv_note);
        kv_k = kv_v = GGML_TYPE_F16;
    }

    std::vector<Group> groups;
    {
        std::map<std::string, size_t> index;
        for (const auto & [tensor, group] : dynamic_groups(ref_file.path)) {
            auto [it, fresh] = index.emplace(group, groups.size());
            if (fresh) {
                groups.push_back(Group{group, {}, {}, 0});
            }
            groups[it->second].tensors.push_back(tensor);
        }
        std::sort(groups.begin(), groups.end(),
                  [](const Group & a, const Group & b) { return group_order(a.name) < group_order(b.name); });
    }
    if (groups.empty()) {
        throw InputError(source, "no weight matrices to choose types for (expected blk.N.attn_*/ffn_* tensors)");
    }
    const std::map<std::string, ggml_type> ref_types = inspect_gguf(ref_file.path).tensor_types();

    // --- sensitivity: every group x candidate ---------------------------------------------------
    // The store holds every probe ever measured for these inputs, keyed by group and ggml type,
    // so another budget or another candidate list reuses what is already known.
    std::map<std::pair<std::string, std::string>, Probe> store;
    {
        CacheLock sens_lock = dcache.lock(sens_entry);
        if (const auto doc = read_cached(json_path(sens_entry), sens_key)) {
            try {
                for (const auto & row : doc->at("probes")) {
                    Probe p{sensitivity_row_from_json(row), types_from_json(row.at("tensor_types"))};
                    store[{p.row.group, p.row.type}] = std::move(p);
                }
            } catch (const std::exception &) {
                store.clear();  // damaged: measure again and overwrite
            }
        }
        const size_t n_total = groups.size() * candidates.size();
        size_t n_done = 0;
        size_t n_new = 0;
        for (const auto & g : groups) {
            for (const auto & c : candidates) {
                ++n_done;
                const std::pair<std::string, std::string> id{g.name, type_name(c.type)};
                if (store.count(id)) {
                    continue;
                }
                const SchemeResult pr = quantize_cached(source, probe_scheme(g, c.name, c.type), quiet);
                const GgufSummary file = inspect_gguf(pr.path);
                Probe p;
                p.row.group = g.name;
                p.row.type = id.second;
                for (const auto & t : g.tensors) {
                    const GgufTensor * ten = file.find(t);
                    if (!ten) {
                        throw RuntimeFailure(fmt::format("{}: tensor {} missing from the quantized file", pr.path, t));
                    }
                    p.types[t] = ten->type;
                    p.row.bytes += int64_t(ten->n_bytes);
                }
                p.row.actual = summarize_types(p.types);

                // Shape fallbacks can make two candidates the same file (q6_K -> q8_0 on 64-wide
                // rows), and a candidate can be the reference's own types (f16): no evaluation.
                const Probe * same = nullptr;
                for (const auto & [other_id, other] : store) {
                    if (other_id.first == g.name && other.types == p.types) {
                        same = &other;
                    }
                }
                bool is_ref = true;
                for (const auto & [t, type] : p.types) {
                    is_ref &= ref_types.count(t) && ref_types.at(t) == type;
                }
                std::string how;
                if (same) {
                    p.row.mean_kld = same->row.mean_kld;
                    how = " (same types as " + lower(same->row.type) + ")";
                } else if (is_ref) {
                    p.row.mean_kld = 0.0;
                    how = " (the reference's types)";
                } else {
                    p.row.mean_kld = measure_fidelity(ref, pr.path, ref_params).mean_kld;
                    r.n_evaluations++;
                }
                drop_file(pr, opt.keep_probe_files);
                progress(fmt::format("[{}/{}] {} at {} ({}): mean KLD {:.6f}{}", n_done, n_total, g.name, c.name,
                                     p.row.actual, p.row.mean_kld, how));
                store[id] = std::move(p);
                ++n_new;
            }
        }
        r.sensitivity_cache_hit = n_new == 0;
        if (n_new == 0) {
            progress(fmt::format("sensitivity: all {} probes from the cache", n_total));
        } else {
            json rows = json::array();
            for (const auto & [_, p] : store) {
                json row = sensitivity_row_json(p.row);
                row["tensor_types"] = types_to_json(p.types);
                rows.push_back(row);
            }
            write_file_atomic(json_path(sens_entry), json{{"key", sens_key}, {"probes", rows}}.dump(1) + "\n");
        }
    }

    // This call's table, and the levels per group: distinct tensor types, cheapest first. A
    // level found by several candidates is named for the one whose type it really has (on
    // stories260K q6_k and q8_0 both give q8_0: the level is "q8_0").
    for (auto & g : groups) {
        std::vector<const Probe *> distinct;
        for (const auto & c : candidates) {
            const Probe & p = store.at({g.name, type_name(c.type)});
            GroupSensitivity row = p.row;
            row.type = c.name;
            auto it = std::find_if(distinct.begin(), distinct.end(), [&](const Probe * q) { return q->types == p.types; });
            row.same_as_lower = it != distinct.end();
            const bool exact = std::any_of(p.types.begin(), p.types.end(), [&](const auto & kv) { return kv.second == c.type; });
            if (!row.same_as_lower) {
                distinct.push_back(&p);
                g.levels.push_back(Level{c.name, p.row.mean_kld, p.row.bytes, p.types});
            } else if (exact) {
                g.levels[size_t(it - distinct.begin())].candidate = c.name;
            }
            r.sensitivity.push_back(row);
        }
        std::stable_sort(g.levels.begin(), g.levels.end(), [](const Level & a, const Level & b) {
            return a.bytes != b.bytes ? a.bytes < b.bytes : a.kld < b.kld;
        });
    }

    // --- the KV cache's own share ---------------------------------------------------------------
    const EngineParams final_params = fidelity_engine_params(opt.engine, ref_file.path, opt.chunk, kv_k, kv_v);
    if (kv_k != GGML_TYPE_F16 || kv_v != GGML_TYPE_F16) {
        r.kv_kld = measure_fidelity(ref, ref_file.path, final_params).mean_kld;
        r.n_evaluations++;
        progress(fmt::format("KV cache {}/{} alone: mean KLD {:.6f}", type_name(kv_k), type_name(kv_v), r.kv_kld));
    }

    // --- assignment and measured rounds ---------------------------------------------------------
    Assignment a(groups, r.kv_kld);
    a.raise_to(opt.kld_budget);
    SchemeResult prev;
    bool have_prev = false;
    bool at_top = false;  // nothing left to raise
    for (int round = 1; round <= opt.max_rounds; ++round) {
        const Scheme s = final_scheme(a.tensor_types(), kv_k, kv_v);
        progress(fmt::format("round {}: quantizing the chosen types ({} tensors)", round, s.tensor_types.size()));
        const SchemeResult fr = quantize_cached(source, s, quiet);  // (its key lists every tensor: too long to print)
        if (have_prev && prev.path != fr.path) {
            drop_file(prev, opt.keep_probe_files);
        }
        const Fidelity f = measure_fidelity(ref, fr.path, final_params);
        r.n_evaluations++;
        r.rounds = round;
        r.chosen = s;
        r.scheme = fr;
        r.final_fidelity = f;
        r.predicted_kld = a.predicted();
        r.budget_met = f.mean_kld <= opt.kld_budget;
        progress(fmt::format("round {}: predicted mean KLD {:.6f}, measured {:.6f} (budget {}), {:.3f} bpw", round,
                             r.predicted_kld, f.mean_kld, opt.kld_budget, fr.bpw));
        if (r.budget_met || round == opt.max_rounds) {
            break;
        }
        // The prediction was low by `gap`: aim that much lower, and raise at least once.
        const double gap = f.mean_kld - r.predicted_kld;
        if (a.raise_to(opt.kld_budget - std::max(gap, 0.0)) == 0 && !a.raise_once(true)) {
            at_top = true;  // every group is at its highest candidate
            break;
        }
        prev = fr;
        have_prev = true;
    }
    if (!r.budget_met) {
        at_top = at_top || !a.can_raise();
        progress(fmt::format("warning: mean KLD {:.6f} is above the budget {} {}; returning the most precise result "
                             "measured", r.final_fidelity.mean_kld, opt.kld_budget,
                             at_top ? "even with every group at its highest candidate"
                                    : fmt::format("after {} rounds (max_rounds)", opt.max_rounds)));
    }
    for (const auto & g : groups) {
        r.group_types[g.name] = g.levels[g.cur].candidate;
    }
    r.search_s = std::chrono::duration<double>(Clock::now() - t0).count();

    json doc = json::parse(r.sensitivity_json());
    doc["key"] = result_key;
    doc["source"] = fs::absolute(source).string();
    doc["source_xxh64"] = hex64(src_hash);
    doc["llama_commit"] = JOULEBENCH_LLAMA_COMMIT;
    write_file_atomic(json_path(result_entry), doc.dump(2) + "\n");
    return r;
}

}  // namespace jb
