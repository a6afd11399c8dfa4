#pragma once
// Synthetic models: real architectures (shapes, hyper-parameters, tokenizer) with seeded
// random weights. Energy and speed depend on a model's shape, not on its training, so these
// stand in for weights nobody here can download. Accuracy on them is chance by construction;
// every file says so in its metadata (joulebench.synthetic = true), and quantized copies
// keep that key.
//
// Weights are written straight to disk tensor by tensor, so memory stays small (a few tens
// of MB) even for a 15 GB 7B F16 file.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ggml.h"

namespace jb {

struct SynthShape {
    std::string name;         // "qwen2.5-7b"
    std::string description;  // the model it copies: "Qwen2.5-7B-Instruct"
    std::string arch;         // llama.cpp architecture (general.architecture): "qwen2", "llama"
    std::string vocab_file;   // tokenizer source in llama.cpp's models/: "ggml-vocab-qwen2.gguf"
    uint32_t n_vocab = 0;     // token_embd rows (the tokenizer is padded to it, as the HF converter does)
    uint32_t n_embd = 0;
    uint32_t n_layer = 0;
    uint32_t n_head = 0;
    uint32_t n_head_kv = 0;
    uint32_t n_ff = 0;
    uint32_t n_ctx_train = 0;
    float rope_freq_base = 10000.0f;
    float rms_eps = 1e-5f;
    bool tied_embeddings = false;  // no output.weight: the output projection reuses token_embd
    bool qkv_bias = false;         // attn_q/k/v biases (Qwen2)

    uint32_t head_dim() const { return n_head ? n_embd / n_head : 0; }
    int64_t n_params() const;  // weights in all tensors
};

// The shapes joulebench knows, in the order `synth --list` prints them.
const std::vector<SynthShape> & synth_shapes();
// Case-insensitive lookup; throws jb::UsageError listing the known names.
const SynthShape & find_synth_shape(const std::string & name);

// A smaller model of the same family for fast tests: `n_layers` (0: keep) layers, widths
// times `scale` (0 < scale <= 1) keeping head_dim and the GQA ratio (so n_head_kv =
// max(1, round(n_head_kv * scale)), n_head = n_head_kv * gqa, n_embd = n_head * head_dim)
// and n_ff = max(256, round(n_ff * scale / 256) * 256) (k-quant blocks stay whole).
// The vocabulary is never scaled. Throws jb::UsageError for a bad value.
SynthShape scale_shape(const SynthShape & shape, uint32_t n_layers, double scale);

struct SynthOptions {
    uint64_t seed = 0;
    uint32_t n_layers = 0;             // 0: the shape's own
    double scale = 1.0;                // width factor, see scale_shape()
    ggml_type type = GGML_TYPE_F16;    // 2-D weights: F16, BF16 or F32 (1-D tensors are always F32)
    std::string vocab_dir;             // empty: $JOULEBENCH_VOCAB_DIR, else llama.cpp's models/
    int n_threads = 0;                 // random generation; 0: up to 4 hardware threads
};

struct SynthResult {
    std::string path;
    SynthShape shape;         // after --layers/--scale
    uint64_t file_bytes = 0;
    int64_t n_params = 0;
    std::string vocab_path;   // where the tokenizer came from
};

// Writes the model to `out_path` (through `out_path.part`, renamed when complete).
// Throws jb::UsageError for bad options and jb::InputError for a missing vocabulary file.
SynthResult write_synthetic_model(const SynthShape & shape, const std::string & out_path, const SynthOptions & opts = {});
SynthResult write_synthetic_model(const std::string & shape_name, const std::string & out_path, const SynthOptions & opts = {});

// The vocabulary directory that write_synthetic_model() would use for `vocab_dir`.
std::string resolve_vocab_dir(const std::string & vocab_dir);

struct SynthInfo {
    std::string shape;   // joulebench.synth.arch, e.g. "qwen2.5-7b"
    uint64_t seed = 0;
    double scale = 1.0;
    uint32_t n_layer = 0;
};

// The joulebench.synth.* keys of a GGUF file, or nullopt for a real (non-synthetic) model.
// Throws jb::InputError if the file is not a readable GGUF.
std::optional<SynthInfo> read_synth_info(const std::string & path);
bool is_synthetic_model(const std::string & path);

// Metadata keys (kept by llama_model_quantize, so quantized copies are flagged too).
inline constexpr const char * k_key_synthetic = "joulebench.synthetic";
inline constexpr const char * k_key_synth_arch = "joulebench.synth.arch";
inline constexpr const char * k_key_synth_seed = "joulebench.synth.seed";
inline constexpr const char * k_key_synth_scale = "joulebench.synth.scale";
inline constexpr const char * k_key_synth_layers = "joulebench.synth.layers";

}  // namespace jb
