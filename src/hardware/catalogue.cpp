#include "hardware/catalogue.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::hardware {

namespace fs = std::filesystem;
using json = nlohmann::json;

const GpuSpec * Catalogue::find(const std::string & id) const {
    const std::string want = lower(id);
    for (const GpuSpec & g : gpus) {
        if (lower(g.id) == want) return &g;
    }
    return nullptr;
}

// `pattern` occurs in `name` as whole tokens: the characters around it are not letters or digits,
// so "A10" does not match "NVIDIA A100-SXM4-80GB" and "L4" does not match "NVIDIA L40S".
static bool token_match(const std::string & name, const std::string & pattern) {
    if (pattern.empty()) return false;
    auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    for (size_t at = name.find(pattern); at != std::string::npos; at = name.find(pattern, at + 1)) {
        const size_t end = at + pattern.size();
        const bool left_ok = at == 0 || !alnum(name[at - 1]) || !alnum(pattern.front());
        const bool right_ok = end == name.size() || !alnum(name[end]) || !alnum(pattern.back());
        if (left_ok && right_ok) return true;
    }
    return false;
}

// The entry whose longest pattern matches: "H100 80GB HBM3" (SXM) beats a plain "H100".
const GpuSpec * Catalogue::match_device(const std::string & nvml_name) const {
    const std::string name = lower(nvml_name);
    const GpuSpec * best = nullptr;
    size_t best_len = 0;
    for (const GpuSpec & g : gpus) {
        for (const std::string & m : g.match) {
            const std::string p = lower(m);
            if (p.size() > best_len && token_match(name, p)) {
                best = &g;
                best_len = p.size();
            }
        }
    }
    return best;
}

namespace {

// Where a field is, for messages: "gpus[3].tdp_w" and the entry's id when it has one.
struct Where {
    const std::string & path;
    size_t index;
    std::string id;

    [[noreturn]] void fail(const std::string & key, const std::string & what) const {
        throw InputError(path, 0, fmt::format("gpus[{}].{}", index, key),
                         id.empty() ? what : fmt::format("{} (entry '{}')", what, id));
    }
};

const char * type_word(const json & v) {
    switch (v.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "an array";
        case json::value_t::object:
            return "an object";
        default:
            return v.is_number() ? "a number" : "a value";
    }
}

std::string get_string(const json & obj, const char * key, const Where & w, bool required) {
    if (!obj.contains(key)) {
        if (required) w.fail(key, "missing");
        return "";
    }
    const json & v = obj.at(key);
    if (!v.is_string()) w.fail(key, fmt::format("expected a string, found {}", type_word(v)));
    if (required && v.get<std::string>().empty()) w.fail(key, "empty");
    return v.get<std::string>();
}

// A positive number (required) or, where `nullable`, null = not published -> NaN.
double get_number(const json & obj, const char * key, const Where & w, bool nullable) {
    if (!obj.contains(key)) w.fail(key, nullable ? "missing (use null where no figure is published)" : "missing");
    const json & v = obj.at(key);
    if (v.is_null() && nullable) return std::numeric_limits<double>::quiet_NaN();
    if (!v.is_number()) {
        w.fail(key, fmt::format("expected a number{}, found {}", nullable ? " or null" : "", type_word(v)));
    }
    const double d = v.get<double>();
    if (!std::isfinite(d) || d <= 0) w.fail(key, fmt::format("must be positive, not {}", d));
    return d;
}

// An optional positive number: absent or null -> NaN.
double get_optional_number(const json & obj, const char * key, const Where & w) {
    if (!obj.contains(key) || obj.at(key).is_null()) return std::numeric_limits<double>::quiet_NaN();
    return get_number(obj, key, w, true);
}

std::vector<std::string> get_strings(const json & obj, const char * key, const Where & w) {
    if (!obj.contains(key)) w.fail(key, "missing");
    const json & v = obj.at(key);
    if (!v.is_array() || v.empty()) w.fail(key, fmt::format("expected a non-empty array of strings, found {}",
                                                             v.is_array() ? "an empty array" : type_word(v)));
    std::vector<std::string> out;
    for (const json & s : v) {
        if (!s.is_string() || s.get<std::string>().empty()) {
            w.fail(key, fmt::format("expected non-empty strings, found {}", type_word(s)));
        }
        out.push_back(s.get<std::string>());
    }
    return out;
}

const std::set<std::string> kKnownKeys = {
    "id",          "name",           "match",      "vendor",     "architecture", "form_factor",
    "memory_gib",  "memory_bw_gbs",  "tdp_w",      "idle_w",     "idle_source",  "fp16_tflops",
    "int8_tops",   "sm_count",       "boost_clock_mhz", "price_tier", "list_price_usd", "price_date",
    "sources",     "notes"};

GpuSpec parse_gpu(const json & e, const std::string & path, size_t index) {
    Where w{path, index, ""};
    if (!e.is_object()) throw InputError(path, 0, fmt::format("gpus[{}]", index), "expected an object");
    w.id = get_string(e, "id", w, true);
    for (const auto & [key, value] : e.items()) {
        if (!kKnownKeys.count(key)) w.fail(key, "unknown field (a typo?)");
    }
    GpuSpec g;
    g.id = w.id;
    g.name = get_string(e, "name", w, true);
    g.match = get_strings(e, "match", w);
    g.vendor = get_string(e, "vendor", w, true);
    g.architecture = get_string(e, "architecture", w, true);
    g.form_factor = get_string(e, "form_factor", w, true);
    g.memory_gib = get_number(e, "memory_gib", w, false);
    g.memory_bw_gbs = get_number(e, "memory_bw_gbs", w, false);
    g.tdp_w = get_number(e, "tdp_w", w, false);
    g.idle_w = get_number(e, "idle_w", w, true);
    g.idle_source = get_string(e, "idle_source", w, false);
    if (!std::isnan(g.idle_w) && g.idle_source.empty()) w.fail("idle_source", "missing: say where idle_w comes from");
    if (!std::isnan(g.idle_w) && g.idle_w >= g.tdp_w) w.fail("idle_w", "must be below tdp_w");
    g.fp16_tflops = get_number(e, "fp16_tflops", w, true);
    g.int8_tops = get_number(e, "int8_tops", w, true);
    g.sm_count = get_optional_number(e, "sm_count", w);
    g.boost_clock_mhz = get_optional_number(e, "boost_clock_mhz", w);
    g.price_tier = get_string(e, "price_tier", w, true);
    if (e.contains("list_price_usd") && !e.at("list_price_usd").is_null()) {
        g.list_price_usd = get_number(e, "list_price_usd", w, false);
        g.price_date = get_string(e, "price_date", w, true);
    } else {
        g.price_date = get_string(e, "price_date", w, false);
    }
    g.sources = get_strings(e, "sources", w);
    g.notes = get_string(e, "notes", w, false);
    return g;
}

}  // namespace

Catalogue load_catalogue(const std::string & path) {
    std::ifstream in(path);
    if (!in) throw InputError(path, "cannot read the hardware catalogue");
    json doc;
    try {
        doc = json::parse(in);
    } catch (const json::parse_error & e) {
        throw InputError(path, fmt::format("not valid JSON: {}", e.what()));
    }
    if (!doc.is_object() || !doc.contains("gpus")) throw InputError(path, 0, "gpus", "missing (expected {\"gpus\": [...]})");
    if (!doc.at("gpus").is_array()) throw InputError(path, 0, "gpus", "expected an array");
    Catalogue cat;
    cat.path = path;
    std::set<std::string> ids;
    for (size_t i = 0; i < doc.at("gpus").size(); ++i) {
        GpuSpec g = parse_gpu(doc.at("gpus")[i], path, i);
        if (!ids.insert(lower(g.id)).second) {
            throw InputError(path, 0, fmt::format("gpus[{}].id", i), fmt::format("duplicate id '{}'", g.id));
        }
        cat.gpus.push_back(std::move(g));
    }
    return cat;
}

std::string default_catalogue_path() {
    if (const char * env = std::getenv("JOULEBENCH_HARDWARE"); env && *env) return env;
    const fs::path in_source = fs::path(JOULEBENCH_SOURCE_DIR) / "data" / "hardware" / "gpus.json";
    std::error_code ec;
    if (fs::exists(in_source, ec)) return in_source.string();
    // installed: <prefix>/bin/joulebench -> <prefix>/share/joulebench/hardware/gpus.json
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path installed = exe.parent_path().parent_path() / "share" / "joulebench" / "hardware" / "gpus.json";
        if (fs::exists(installed, ec)) return installed.string();
    }
    return in_source.string();  // the error then names where it was looked for first
}

Catalogue default_catalogue() {
    return load_catalogue(default_catalogue_path());
}

}  // namespace jb::hardware
