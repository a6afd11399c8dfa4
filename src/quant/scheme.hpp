#pragma once
// A quantization scheme = weight types (a llama.cpp file type, i.e. a default type plus
// llama.cpp's own per-tensor mixture, plus our per-tensor overrides) + the KV-cache types.
//
// Names accepted by parse_scheme():
//   presets      fp16, bf16, int8 (Q8_0), q6_k, q5_k_m, q4_k_m, iq4_xs, dynamic
//   file types   any llama.cpp ftype by name, case-insensitive: q4_0, q5_k_s, q3_k_m, iq3_xxs, ...
//   suffixes     +kv8 (KV cache Q8_0/Q8_0), +kv4 (Q4_0/Q4_0), +kv16 (F16/F16)
//   files        a path ending in .json: {"name", "default_type", "overrides", "kv", ...}
//
// A scheme whose per-tensor types come from a search (`dynamic`) carries them in
// Scheme::tensor_types (exact tensor name -> type); set them with Scheme::set_tensor_types().

#include <map>
#include <string>
#include <vector>

#include "llama.h"

namespace jb {

// One --tensor-type rule as llama-quantize takes it: an ECMAScript regex searched in the
// tensor name ("ffn_down", "blk\.[0-3]\.attn_v"); the first rule that matches wins.
struct TensorTypeOverride {
    std::string pattern;
    ggml_type type = GGML_TYPE_COUNT;
};

enum class SchemeKind {
    preset,   // a named preset from docs/design.md's table (fp16, int8, q4_k_m, ...)
    ftype,    // any other llama.cpp file type by name
    custom,   // read from a JSON file
    dynamic,  // per-tensor types chosen by a sensitivity search
};

struct Scheme {
    std::string name;    // what the user called it: "int8", "q4_k_m+kv8", the JSON's "name"
    std::string source;  // the JSON file a custom scheme came from; empty otherwise
    SchemeKind kind = SchemeKind::preset;

    llama_ftype ftype = LLAMA_FTYPE_MOSTLY_F16;    // file type passed to llama_model_quantize
    std::vector<TensorTypeOverride> overrides;     // regex rules (custom schemes)
    std::map<std::string, ggml_type> tensor_types; // exact tensor names (dynamic); applied before `overrides`

    ggml_type kv_type_k = GGML_TYPE_F16;
    ggml_type kv_type_v = GGML_TYPE_F16;
    bool allow_slow_kv = false;  // the user accepted a K/V pair without fast CUDA kernels

    // A quantized V cache only works with flash attention in llama.cpp.
    bool flash_attn_required() const;

    // True for `dynamic` until a search has filled tensor_types: it cannot be quantized yet.
    bool needs_tensor_types() const;

    // Sets the per-tensor types a sensitivity search chose (the hook for `dynamic`).
    void set_tensor_types(std::map<std::string, ggml_type> types);

    // The rules handed to llama_model_quantize, in order: tensor_types as anchored exact-name
    // regexes, then `overrides`.
    std::vector<TensorTypeOverride> quantize_rules() const;

    // Everything that decides the bytes of the quantized file, in a fixed order:
    // "ftype=Q4_K_M;tt=ffn_down=q8_0,attn_v=q6_K;t=blk.0.ffn_up.weight=q5_K".
    // Two schemes with equal weights_key() produce the same file (the KV type does not enter).
    std::string weights_key() const;

    // weights_key() plus the KV-cache types: "ftype=Q8_0;kv=q8_0/q8_0". Identifies a scheme
    // in results without its name.
    std::string canonical() const;
};

// Parses a preset or file-type name (with optional +kv suffix) or a path to a JSON scheme.
// Throws jb::UsageError for an unknown name (listing the accepted ones) and jb::InputError
// naming the file and field for a bad JSON scheme.
Scheme parse_scheme(const std::string & name_or_path);

// Parses a JSON scheme from text; `file` is used only in error messages.
Scheme parse_scheme_json(const std::string & json_text, const std::string & file);

// llama.cpp file type by name ("q4_k_m", "Q8_0", "f16", "iq4_xs"; case-insensitive);
// returns false if unknown.
bool ftype_from_name(const std::string & name, llama_ftype & out);
// Canonical upper-case name as llama-quantize prints it ("Q4_K_M"); "?" if unknown.
std::string ftype_name(llama_ftype ftype);
// The type most tensors get under a file type (Q4_K_M -> q4_K); GGML_TYPE_COUNT if unknown.
ggml_type ftype_default_type(llama_ftype ftype);
// All file types accepted by name, in llama-quantize's order.
std::vector<std::string> ftype_names();
// The presets, with a one-line description each.
std::vector<std::pair<std::string, std::string>> scheme_presets();

// ggml type by name ("q8_0", "Q4_K", "f16", "bf16"; case-insensitive); false if unknown.
bool ggml_type_from_name(const std::string & name, ggml_type & out);
std::string type_name(ggml_type type);  // ggml's name ("q4_K"), "?" if out of range
// A KV cache type as llama.cpp's -ctk/-ctv and EngineParams take it: type_name in lower case ("q8_0").
std::string cache_type_name(ggml_type type);

// K/V cache pairs with fast attention kernels in default CUDA builds (docs/design.md):
// f16/f16, bf16/bf16, q8_0/q8_0, q4_0/q4_0.
bool kv_pair_is_fast(ggml_type k, ggml_type v);
// Throws jb::UsageError if llama.cpp cannot use (k, v) as a KV cache at all, or if the pair
// is slow and !allow_slow; `where` prefixes the message (a file or a scheme name).
void check_kv_pair(ggml_type k, ggml_type v, bool allow_slow, const std::string & where);

}  // namespace jb
