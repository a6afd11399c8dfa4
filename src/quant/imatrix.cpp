#include "quant/imatrix.hpp"

#include <cmath>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "ggml-cpp.h"
#include "gguf.h"
#include "joulebench/error.hpp"

namespace jb {

namespace {

bool has_gguf_magic(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    return in && std::memcmp(magic, GGUF_MAGIC, 4) == 0;
}

bool strip_suffix(std::string & s, const std::string & suffix) {
    if (s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0) {
        s.resize(s.size() - suffix.size());
        return true;
    }
    return false;
}

Imatrix load_legacy(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw InputError(path, "cannot open imatrix file");
    }
    Imatrix im;
    int32_t n_entries = 0;
    in.read((char *) &n_entries, sizeof(n_entries));
    if (!in || n_entries < 1) {
        throw InputError(path, "not an imatrix file (neither GGUF nor the legacy format)");
    }
    for (int32_t i = 0; i < n_entries; ++i) {
        int32_t len = 0;
        in.read((char *) &len, sizeof(len));
        if (!in || len <= 0 || len > 4096) {
            throw InputError(path, 0, fmt::format("entry {}", i), "bad name length");
        }
        std::string name(len, '\0');
        in.read(name.data(), len);
        int32_t ncall = 0, nval = 0;
        in.read((char *) &ncall, sizeof(ncall));
        in.read((char *) &nval, sizeof(nval));
        if (!in || nval < 1) {
            throw InputError(path, 0, name, "bad value count");
        }
        std::vector<float> v(nval);
        in.read((char *) v.data(), (std::streamsize) (nval * sizeof(float)));
        if (!in) {
            throw InputError(path, 0, name, "truncated");
        }
        // legacy sums hold (sum/count)*ncall: divide by ncall (tools/quantize/quantize.cpp)
        if (ncall > 0) {
            for (auto & x : v) {
                x /= (float) ncall;
            }
        }
        im.entries[name] = std::move(v);
    }
    int32_t n_chunks = 0;
    if (in.read((char *) &n_chunks, sizeof(n_chunks))) {
        im.chunk_count = n_chunks;
        int32_t len = 0;
        if (in.read((char *) &len, sizeof(len)) && len > 0 && len < 65536) {
            std::string ds(len, '\0');
            if (in.read(ds.data(), len)) {
                im.datasets.push_back(ds);
            }
        }
    }
    return im;
}

}  // namespace

Imatrix load_imatrix(const std::string & path) {
    if (!has_gguf_magic(path)) {
        return load_legacy(path);
    }
    ggml_context * raw_ctx = nullptr;
    gguf_init_params params{/*no_alloc =*/false, /*ctx =*/&raw_ctx};
    gguf_context_ptr gctx(gguf_init_from_file(path.c_str(), params));
    ggml_context_ptr ctx(raw_ctx);
    if (!gctx) {
        throw InputError(path, "not a readable GGUF imatrix file");
    }

    Imatrix im;
    if (int64_t k = gguf_find_key(gctx.get(), "imatrix.datasets");
        k >= 0 && gguf_get_kv_type(gctx.get(), k) == GGUF_TYPE_ARRAY && gguf_get_arr_type(gctx.get(), k) == GGUF_TYPE_STRING) {
        for (size_t i = 0; i < gguf_get_arr_n(gctx.get(), k); ++i) {
            im.datasets.emplace_back(gguf_get_arr_str(gctx.get(), k, i));
        }
    }
    if (int64_t k = gguf_find_key(gctx.get(), "imatrix.chunk_count"); k >= 0 && gguf_get_kv_type(gctx.get(), k) == GGUF_TYPE_UINT32) {
        im.chunk_count = (int) gguf_get_val_u32(gctx.get(), k);
    }

    std::map<std::string, std::pair<ggml_tensor *, ggml_tensor *>> sums_counts;
    for (ggml_tensor * t = ggml_get_first_tensor(ctx.get()); t; t = ggml_get_next_tensor(ctx.get(), t)) {
        std::string name = t->name;
        if (strip_suffix(name, ".in_sum2")) {
            sums_counts[name].first = t;
        } else if (strip_suffix(name, ".counts")) {
            sums_counts[name].second = t;
        }
    }
    if (sums_counts.empty()) {
        throw InputError(path, "no imatrix entries (expected <tensor>.in_sum2 and <tensor>.counts tensors)");
    }
    for (const auto & [name, sc] : sums_counts) {
        const auto [sums, counts] = sc;
        if (!sums || !counts) {
            throw InputError(path, 0, name, "has in_sum2 without counts or counts without in_sum2");
        }
        if (sums->type != GGML_TYPE_F32 || counts->type != GGML_TYPE_F32) {
            throw InputError(path, 0, name, "in_sum2 and counts must be F32");
        }
        const int64_t nval = ggml_nelements(sums);
        const int64_t ncounts = ggml_nelements(counts);
        if (ncounts < 1 || nval % ncounts != 0) {
            throw InputError(path, 0, name, fmt::format("{} sums do not split into {} experts", nval, ncounts));
        }
        const int64_t ne0 = nval / ncounts;
        const float * s = (const float *) sums->data;
        const float * c = (const float *) counts->data;
        std::vector<float> v(nval);
        for (int64_t j = 0; j < ncounts; ++j) {
            const float count = std::round(c[j]);
            for (int64_t i = 0; i < ne0; ++i) {
                v[j * ne0 + i] = count > 0.0f ? s[j * ne0 + i] / count : 1.0f;
            }
        }
        for (float x : v) {
            if (!std::isfinite(x)) {
                throw InputError(path, 0, name, "contains a non-finite value");
            }
        }
        im.entries[name] = std::move(v);
    }
    return im;
}

void save_imatrix_gguf(const Imatrix & im, const std::string & path) {
    size_t mem = ggml_tensor_overhead() * (2 * im.entries.size() + 1);
    for (const auto & [_, v] : im.entries) {
        mem += (v.size() + 1) * sizeof(float) + 64;
    }
    ggml_init_params ip{mem, nullptr, /*no_alloc =*/false};
    ggml_context_ptr ctx(ggml_init(ip));
    gguf_context_ptr gctx(gguf_init_empty());
    gguf_set_val_str(gctx.get(), "general.type", "imatrix");
    std::vector<const char *> ds;
    for (const auto & d : im.datasets) {
        ds.push_back(d.c_str());
    }
    gguf_set_arr_str(gctx.get(), "imatrix.datasets", ds.data(), ds.size());
    gguf_set_val_u32(gctx.get(), "imatrix.chunk_count", (uint32_t) im.chunk_count);
    gguf_set_val_u32(gctx.get(), "imatrix.chunk_size", 512);
    for (const auto & [name, v] : im.entries) {
        ggml_tensor * sums = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, (int64_t) v.size());
        ggml_set_name(sums, (name + ".in_sum2").c_str());
        std::memcpy(sums->data, v.data(), v.size() * sizeof(float));
        ggml_tensor * counts = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, 1);
        ggml_set_name(counts, (name + ".counts").c_str());
        ((float *) counts->data)[0] = 1.0f;
        gguf_add_tensor(gctx.get(), sums);
        gguf_add_tensor(gctx.get(), counts);
    }
    if (!gguf_write_to_file(gctx.get(), path.c_str(), /*only_meta =*/false)) {
        throw InputError(path, "cannot write imatrix file");
    }
}

}  // namespace jb
