#include "quant/scheme.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb {

namespace {

struct FtypeName {
    const char * name;
    llama_ftype ftype;
};

// llama-quantize's QUANT_OPTIONS at de3ff81 (tools/quantize/quantize.cpp), without COPY.
// Aliases (Q3_K, Q4_K, Q5_K) come after the names they stand for, so ftype_name() prints those.
const FtypeName k_ftypes[] = {
    {"Q1_0", LLAMA_FTYPE_MOSTLY_Q1_0},       {"Q2_0", LLAMA_FTYPE_MOSTLY_Q2_0},
    {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},       {"Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1},
    {"MXFP4_MOE", LLAMA_FTYPE_MOSTLY_MXFP4_MOE},
    {"Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},       {"Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1},
    {"IQ2_XXS", LLAMA_FTYPE_MOSTLY_IQ2_XXS}, {"IQ2_XS", LLAMA_FTYPE_MOSTLY_IQ2_XS},
    {"IQ2_S", LLAMA_FTYPE_MOSTLY_IQ2_S},     {"IQ2_M", LLAMA_FTYPE_MOSTLY_IQ2_M},
    {"IQ1_S", LLAMA_FTYPE_MOSTLY_IQ1_S},     {"IQ1_M", LLAMA_FTYPE_MOSTLY_IQ1_M},
    {"TQ1_0", LLAMA_FTYPE_MOSTLY_TQ1_0},     {"TQ2_0", LLAMA_FTYPE_MOSTLY_TQ2_0},
    {"Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K},       {"Q2_K_S", LLAMA_FTYPE_MOSTLY_Q2_K_S},
    {"IQ3_XXS", LLAMA_FTYPE_MOSTLY_IQ3_XXS}, {"IQ3_S", LLAMA_FTYPE_MOSTLY_IQ3_S},
    {"IQ3_M", LLAMA_FTYPE_MOSTLY_IQ3_M},     {"IQ3_XS", LLAMA_FTYPE_MOSTLY_IQ3_XS},
    {"Q3_K_S", LLAMA_FTYPE_MOSTLY_Q3_K_S},   {"Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M},
    {"Q3_K_L", LLAMA_FTYPE_MOSTLY_Q3_K_L},   {"IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL},
    {"IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS},   {"Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S},
    {"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M},   {"Q5_K_S", LLAMA_FTYPE_MOSTLY_Q5_K_S},
    {"Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M},   {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K},
    {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},       {"F16", LLAMA_FTYPE_MOSTLY_F16},
    {"BF16", LLAMA_FTYPE_MOSTLY_BF16},       {"F32", LLAMA_FTYPE_ALL_F32},
    {"Q3_K", LLAMA_FTYPE_MOSTLY_Q3_K_M},     {"Q4_K", LLAMA_FTYPE_MOSTLY_Q4_K_M},
    {"Q5_K", LLAMA_FTYPE_MOSTLY_Q5_K_M},
};

struct Preset {
    const char * name;
    llama_ftype ftype;
    ggml_type kv;
    const char * description;
};

const Preset k_presets[] = {
    {"fp16", LLAMA_FTYPE_MOSTLY_F16, GGML_TYPE_F16, "F16 weights (1-D tensors stay F32), F16 KV cache; the reference"},
    {"bf16", LLAMA_FTYPE_MOSTLY_BF16, GGML_TYPE_F16, "BF16 weights, F16 KV cache"},
    {"int8", LLAMA_FTYPE_MOSTLY_Q8_0, GGML_TYPE_F16,
     "Q8_0 weights (8-bit, one scale per 32 values; W8A8 in matrix products), F16 KV cache"},
    {"q6_k", LLAMA_FTYPE_MOSTLY_Q6_K, GGML_TYPE_F16, "Q6_K weights, F16 KV cache"},
    {"q5_k_m", LLAMA_FTYPE_MOSTLY_Q5_K_M, GGML_TYPE_F16, "llama.cpp's Q5_K_M mixture, F16 KV cache"},
    {"q4_k_m", LLAMA_FTYPE_MOSTLY_Q4_K_M, GGML_TYPE_F16, "llama.cpp's Q4_K_M mixture, F16 KV cache"},
    {"iq4_xs", LLAMA_FTYPE_MOSTLY_IQ4_XS, GGML_TYPE_F16, "IQ4_XS weights (4.25 bpw non-linear), F16 KV cache"},
    {"dynamic", LLAMA_FTYPE_MOSTLY_Q8_0, GGML_TYPE_Q8_0,
     "per-tensor types chosen from measured sensitivity (KL divergence vs fp16), Q8_0 KV cache"},
};

// KV-cache types llama.cpp accepts (common/arg.cpp's kv_cache_types at de3ff81).
const ggml_type k_kv_types[] = {
    GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0,
    GGML_TYPE_Q4_1, GGML_TYPE_IQ4_NL, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1,
};

bool iequals(const std::string & a, const std::string & b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

bool ends_with(const std::string & s, const std::string & suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Keeps a key unambiguous when a regex contains the separators.
std::string escape_key_part(const std::string & s) {
    std::string out;
    for (char c : s) {
        if (c == '%' || c == ',' || c == ';' || c == '=') {
            out += fmt::format("%{:02X}", (unsigned char) c);
        } else {
            out += c;
        }
    }
    return out;
}

std::string regex_escape(const std::string & s) {
    static const std::string special = R"(\^$.|?*+()[]{}-)";
    std::string out;
    for (char c : s) {
        if (special.find(c) != std::string::npos) {
            out += '\\';
        }
        out += c;
    }
    return out;
}

std::string accepted_names() {
    std::string s;
    for (const auto & p : k_presets) {
        s += s.empty() ? "" : ", ";
        s += p.name;
    }
    s += "; or a llama.cpp file type (";
    bool first = true;
    for (const auto & f : k_ftypes) {
        s += first ? "" : ", ";
        s += lower(f.name);
        first = false;
    }
    s += "), optionally with +kv8 / +kv4; or a .json file";
    return s;
}

bool is_quantized(ggml_type t) {
    return t < GGML_TYPE_COUNT && ggml_is_quantized(t);
}

// Applies a "+kv8"-style suffix; returns false if `suffix` is not one.
bool apply_kv_suffix(Scheme & s, const std::string & suffix) {
    const std::string suf = lower(suffix);
    if (suf == "kv8") {
        s.kv_type_k = s.kv_type_v = GGML_TYPE_Q8_0;
    } else if (suf == "kv4") {
        s.kv_type_k = s.kv_type_v = GGML_TYPE_Q4_0;
    } else if (suf == "kv16") {
        s.kv_type_k = s.kv_type_v = GGML_TYPE_F16;
    } else {
        return false;
    }
    return true;
}

Scheme parse_base_name(const std::string & base) {
    Scheme s;
    s.name = base;
    for (const auto & p : k_presets) {
        if (iequals(base, p.name)) {
            s.name = p.name;
            s.kind = std::string(p.name) == "dynamic" ? SchemeKind::dynamic : SchemeKind::preset;
            s.ftype = p.ftype;
            s.kv_type_k = s.kv_type_v = p.kv;
            return s;
        }
    }
    llama_ftype ft;
    if (ftype_from_name(base, ft)) {
        s.name = lower(base);
        s.kind = SchemeKind::ftype;
        s.ftype = ft;
        return s;
    }
    std::vector<std::string> names;
    for (const auto & p : k_presets) names.emplace_back(p.name);
    for (const auto & f : k_ftypes) names.push_back(lower(f.name));
    const std::string near = closest_name(lower(base), names);
    throw UsageError(fmt::format("unknown scheme '{}'{}: expected {}", base,
                                 near.empty() ? "" : "; did you mean " + near + "?", accepted_names()));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// names

bool ftype_from_name(const std::string & name, llama_ftype & out) {
    for (const auto & f : k_ftypes) {
        if (iequals(name, f.name)) {
            out = f.ftype;
            return true;
        }
    }
    return false;
}

std::string ftype_name(llama_ftype ftype) {
    for (const auto & f : k_ftypes) {
        if (f.ftype == ftype) {
            return f.name;
        }
    }
    return "?";
}

ggml_type ftype_default_type(llama_ftype ftype) {
    // llama_ftype_get_default_type() (src/llama-quant.cpp) is internal; same table.
    switch (ftype) {
        case LLAMA_FTYPE_ALL_F32:         return GGML_TYPE_F32;
        case LLAMA_FTYPE_MOSTLY_F16:      return GGML_TYPE_F16;
        case LLAMA_FTYPE_MOSTLY_BF16:     return GGML_TYPE_BF16;
        case LLAMA_FTYPE_MOSTLY_Q4_0:     return GGML_TYPE_Q4_0;
        case LLAMA_FTYPE_MOSTLY_Q4_1:     return GGML_TYPE_Q4_1;
        case LLAMA_FTYPE_MOSTLY_Q5_0:     return GGML_TYPE_Q5_0;
        case LLAMA_FTYPE_MOSTLY_Q5_1:     return GGML_TYPE_Q5_1;
        case LLAMA_FTYPE_MOSTLY_Q8_0:     return GGML_TYPE_Q8_0;
        case LLAMA_FTYPE_MOSTLY_Q1_0:     return GGML_TYPE_Q1_0;
        case LLAMA_FTYPE_MOSTLY_Q2_0:     return GGML_TYPE_Q2_0;
        case LLAMA_FTYPE_MOSTLY_MXFP4_MOE: return GGML_TYPE_MXFP4;
        case LLAMA_FTYPE_MOSTLY_Q2_K_S:
        case LLAMA_FTYPE_MOSTLY_Q2_K:     return GGML_TYPE_Q2_K;
        case LLAMA_FTYPE_MOSTLY_IQ3_XS:   return GGML_TYPE_IQ3_S;
        case LLAMA_FTYPE_MOSTLY_Q3_K_S:
        case LLAMA_FTYPE_MOSTLY_Q3_K_M:
        case LLAMA_FTYPE_MOSTLY_Q3_K_L:   return GGML_TYPE_Q3_K;
        case LLAMA_FTYPE_MOSTLY_Q4_K_S:
        case LLAMA_FTYPE_MOSTLY_Q4_K_M:   return GGML_TYPE_Q4_K;
        case LLAMA_FTYPE_MOSTLY_Q5_K_S:
        case LLAMA_FTYPE_MOSTLY_Q5_K_M:   return GGML_TYPE_Q5_K;
        case LLAMA_FTYPE_MOSTLY_Q6_K:     return GGML_TYPE_Q6_K;
        case LLAMA_FTYPE_MOSTLY_TQ1_0:    return GGML_TYPE_TQ1_0;
        case LLAMA_FTYPE_MOSTLY_TQ2_0:    return GGML_TYPE_TQ2_0;
        case LLAMA_FTYPE_MOSTLY_IQ2_XXS:  return GGML_TYPE_IQ2_XXS;
        case LLAMA_FTYPE_MOSTLY_IQ2_XS:   return GGML_TYPE_IQ2_XS;
        case LLAMA_FTYPE_MOSTLY_IQ2_S:    return GGML_TYPE_IQ2_XS;
        case LLAMA_FTYPE_MOSTLY_IQ2_M:    return GGML_TYPE_IQ2_S;
        case LLAMA_FTYPE_MOSTLY_IQ3_XXS:  return GGML_TYPE_IQ3_XXS;
        case LLAMA_FTYPE_MOSTLY_IQ1_S:    return GGML_TYPE_IQ1_S;
        case LLAMA_FTYPE_MOSTLY_IQ1_M:    return GGML_TYPE_IQ1_M;
        case LLAMA_FTYPE_MOSTLY_IQ4_NL:   return GGML_TYPE_IQ4_NL;
        case LLAMA_FTYPE_MOSTLY_IQ4_XS:   return GGML_TYPE_IQ4_XS;
        case LLAMA_FTYPE_MOSTLY_IQ3_S:
        case LLAMA_FTYPE_MOSTLY_IQ3_M:    return GGML_TYPE_IQ3_S;
        default:                          return GGML_TYPE_COUNT;
    }
}

std::vector<std::string> ftype_names() {
    std::vector<std::string> out;
    for (const auto & f : k_ftypes) {
        out.push_back(lower(f.name));
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> scheme_presets() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto & p : k_presets) {
        out.emplace_back(p.name, p.description);
    }
    return out;
}

bool ggml_type_from_name(const std::string & name, ggml_type & out) {
    for (int i = 0; i < GGML_TYPE_COUNT; ++i) {
        const char * n = ggml_type_name((ggml_type) i);
        // removed types keep a slot with a placeholder name; blck_size 0 marks them
        if (n && ggml_blck_size((ggml_type) i) > 0 && iequals(name, n)) {
            out = (ggml_type) i;
            return true;
        }
    }
    return false;
}

std::string type_name(ggml_type type) {
    if (type < 0 || type >= GGML_TYPE_COUNT) {
        return "?";
    }
    const char * n = ggml_type_name(type);
    return n ? n : "?";
}

std::string cache_type_name(ggml_type type) {
    return lower(type_name(type));
}

// ---------------------------------------------------------------------------------------------
// KV cache

bool kv_pair_is_fast(ggml_type k, ggml_type v) {
    return k == v && (k == GGML_TYPE_F16 || k == GGML_TYPE_BF16 || k == GGML_TYPE_Q8_0 || k == GGML_TYPE_Q4_0);
}

void check_kv_pair(ggml_type k, ggml_type v, bool allow_slow, const std::string & where) {
    for (ggml_type t : {k, v}) {
        if (std::find(std::begin(k_kv_types), std::end(k_kv_types), t) == std::end(k_kv_types)) {
            throw UsageError(fmt::format(
                "{}: KV cache type {} is not supported by llama.cpp (use f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl or f32)",
                where, type_name(t)));
        }
    }
    if (!kv_pair_is_fast(k, v) && !allow_slow) {
        throw UsageError(fmt::format(
            "{}: KV cache pair K={} V={} has no fast attention kernel in default CUDA builds (falls back to CPU, "
            "25-45x slower); use f16/f16, bf16/bf16, q8_0/q8_0 or q4_0/q4_0, or set \"allow_slow_kv\": true",
            where, type_name(k), type_name(v)));
    }
}

// ---------------------------------------------------------------------------------------------
// Scheme

bool Scheme::flash_attn_required() const {
    return ggml_is_quantized(kv_type_v);
}

bool Scheme::needs_tensor_types() const {
    return kind == SchemeKind::dynamic && tensor_types.empty();
}

void Scheme::set_tensor_types(std::map<std::string, ggml_type> types) {
    tensor_types = std::move(types);
}

std::string Scheme::weights_key() const {
    std::string key = "ftype=" + ftype_name(ftype);
    if (!overrides.empty()) {
        key += ";tt=";
        for (size_t i = 0; i < overrides.size(); ++i) {
            key += (i ? "," : "") + escape_key_part(overrides[i].pattern) + "=" + type_name(overrides[i].type);
        }
    }
    if (!tensor_types.empty()) {
        key += ";t=";
        bool first = true;
        for (const auto & [tensor, type] : tensor_types) {  // std::map: sorted by name
            key += (first ? "" : ",") + escape_key_part(tensor) + "=" + type_name(type);
            first = false;
        }
    }
    return key;
}

std::string Scheme::canonical() const {
    return weights_key() + ";kv=" + type_name(kv_type_k) + "/" + type_name(kv_type_v);
}

std::vector<TensorTypeOverride> Scheme::quantize_rules() const {
    std::vector<TensorTypeOverride> out;
    for (const auto & [tensor, type] : tensor_types) {
        std::string pattern = "^";  // (not "^" + ...: GCC 12 warns falsely, PR105329)
        pattern += regex_escape(tensor);
        pattern += '$';
        out.push_back({std::move(pattern), type});
    }
    out.insert(out.end(), overrides.begin(), overrides.end());
    return out;
}

// ---------------------------------------------------------------------------------------------
// parsing

Scheme parse_scheme(const std::string & name_or_path) {
    if (name_or_path.empty()) {
        throw UsageError("empty scheme name: expected " + accepted_names());
    }
    // "base+kv8": the suffix may follow a preset, a file type or a JSON path
    std::string base = name_or_path;
    std::string suffix;
    const size_t plus = name_or_path.rfind('+');
    if (plus != std::string::npos && plus > 0) {
        base = name_or_path.substr(0, plus);
        suffix = name_or_path.substr(plus + 1);
    }

    Scheme s;
    if (ends_with(lower(base), ".json")) {
        std::ifstream in(base);
        if (!in) {
            throw InputError(base, "cannot open scheme file");
        }
        std::stringstream ss;
        ss << in.rdbuf();
        s = parse_scheme_json(ss.str(), base);
    } else {
        s = parse_base_name(base);
    }
    if (!suffix.empty()) {
        if (!apply_kv_suffix(s, suffix)) {
            throw UsageError(fmt::format("scheme '{}': unknown suffix '+{}' (expected +kv8, +kv4 or +kv16)",
                                         name_or_path, suffix));
        }
        s.name += "+" + lower(suffix);
    }
    check_kv_pair(s.kv_type_k, s.kv_type_v, s.allow_slow_kv, s.source.empty() ? "scheme " + s.name : s.source);
    return s;
}

namespace {

ggml_type json_type(const nlohmann::json & v, const std::string & file, const std::string & field) {
    if (!v.is_string()) {
        throw InputError(file, 0, field, "expected a type name string such as \"q8_0\"");
    }
    ggml_type t;
    if (!ggml_type_from_name(v.get<std::string>(), t)) {
        throw InputError(file, 0, field, fmt::format("unknown tensor type '{}' (ggml types: f16, bf16, q8_0, q6_K, q4_K, ...)",
                                                     v.get<std::string>()));
    }
    return t;
}

}  // namespace

Scheme parse_scheme_json(const std::string & json_text, const std::string & file) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::parse_error & e) {
        throw InputError(file, 0, "", fmt::format("invalid JSON at byte {}: {}", e.byte, e.what()));
    }
    if (!j.is_object()) {
        throw InputError(file, "expected a JSON object {\"name\", \"default_type\", \"overrides\", \"kv\"}");
    }
    static const std::vector<std::string> known = {"name", "description", "default_type", "overrides",
                                                   "tensor_types", "kv", "allow_slow_kv"};
    for (const auto & [key, _] : j.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            throw InputError(file, 0, key, "unknown field (expected name, description, default_type, overrides, "
                                           "tensor_types, kv, allow_slow_kv)");
        }
    }

    Scheme s;
    s.kind = SchemeKind::custom;
    s.source = file;
    s.name = std::filesystem::path(file).stem().string();
    if (j.contains("name")) {
        if (!j["name"].is_string() || j["name"].get<std::string>().empty()) {
            throw InputError(file, 0, "name", "expected a non-empty string");
        }
        s.name = j["name"].get<std::string>();
    }

    if (!j.contains("default_type")) {
        throw InputError(file, 0, "default_type", "missing (a llama.cpp file type such as \"q4_k_m\" or a preset such as \"int8\")");
    }
    if (!j["default_type"].is_string()) {
        throw InputError(file, 0, "default_type", "expected a string such as \"q4_k_m\"");
    }
    {
        const std::string dt = j["default_type"].get<std::string>();
        Scheme base;
        try {
            base = parse_base_name(dt);
        } catch (const UsageError &) {
            throw InputError(file, 0, "default_type", fmt::format("unknown file type '{}'", dt));
        }
        if (base.kind == SchemeKind::dynamic) {
            throw InputError(file, 0, "default_type", "'dynamic' is chosen by the sensitivity search; give its "
                                                      "base file type and the chosen \"tensor_types\" instead");
        }
        s.ftype = base.ftype;
    }

    if (j.contains("overrides")) {
        const auto & ov = j["overrides"];
        if (!ov.is_array()) {
            throw InputError(file, 0, "overrides", "expected an array of {\"pattern\": regex, \"type\": type}");
        }
        for (size_t i = 0; i < ov.size(); ++i) {
            const std::string field = fmt::format("overrides[{}]", i);
            const auto & o = ov[i];
            if (!o.is_object() || !o.contains("pattern") || !o.contains("type")) {
                throw InputError(file, 0, field, "expected {\"pattern\": regex, \"type\": type}");
            }
            for (const auto & [key, _] : o.items()) {
                if (key != "pattern" && key != "type") {
                    throw InputError(file, 0, field + "." + key, "unknown field (expected pattern, type)");
                }
            }
            if (!o["pattern"].is_string() || o["pattern"].get<std::string>().empty()) {
                throw InputError(file, 0, field + ".pattern", "expected a non-empty regex string");
            }
            TensorTypeOverride t;
            t.pattern = o["pattern"].get<std::string>();
            try {
                std::regex re(t.pattern);  // llama.cpp compiles it the same way (ECMAScript)
            } catch (const std::regex_error & e) {
                throw InputError(file, 0, field + ".pattern", fmt::format("invalid regex '{}': {}", t.pattern, e.what()));
            }
            t.type = json_type(o["type"], file, field + ".type");
            s.overrides.push_back(t);
        }
    }

    if (j.contains("tensor_types")) {
        const auto & tt = j["tensor_types"];
        if (!tt.is_object()) {
            throw InputError(file, 0, "tensor_types", "expected an object {\"tensor name\": type}");
        }
        for (const auto & [tensor, type] : tt.items()) {
            s.tensor_types[tensor] = json_type(type, file, "tensor_types." + tensor);
        }
    }

    if ((!s.overrides.empty() || !s.tensor_types.empty()) && !is_quantized(ftype_default_type(s.ftype))) {
        // llama_tensor_get_type() consults --tensor-type rules only when the file type's
        // default type is quantized; with F16/BF16/F32 they would be ignored silently.
        throw InputError(file, 0, "default_type",
                         fmt::format("{} is not a quantized file type, and llama.cpp ignores per-tensor overrides "
                                     "for it; use a quantized default_type (e.g. q8_0) and override tensors to f16",
                                     ftype_name(s.ftype)));
    }

    if (j.contains("allow_slow_kv")) {
        if (!j["allow_slow_kv"].is_boolean()) {
            throw InputError(file, 0, "allow_slow_kv", "expected true or false");
        }
        s.allow_slow_kv = j["allow_slow_kv"].get<bool>();
    }
    if (j.contains("kv")) {
        const auto & kv = j["kv"];
        if (kv.is_string()) {
            s.kv_type_k = s.kv_type_v = json_type(kv, file, "kv");
        } else if (kv.is_object()) {
            for (const auto & [key, _] : kv.items()) {
                if (key != "k" && key != "v") {
                    throw InputError(file, 0, "kv." + key, "unknown field (expected k, v)");
                }
            }
            if (kv.contains("k")) {
                s.kv_type_k = json_type(kv["k"], file, "kv.k");
            }
            if (kv.contains("v")) {
                s.kv_type_v = json_type(kv["v"], file, "kv.v");
            }
        } else {
            throw InputError(file, 0, "kv", "expected a type name (\"q8_0\") or {\"k\": type, \"v\": type}");
        }
    }
    try {
        check_kv_pair(s.kv_type_k, s.kv_type_v, s.allow_slow_kv, file);
    } catch (const UsageError & e) {
        const std::string msg = e.what();
        throw InputError(file, 0, "kv", msg.substr(file.size() + 2));
    }
    return s;
}

}  // namespace jb
