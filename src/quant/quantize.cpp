#include "quant/quantize.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "quant/cache.hpp"
#include "quant/gguf_file.hpp"
#include "quant/hash.hpp"
#include "quant/imatrix.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace fs = std::filesystem;

namespace jb {

namespace {

// llama.cpp's log is process-wide; quantizations in one process take turns so that each
// one's messages (errors, fallback warnings) are read by the right caller.
std::mutex g_quantize_mutex;

struct LogCapture {
    bool verbose = false;
    bool in_error = false;
    std::string line;                 // the line being assembled (llama.cpp logs in pieces)
    std::vector<std::string> lines;   // complete lines
    std::vector<std::string> errors;  // lines logged at error level

    static void callback(ggml_log_level level, const char * text, void * user_data) {
        auto * self = static_cast<LogCapture *>(user_data);
        if (self->verbose) {
            std::fputs(text, stderr);
        }
        if (level != GGML_LOG_LEVEL_CONT) {
            self->in_error = level == GGML_LOG_LEVEL_ERROR;
        }
        for (const char * p = text; *p; ++p) {
            if (*p == '\n') {
                if (self->in_error && !self->line.empty()) {
                    self->errors.push_back(self->line);
                }
                self->lines.push_back(std::move(self->line));
                self->line.clear();
            } else {
                self->line += *p;
            }
        }
    }
};

// Installs a LogCapture as llama.cpp's log callback for its lifetime, then restores the previous one.
class ScopedLogCapture {
public:
    explicit ScopedLogCapture(LogCapture & cap) {
        llama_log_get(&prev_cb_, &prev_ud_);
        llama_log_set(LogCapture::callback, &cap);
    }
    ~ScopedLogCapture() { llama_log_set(prev_cb_, prev_ud_); }
    ScopedLogCapture(const ScopedLogCapture &) = delete;
    ScopedLogCapture & operator=(const ScopedLogCapture &) = delete;

private:
    ggml_log_callback prev_cb_ = nullptr;
    void * prev_ud_ = nullptr;
};

// "warning: blk.0.ffn_down.weight - ncols    172 not divisible by  32 (required for type    q8_0)
//  (WARNING: must use F16 due to unusual shape) -> falling back to     f16" (tensor_type_fallback())
std::vector<TypeFallback> parse_fallbacks(const std::vector<std::string> & lines) {
    static const std::regex re(
        R"(warning: (\S+)\s+- ncols\s+\d+ not divisible by\s+\d+ \(required for type\s+(\S+)\)\s*(?:\(WARNING: must use F16 due to unusual shape\)\s*)?-> falling back to\s+(\S+))");
    std::vector<TypeFallback> out;
    for (const auto & l : lines) {
        std::smatch m;
        if (std::regex_search(l, m, re)) {
            TypeFallback f;
            f.tensor = m[1];
            ggml_type_from_name(m[2], f.wanted);
            ggml_type_from_name(m[3], f.used);
            out.push_back(f);
        }
    }
    return out;
}

void check_source(const GgufSummary & src) {
    for (const auto & t : src.tensors) {
        if (ggml_is_quantized(t.type)) {
            throw InputError(src.path, fmt::format("already quantized ({} is {}): quantize from an F32, F16 or BF16 model",
                                                   t.name, ggml_type_name(t.type)));
        }
    }
}

}  // namespace

std::map<std::string, int> SchemeResult::type_counts() const {
    std::map<std::string, int> out;
    for (const auto & [_, t] : tensor_types) {
        out[ggml_type_name(t)]++;
    }
    return out;
}

std::vector<TypeFallback> quantize_model(const std::string & source, const std::string & dest,
                                         const Scheme & scheme, const QuantizeOptions & opts) {
    if (scheme.needs_tensor_types()) {
        throw UsageError(fmt::format("scheme '{}' has no per-tensor types yet: they are chosen by the sensitivity "
                                     "search, which must run first", scheme.name));
    }
    check_source(inspect_gguf(source));

    static std::once_flag backend_once;
    std::call_once(backend_once, [] { llama_backend_init(); });

    llama_model_quantize_params params = llama_model_quantize_default_params();
    params.nthread = opts.n_threads;
    params.ftype = scheme.ftype;

    // tt_overrides: {pattern, type} pairs ending with {nullptr, GGML_TYPE_COUNT}, the way
    // tools/quantize/quantize.cpp passes --tensor-type at de3ff81; first match wins.
    const std::vector<TensorTypeOverride> rules = scheme.quantize_rules();
    std::vector<llama_model_tensor_override> tt;
    for (const auto & r : rules) {
        tt.push_back({r.pattern.c_str(), r.type});
    }
    tt.push_back({nullptr, GGML_TYPE_COUNT});
    if (!rules.empty()) {
        params.tt_overrides = tt.data();
    }

    // imatrix: {name, data, size} entries ending with {nullptr, nullptr, 0}, plus the
    // quantize.imatrix.* metadata keys llama-quantize writes.
    Imatrix im;
    std::vector<llama_model_imatrix_data> im_data;
    std::vector<llama_model_kv_override> kv;
    if (!opts.imatrix_path.empty()) {
        im = load_imatrix(opts.imatrix_path);
        for (const auto & [name, v] : im.entries) {
            im_data.push_back({name.c_str(), v.data(), v.size()});
        }
        im_data.push_back({nullptr, nullptr, 0});
        params.imatrix = im_data.data();

        auto add_str = [&](const char * key, const std::string & val) {
            llama_model_kv_override o{};
            std::snprintf(o.key, sizeof(o.key), "%s", key);
            o.tag = LLAMA_KV_OVERRIDE_TYPE_STR;
            std::snprintf(o.val_str, sizeof(o.val_str), "%s", val.c_str());
            kv.push_back(o);
        };
        auto add_int = [&](const char * key, int64_t val) {
            llama_model_kv_override o{};
            std::snprintf(o.key, sizeof(o.key), "%s", key);
            o.tag = LLAMA_KV_OVERRIDE_TYPE_INT;
            o.val_i64 = val;
            kv.push_back(o);
        };
        add_str("quantize.imatrix.file", opts.imatrix_path);
        if (!im.datasets.empty()) {
            add_str("quantize.imatrix.dataset", im.datasets[0]);
        }
        add_int("quantize.imatrix.entries_count", (int64_t) im.entries.size());
        if (im.chunk_count > 0) {
            add_int("quantize.imatrix.chunks_count", im.chunk_count);
        }
        kv.emplace_back();
        kv.back().key[0] = 0;
        params.kv_overrides = kv.data();
    }

    std::error_code ec;
    if (const fs::path parent = fs::path(dest).parent_path(); !parent.empty()) {
        fs::create_directories(parent, ec);
    }

    LogCapture cap;
    cap.verbose = opts.verbose;
    uint32_t rc;
    {
        std::lock_guard<std::mutex> guard(g_quantize_mutex);
        ScopedLogCapture scoped(cap);
        rc = llama_model_quantize(source.c_str(), dest.c_str(), &params);
    }
    if (!cap.line.empty()) {
        cap.lines.push_back(cap.line);
    }
    if (rc != 0) {
        fs::remove(dest, ec);
        std::string why = "unknown error";
        for (const auto & e : cap.errors) {
            if (auto pos = e.find("failed to quantize: "); pos != std::string::npos) {
                why = e.substr(pos + 20);
            }
        }
        if (why.find("imatrix") != std::string::npos || why.find("importance matrix") != std::string::npos) {
            throw UsageError(fmt::format("scheme '{}' on {}: llama.cpp: {} (pass an importance matrix with --imatrix)",
                                         scheme.name, source, why));
        }
        throw RuntimeFailure(fmt::format("quantizing {} to '{}' failed: llama.cpp: {}", source, scheme.name, why));
    }
    return parse_fallbacks(cap.lines);
}

namespace {

SchemeResult result_from_file(const std::string & path) {
    const GgufSummary g = inspect_gguf(path);
    SchemeResult r;
    r.path = path;
    r.file_bytes = g.file_bytes;
    r.bpw = g.bpw();
    r.n_params = g.n_elements;
    r.tensor_types = g.tensor_types();
    return r;
}

nlohmann::json fallbacks_to_json(const std::vector<TypeFallback> & fbs) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto & f : fbs) {
        a.push_back({{"tensor", f.tensor}, {"wanted", type_name(f.wanted)}, {"used", type_name(f.used)}});
    }
    return a;
}

std::vector<TypeFallback> fallbacks_from_json(const nlohmann::json & a) {
    std::vector<TypeFallback> out;
    if (!a.is_array()) {
        return out;
    }
    for (const auto & f : a) {
        TypeFallback fb;
        fb.tensor = f.value("tensor", "");
        ggml_type_from_name(f.value("wanted", ""), fb.wanted);
        ggml_type_from_name(f.value("used", ""), fb.used);
        out.push_back(fb);
    }
    return out;
}

}  // namespace

SchemeResult describe_model(const std::string & path) {
    return result_from_file(path);
}

SchemeResult quantize_cached(const std::string & source, const Scheme & scheme, const QuantizeOptions & opts) {
    if (scheme.needs_tensor_types()) {
        throw UsageError(fmt::format("scheme '{}' has no per-tensor types yet: they are chosen by the sensitivity "
                                     "search, which must run first", scheme.name));
    }
    const GgufSummary src = inspect_gguf(source);
    check_source(src);

    // fp16 of an F16 model (e.g. a synthetic one): llama.cpp would only copy it, and a 7B
    // copy is 15 GB. If every matrix already has the scheme's type, the source is the result.
    if (const ggml_type want = ftype_default_type(scheme.ftype);
        scheme.quantize_rules().empty() && want < GGML_TYPE_COUNT && !ggml_is_quantized(want)) {
        bool same = true;
        for (const auto & t : src.tensors) {
            same &= t.n_dims < 2 || t.type == want;
        }
        if (same) {
            SchemeResult r = result_from_file(source);
            r.scheme = scheme.canonical();
            r.scheme_name = scheme.name;
            r.source_path = source;
            r.cache_hit = true;
            r.is_source = true;
            return r;
        }
    }

    QuantCache cache(opts.cache_dir.empty() ? default_cache_dir() : opts.cache_dir);
    cache.remove_stale_parts();

    const uint64_t src_hash = xxh64_file_memo(source, cache.sources_dir());
    std::string imatrix_hash = "none";
    if (!opts.imatrix_path.empty()) {
        imatrix_hash = hex64(xxh64_file(opts.imatrix_path));
    }
    // Everything that decides the output's bytes. llama.cpp's commit is in it because its
    // mixtures (which tensor gets which type) change between versions.
    const std::string key = fmt::format("joulebench-quant-v1;src={};{};imatrix={};llama={};qnt={}", hex64(src_hash),
                                        scheme.weights_key(), imatrix_hash, JOULEBENCH_LLAMA_COMMIT, GGML_QNT_VERSION);
    std::string label = fs::path(source).stem().string() + "." + lower(ftype_name(scheme.ftype));
    if (scheme.kind == SchemeKind::custom || scheme.kind == SchemeKind::dynamic) {
        label += '.';
        label += scheme.name.substr(0, scheme.name.find('+'));
    }
    const CacheEntry e = cache.entry(label, key);

    auto finish = [&](SchemeResult r, bool hit, double seconds, std::vector<TypeFallback> fallbacks) {
        r.scheme = scheme.canonical();
        r.scheme_name = scheme.name;
        r.source_path = source;
        r.source_xxh64 = hex64(src_hash);
        r.cache_hit = hit;
        r.quantize_s = seconds;
        r.fallbacks = std::move(fallbacks);
        return r;
    };

    auto try_hit = [&]() -> std::optional<SchemeResult> {
        if (!cache.contains(e)) {
            return std::nullopt;
        }
        nlohmann::json meta;
        std::ifstream in(e.meta_path);
        if (in) {
            try {
                in >> meta;
            } catch (const std::exception &) {
                meta = nlohmann::json();
            }
        }
        if (meta.is_object() && meta.value("key", "") != key) {
            return std::nullopt;  // a 64-bit name collision: treat as a miss and overwrite
        }
        try {
            return finish(result_from_file(e.path), true, 0.0, fallbacks_from_json(meta.value("fallbacks", nlohmann::json())));
        } catch (const InputError &) {
            return std::nullopt;  // damaged after the fact: quantize again
        }
    };

    if (!opts.force) {
        if (auto hit = try_hit()) {
            return *hit;
        }
    }

    CacheLock lock = cache.try_lock(e);
    if (!lock.held()) {
        if (opts.on_progress) {
            opts.on_progress(fmt::format("waiting for another process quantizing {} to {}", source, scheme.name));
        }
        lock = cache.lock(e);
        if (auto hit = try_hit()) {  // the other process made it
            return *hit;
        }
    } else if (!opts.force) {
        if (auto hit = try_hit()) {
            return *hit;
        }
    }

    std::error_code ec;
    fs::remove(e.part_path, ec);  // we hold the lock: any .part is stale
    if (opts.on_progress) {
        opts.on_progress(fmt::format("quantizing {} to {} ({})", source, scheme.name, scheme.weights_key()));
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<TypeFallback> fallbacks;
    try {
        fallbacks = quantize_model(source, e.part_path, scheme, opts);
    } catch (...) {
        fs::remove(e.part_path, ec);
        throw;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    nlohmann::json meta = {
        {"key", key},
        {"scheme", scheme.canonical()},
        {"scheme_name", scheme.name},
        {"source", fs::absolute(source, ec).string()},
        {"source_xxh64", hex64(src_hash)},
        {"imatrix", opts.imatrix_path},
        {"imatrix_xxh64", imatrix_hash},
        {"llama_commit", JOULEBENCH_LLAMA_COMMIT},
        {"quantize_s", seconds},
        {"fallbacks", fallbacks_to_json(fallbacks)},
    };
    write_file_atomic(e.meta_path, meta.dump(2) + "\n");
    fs::rename(e.part_path, e.path);  // the file counts as cached from here on
    lock.release();

    return finish(result_from_file(e.path), false, seconds, std::move(fallbacks));
}

}  // namespace jb
