#pragma once
// What a GGUF file holds, read through ggml's gguf API (header only; no tensor data is
// loaded): tensor names, types, shapes and byte sizes, bits per weight, file size.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ggml.h"

namespace jb {

struct GgufTensor {
    std::string name;
    ggml_type type = GGML_TYPE_F32;
    std::array<int64_t, 4> ne{1, 1, 1, 1};  // ggml order: ne[0] = row length (columns)
    int n_dims = 1;
    int64_t n_elements = 0;
    uint64_t n_bytes = 0;
    uint64_t offset = 0;  // within the data section
};

struct GgufSummary {
    std::string path;
    uint64_t file_bytes = 0;
    uint64_t data_offset = 0;      // where tensor data starts
    std::string architecture;      // general.architecture
    std::string model_name;        // general.name
    int64_t file_type = -1;        // general.file_type (a llama_ftype), -1 if absent
    std::vector<GgufTensor> tensors;  // in file order
    int64_t n_elements = 0;        // weights in all tensors
    uint64_t tensor_bytes = 0;     // bytes of all tensors (without alignment padding)

    // Bits per weight over all tensors, as llama.cpp reports it: 8 * tensor_bytes / n_elements.
    double bpw() const;
    std::map<std::string, ggml_type> tensor_types() const;
    // Tensor count per ggml type name ("f32" -> 11, "q8_0" -> 30).
    std::map<std::string, int> type_counts() const;
    const GgufTensor * find(const std::string & name) const;
};

// Reads a GGUF file's header. Throws jb::InputError if the file is missing, not GGUF, or
// shorter than its tensor table says (a truncated or half-written file).
GgufSummary inspect_gguf(const std::string & path);

}  // namespace jb
