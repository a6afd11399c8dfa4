#include "quant/gguf_file.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "ggml-cpp.h"
#include "gguf.h"
#include "joulebench/error.hpp"

namespace jb {

double GgufSummary::bpw() const {
    return n_elements > 0 ? 8.0 * (double) tensor_bytes / (double) n_elements : 0.0;
}

std::map<std::string, ggml_type> GgufSummary::tensor_types() const {
    std::map<std::string, ggml_type> out;
    for (const auto & t : tensors) {
        out[t.name] = t.type;
    }
    return out;
}

std::map<std::string, int> GgufSummary::type_counts() const {
    std::map<std::string, int> out;
    for (const auto & t : tensors) {
        out[ggml_type_name(t.type)]++;
    }
    return out;
}

const GgufTensor * GgufSummary::find(const std::string & name) const {
    for (const auto & t : tensors) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

GgufSummary inspect_gguf(const std::string & path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw InputError(path, "no such model file");
    }
    {
        // Every GGUF file starts with the magic "GGUF"; anything else gets named as such.
        char magic[4] = {};
        std::ifstream in(path, std::ios::binary);
        if (!in.read(magic, sizeof magic) || std::string_view(magic, sizeof magic) != "GGUF") {
            throw InputError(path, "not a GGUF file (it does not start with the GGUF magic)");
        }
    }
    gguf_init_params params{/*no_alloc =*/true, /*ctx =*/nullptr};
    gguf_context_ptr ctx(gguf_init_from_file(path.c_str(), params));
    if (!ctx) {
        throw InputError(path, "not a readable GGUF file (its header is damaged or cut short)");
    }

    GgufSummary s;
    s.path = path;
    s.file_bytes = std::filesystem::file_size(path, ec);
    s.data_offset = gguf_get_data_offset(ctx.get());

    if (int64_t k = gguf_find_key(ctx.get(), "general.architecture"); k >= 0 && gguf_get_kv_type(ctx.get(), k) == GGUF_TYPE_STRING) {
        s.architecture = gguf_get_val_str(ctx.get(), k);
    }
    if (int64_t k = gguf_find_key(ctx.get(), "general.name"); k >= 0 && gguf_get_kv_type(ctx.get(), k) == GGUF_TYPE_STRING) {
        s.model_name = gguf_get_val_str(ctx.get(), k);
    }
    if (int64_t k = gguf_find_key(ctx.get(), "general.file_type"); k >= 0) {
        switch (gguf_get_kv_type(ctx.get(), k)) {
            case GGUF_TYPE_UINT32: s.file_type = gguf_get_val_u32(ctx.get(), k); break;
            case GGUF_TYPE_INT32:  s.file_type = gguf_get_val_i32(ctx.get(), k); break;
            default: break;
        }
    }

    uint64_t data_end = 0;
    const int64_t n = gguf_get_n_tensors(ctx.get());
    s.tensors.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
        GgufTensor t;
        t.name = gguf_get_tensor_name(ctx.get(), i);
        t.type = gguf_get_tensor_type(ctx.get(), i);
        const int64_t * ne = gguf_get_tensor_ne(ctx.get(), i);
        t.n_elements = 1;
        t.n_dims = 1;
        for (int d = 0; d < 4; ++d) {
            t.ne[d] = ne[d];
            t.n_elements *= ne[d];
            if (ne[d] != 1) {
                t.n_dims = d + 1;
            }
        }
        t.n_bytes = gguf_get_tensor_size(ctx.get(), i);
        t.offset = gguf_get_tensor_offset(ctx.get(), i);
        data_end = std::max<uint64_t>(data_end, t.offset + t.n_bytes);
        s.n_elements += t.n_elements;
        s.tensor_bytes += t.n_bytes;
        s.tensors.push_back(std::move(t));
    }
    if (n > 0 && s.file_bytes < s.data_offset + data_end) {
        throw InputError(path, fmt::format("truncated: {} bytes, but its tensors end at byte {}", s.file_bytes,
                                           s.data_offset + data_end));
    }
    return s;
}

}  // namespace jb
