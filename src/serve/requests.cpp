#include "serve/requests.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "serve/http.hpp"
#include "tasks/data_files.hpp"
#include "tasks/task.hpp"
#include "joulebench/error.hpp"

namespace jb::serve {

using nlohmann::json;

// ---- lengths

LengthDist LengthDist::fixed_at(int n) {
    LengthDist d;
    d.kind = Kind::fixed;
    d.value = d.min = d.max = n;
    d.mean = n;
    return d;
}

int LengthDist::sample(Rng & rng) const {
    switch (kind) {
        case Kind::fixed:
            return value;
        case Kind::uniform:
            return static_cast<int>(rng.between(min, max));
        case Kind::normal: {
            const double x = std::round(rng.normal(mean, sd));
            return static_cast<int>(std::clamp(x, static_cast<double>(min), static_cast<double>(max)));
        }
    }
    return value;
}

std::string LengthDist::str() const {
    switch (kind) {
        case Kind::fixed:
            return std::to_string(value);
        case Kind::uniform:
            return fmt::format("uniform:{}-{}", min, max);
        case Kind::normal:
            return fmt::format("normal:{:g},{:g},{}-{}", mean, sd, min, max);
    }
    return "";
}

namespace {

bool parse_int(const std::string & s, int & out) {
    if (s.empty() || s.size() > 9) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    out = std::stoi(s);
    return true;
}

bool parse_range(const std::string & s, int & lo, int & hi) {
    const size_t dash = s.find('-');
    return dash != std::string::npos && parse_int(s.substr(0, dash), lo) && parse_int(s.substr(dash + 1), hi);
}

}  // namespace

LengthDist parse_length_dist(const std::string & text, const std::string & option) {
    auto bad = [&](const std::string & why) {
        return UsageError(
            fmt::format("{} '{}': {}; expected a token count (256), uniform:MIN-MAX (uniform:128-512) "
                        "or normal:MEAN,SD[,MIN-MAX] (normal:256,64)",
                        option, text, why));
    };
    LengthDist d;
    int n = 0;
    if (parse_int(text, n)) {
        if (n < 1) throw bad("must be at least 1");
        return LengthDist::fixed_at(n);
    }
    if (text.rfind("uniform:", 0) == 0) {
        d.kind = LengthDist::Kind::uniform;
        if (!parse_range(text.substr(8), d.min, d.max)) throw bad("not a range MIN-MAX");
        if (d.min < 1 || d.max < d.min) throw bad("needs 1 <= MIN <= MAX");
        d.mean = 0.5 * (d.min + d.max);
        return d;
    }
    if (text.rfind("normal:", 0) == 0) {
        d.kind = LengthDist::Kind::normal;
        std::string rest = text.substr(7);
        std::vector<std::string> parts;
        size_t pos = 0;
        while (true) {
            size_t comma = rest.find(',', pos);
            parts.push_back(rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
        int mean = 0, sd = 0;
        if (parts.size() < 2 || parts.size() > 3 || !parse_int(parts[0], mean) || !parse_int(parts[1], sd)) {
            throw bad("not MEAN,SD[,MIN-MAX] in whole tokens");
        }
        d.mean = mean;
        d.sd = sd;
        d.min = 1;
        d.max = 2 * mean;
        if (parts.size() == 3 && !parse_range(parts[2], d.min, d.max)) throw bad("not a range MIN-MAX");
        if (mean < 1 || d.min < 1 || d.max < d.min) throw bad("needs MEAN >= 1 and 1 <= MIN <= MAX");
        return d;
    }
    throw bad("unknown form");
}

// ---- the server's tokenizer

ServerTokenizer::ServerTokenizer(std::string host, int port, double timeout_s)
    : host_(std::move(host)), port_(port), timeout_s_(timeout_s) {
    require_loopback(host_, "tokenizer");
}

namespace {

json tokenize(const std::string & host, int port, double timeout_s, const std::string & text, bool add_special,
              bool with_pieces) {
    const std::string body = json{{"content", text}, {"add_special", add_special}, {"with_pieces", with_pieces}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    HttpResult r = http_request(host, port, "POST", "/tokenize", body, timeout_s);
    if (!r.ok()) {
        throw RuntimeFailure(fmt::format("POST /tokenize on {}:{} failed: {}", host, port, r.describe()));
    }
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("tokens") || !j["tokens"].is_array()) {
        throw RuntimeFailure(fmt::format("POST /tokenize on {}:{}: no \"tokens\" array in the answer", host, port));
    }
    return j["tokens"];
}

}  // namespace

std::vector<std::string> ServerTokenizer::pieces(const std::string & text) {
    ++calls_;
    json tokens = tokenize(host_, port_, timeout_s_, text, false, true);
    std::vector<std::string> out;
    out.reserve(tokens.size());
    for (const auto & t : tokens) {
        const json & p = t.contains("piece") ? t["piece"] : json();
        if (p.is_string()) {
            out.push_back(p.get<std::string>());
        } else if (p.is_array()) {  // bytes of a piece that is not valid UTF-8 on its own
            std::string bytes;
            for (const auto & b : p) bytes.push_back(static_cast<char>(b.get<int>()));
            out.push_back(std::move(bytes));
        } else {
            throw RuntimeFailure(fmt::format("POST /tokenize on {}:{}: a token without its piece", host_, port_));
        }
    }
    return out;
}

int ServerTokenizer::count(const std::string & text) {
    ++calls_;
    return static_cast<int>(tokenize(host_, port_, timeout_s_, text, true, false).size());
}

// ---- synthetic prompts

std::string default_corpus_path() {
    const std::string relative = "data/calibration/calibration.txt";
    std::error_code ec;
    if (std::filesystem::is_regular_file(relative, ec)) return relative;
    return std::string(JOULEBENCH_SOURCE_DIR) + "/" + relative;
}

namespace {

// Cutting text at token boundaries can split a UTF-8 character whose bytes are separate
// tokens; the prompt must stay valid UTF-8 (it travels in JSON), so drop partial characters
// at both ends.
std::string trim_partial_utf8(std::string s) {
    size_t start = 0;
    while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) ++start;
    s.erase(0, start);
    // The last character: find its lead byte and check that all its bytes are there.
    size_t i = s.size();
    size_t back = 0;
    while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++back;
    if (i > 0) {
        const unsigned char lead = static_cast<unsigned char>(s[i - 1]);
        const size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
        if (need != back) s.erase(i - 1);
    }
    return s;
}

std::string join_ring(const std::vector<std::string> & pool, size_t offset, size_t n) {
    std::string s;
    for (size_t j = 0; j < n; ++j) s += pool[(offset + j) % pool.size()];
    return trim_partial_utf8(std::move(s));
}

}  // namespace

std::vector<RequestShape> synthetic_requests(const SyntheticSpec & spec, Tokenizer & tokenizer) {
    if (spec.n_requests < 1)
        throw UsageError(fmt::format("synthetic requests: n_requests must be >= 1 (got {})", spec.n_requests));
    if (spec.input_tokens.min < 1 || spec.output_tokens.min < 1) {
        throw UsageError("synthetic requests: input and output lengths must be at least 1 token");
    }
    const std::vector<std::string> pool = tokenizer.pieces(spec.corpus_text);
    if (pool.empty())
        throw InputError("synthetic corpus", "the corpus text is empty: synthetic prompts are cut from it");
    const int n_special = tokenizer.count("");  // what the server adds to any prompt (BOS, ...)

    Rng rng(spec.seed);
    std::vector<RequestShape> out;
    out.reserve(static_cast<size_t>(spec.n_requests));
    for (long k = 0; k < spec.n_requests; ++k) {
        const int want = spec.input_tokens.sample(rng);
        const size_t offset = static_cast<size_t>(rng.between(0, static_cast<long long>(pool.size()) - 1));
        long n_pieces = std::max(1, want - n_special);
        std::string text = join_ring(pool, offset, static_cast<size_t>(n_pieces));
        int got = tokenizer.count(text);
        // Re-tokenizing a cut can merge or split pieces at the edges; move the end until the
        // count is right.
        for (int round = 0; round < spec.max_adjust_rounds && got != want; ++round) {
            n_pieces = std::max(1L, n_pieces + (want - got));
            text = join_ring(pool, offset, static_cast<size_t>(n_pieces));
            got = tokenizer.count(text);
        }
        RequestShape shape;
        shape.prompt = std::move(text);
        shape.max_tokens = spec.output_tokens.sample(rng);
        shape.expected_prompt_tokens = got;
        out.push_back(std::move(shape));
    }
    return out;
}

// ---- the user's prompts

std::vector<RequestShape> jsonl_requests(const std::string & path, int default_max_tokens) {
    std::vector<tasks::JsonLine> lines = tasks::read_jsonl(path);
    std::vector<RequestShape> out;
    for (const auto & l : lines) {
        tasks::JsonWhere where{path, l.line, ""};
        if (!l.value.is_object()) throw InputError(path, l.line, "", "expected a JSON object {\"prompt\": ...}");
        RequestShape shape;
        shape.prompt = tasks::get_string(l.value, "prompt", where);
        if (shape.prompt.empty()) throw InputError(path, l.line, "prompt", "empty");
        shape.max_tokens = default_max_tokens;
        if (tasks::find_field(l.value, "max_tokens", where)) {
            const long long n = tasks::get_integer(l.value, "max_tokens", where);
            if (n < 1 || n > 1000000)
                throw InputError(path, l.line, "max_tokens", fmt::format("must be >= 1 (got {})", n));
            shape.max_tokens = static_cast<int>(n);
        }
        if (shape.max_tokens < 1)
            throw InputError(path, l.line, "max_tokens", "missing, and no default max_tokens given");
        out.push_back(std::move(shape));
    }
    if (out.empty()) throw InputError(path, "no requests in the file (one {\"prompt\": ...} object per line)");
    return out;
}

// ---- the shipped tasks

std::vector<std::string> task_prompt_preset_names() {
    return {"short", "medium", "long"};
}

TaskPromptSpec task_prompt_preset(const std::string & name, const std::string & data_dir, int max_tokens) {
    TaskPromptSpec s;
    s.data_dir = data_dir;
    s.max_tokens = max_tokens;
    if (name == "short") {
        s.task = "mmlu";
        s.shots = 0;
    } else if (name == "medium") {
        s.task = "truthfulqa_mc1";
    } else if (name == "long") {
        s.task = "gsm8k";
        s.shots = 5;
    } else {
        throw UsageError(fmt::format("unknown prompt mix '{}'; valid: short, medium, long", name));
    }
    return s;
}

std::vector<RequestShape> task_requests(const TaskPromptSpec & spec) {
    if (spec.max_tokens < 1)
        throw UsageError(fmt::format("task prompts: max_tokens must be >= 1 (got {})", spec.max_tokens));
    tasks::TaskOptions opt;
    opt.data_dir = spec.data_dir;
    opt.limit = spec.limit;
    opt.shots = spec.shots;
    opt.seed = spec.seed;
    std::unique_ptr<tasks::Task> task = tasks::make_task(spec.task, opt);
    std::vector<RequestShape> out;
    for (const auto & item : task->prompts()) {
        RequestShape shape;
        shape.prompt = item.context;
        shape.max_tokens = spec.max_tokens;
        out.push_back(std::move(shape));
    }
    if (out.empty()) throw InputError(spec.data_dir, fmt::format("task {}: no prompts", spec.task));
    return out;
}

}  // namespace jb::serve
