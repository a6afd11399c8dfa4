#pragma once
// The engine settings a run uses (llama.cpp's context and model parameters, named as llama-bench
// names them). Plain data: a program fills one, and every runner (eval, sweep, serve, tune) takes it.

#include <string>
#include <vector>

namespace jb {

enum class FlashAttn { auto_, on, off };
// How a model spans several GPUs (llama_split_mode): one GPU, whole layers per GPU (pipelined),
// rows of each weight per GPU (backends with split buffers only; CUDA dropped them upstream), or
// llama.cpp's tensor parallelism (weights and KV cache split, all-reduce between GPUs; needs flash
// attention).
enum class SplitMode { none, layer, row, tensor };

struct EngineParams {
    std::string model_path;
    int n_gpu_layers = 99;   // layers offloaded to the GPU (ignored by a CPU-only build)
    int n_threads = 0;       // 0 = all hardware threads
    int n_ctx = 8192;        // KV cells shared by all sequences of one wave
    int n_batch = 2048;      // tokens per llama_decode call
    int n_ubatch = 512;      // physical batch
    int n_seq_max = 64;      // sequences evaluated side by side
    FlashAttn flash_attn = FlashAttn::auto_;
    std::string type_k = "f16";  // KV-cache types: f16, bf16, q8_0, q4_0, ...
    std::string type_v = "f16";
    SplitMode split_mode = SplitMode::layer;
    int main_gpu = 0;
    std::vector<float> tensor_split;  // share of the model per GPU (empty = llama.cpp's default)
    std::vector<int> gpus;            // GPUs to use, as llama.cpp numbers them (empty = all)
    bool verbose = false;             // pass llama.cpp's log through to stderr
};

EngineParams engine_default_params();

// Whether the engine's context shares one KV pool among its sequences: only for more than one.
// A shared pool lets a common prefix be copied by tagging cells, but makes llama.cpp check every
// decode call against all 256 possible sequences, which a single sequence need not pay for.
inline bool kv_unified(const EngineParams & p) { return p.n_seq_max > 1; }

// "on", "off", "auto" / "none", "layer", "row", "tensor"; throws jb::UsageError naming the option.
FlashAttn parse_flash_attn(const std::string & text);
SplitMode parse_split_mode(const std::string & text);
const char * flash_attn_name(FlashAttn f);
const char * split_mode_name(SplitMode m);
// Throws jb::UsageError naming the option for values llama.cpp cannot take (threads < 0, a context
// under 16 cells, batches or sequences < 1).
void check_engine_params(const EngineParams & p);

// The engine's placement and sizes (GPUs, split mode, tensor split, offload, flash attention, KV
// types, context and batches) as JSON, for a result's provenance.
std::string engine_config_json(const EngineParams & p);
// "" for the default placement (every GPU, layer split, llama.cpp's shares); otherwise a suffix
// like "|gpus=0,1|sm=row" that keeps runs on other placements apart in the store.
std::string placement_suffix(const EngineParams & p);

// The settings `joulebench tune` searches (context, batch and micro-batch sizes, sequences, flash
// attention, threads, KV types) as a workload-fingerprint suffix in the manner of placement_suffix:
// "|tune=c:8192,b:2048,ub:512,np:1,fa:auto,t:0,kv:f16/f16". Every searched setting is written, so
// a trial's cells stay apart from default cells and from other settings' in the store, and the
// suffix alone gives the settings back (apply_settings_suffix).
std::string settings_suffix(const EngineParams & p);
// The settings of the first "|tune=..." part of `workload_fp` applied to p; false (p untouched) when
// there is none. Throws jb::InputError naming the fingerprint for a part it cannot read.
bool apply_settings_suffix(const std::string & workload_fp, EngineParams & p);
// "b 512, ub 256, np 1, fa on, 4 threads, KV f16/f16": the searched settings, for people.
std::string settings_label(const EngineParams & p);
// The suffix of a cell run with the best settings `joulebench tune` stored for it (sweep --engine
// tuned): one marker for every scheme, so tuned cells of several schemes still compare.
inline constexpr const char * kTunedSuffix = "|engine=tuned";
// Whether two parameter sets load the same model the same way (file, offload, placement), so that
// an engine of one can take the other's context settings without loading the model again.
bool same_model_load(const EngineParams & a, const EngineParams & b);

}  // namespace jb
