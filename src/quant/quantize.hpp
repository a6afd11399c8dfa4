#pragma once
// Quantizing a GGUF model to a scheme through llama.cpp's llama_model_quantize, and the
// cache-aware entry point the rest of joulebench uses: quantize_cached() returns the file
// for (source, scheme), quantizing it only the first time.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "quant/scheme.hpp"

namespace jb {

struct QuantizeOptions {
    int n_threads = 0;         // 0: all hardware threads
    std::string imatrix_path;  // optional importance matrix (llama-imatrix output)
    std::string cache_dir;     // empty: default_cache_dir()
    bool force = false;        // quantize again even if cached
    bool verbose = false;      // pass llama.cpp's log through to stderr
    std::function<void(const std::string &)> on_progress;  // "quantizing ...", "waiting for ..." (CLI: stderr)
};

// A tensor llama.cpp could not give the type its mixture (or an override) asked for because
// its row length (ne[0]) is not a multiple of the type's block size.
struct TypeFallback {
    std::string tensor;
    ggml_type wanted = GGML_TYPE_COUNT;
    ggml_type used = GGML_TYPE_COUNT;
};

struct SchemeResult {
    std::string scheme;          // Scheme::canonical(): weight types + KV types
    std::string scheme_name;     // as the user named it
    std::string path;            // the quantized GGUF
    std::string source_path;
    std::string source_xxh64;    // content hash of the source (hex); empty when is_source
    uint64_t file_bytes = 0;
    double bpw = 0.0;            // 8 * tensor bytes / weights, over all tensors
    int64_t n_params = 0;
    std::map<std::string, ggml_type> tensor_types;  // every tensor's type, exactly
    std::vector<TypeFallback> fallbacks;            // llama.cpp's shape fallbacks
    bool cache_hit = false;
    bool is_source = false;      // the source already had the scheme's types (fp16 of an F16 model): path = source
    double quantize_s = 0.0;     // time spent quantizing in this call (0 on a hit)

    std::map<std::string, int> type_counts() const;  // ggml type name -> tensor count
};

// Quantizes `source` into `dest` (written in place; no cache, no lock). Returns llama.cpp's
// shape fallbacks. Throws jb::InputError for an unusable source, jb::UsageError for a scheme
// that cannot be applied (e.g. one that needs an imatrix), jb::RuntimeFailure otherwise.
std::vector<TypeFallback> quantize_model(const std::string & source, const std::string & dest,
                                         const Scheme & scheme, const QuantizeOptions & opts = {});

// The quantized file for (source, scheme) from the cache, quantizing on a miss. Safe to call
// from several processes at once: one quantizes, the others wait and get a hit.
SchemeResult quantize_cached(const std::string & source, const Scheme & scheme, const QuantizeOptions & opts = {});

// Describes an existing GGUF (no quantization): path, size, bpw, tensor types.
SchemeResult describe_model(const std::string & path);

}  // namespace jb
