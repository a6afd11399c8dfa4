// EngineParams as text: option values in, provenance out. No llama.cpp here.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "joulebench/engine_params.hpp"
#include "joulebench/error.hpp"

namespace jb {

FlashAttn parse_flash_attn(const std::string & text) {
    if (text == "on") return FlashAttn::on;
    if (text == "off") return FlashAttn::off;
    if (text == "auto") return FlashAttn::auto_;
    throw UsageError(fmt::format("--flash-attn: '{}' is not on, off or auto", text));
}

SplitMode parse_split_mode(const std::string & text) {
    if (text == "none") return SplitMode::none;
    if (text == "layer") return SplitMode::layer;
    if (text == "row") return SplitMode::row;
    if (text == "tensor") return SplitMode::tensor;
    throw UsageError(fmt::format("--split-mode: '{}' is not none, layer, row or tensor", text));
}

const char * flash_attn_name(FlashAttn f) {
    return f == FlashAttn::on ? "on" : f == FlashAttn::off ? "off" : "auto";
}

const char * split_mode_name(SplitMode m) {
    switch (m) {
        case SplitMode::none: return "none";
        case SplitMode::row: return "row";
        case SplitMode::tensor: return "tensor";
        case SplitMode::layer: break;
    }
    return "layer";
}

void check_engine_params(const EngineParams & p) {
    if (p.n_threads < 0) throw UsageError("--threads must be >= 0");
    if (p.n_ctx < 16) throw UsageError(fmt::format("--ctx-size {} is too small (at least 16)", p.n_ctx));
    if (p.n_batch < 1 || p.n_ubatch < 1) throw UsageError("--batch-size and --ubatch-size must be >= 1");
    if (p.n_seq_max < 1) throw UsageError("--parallel must be >= 1");
}

std::string engine_config_json(const EngineParams & p) {
    nlohmann::json j = {{"n_gpu_layers", p.n_gpu_layers},
                        {"gpus", p.gpus},
                        {"split_mode", split_mode_name(p.split_mode)},
                        {"main_gpu", p.main_gpu},
                        {"tensor_split", p.tensor_split},
                        {"flash_attn", flash_attn_name(p.flash_attn)},
                        {"type_k", p.type_k},
                        {"type_v", p.type_v},
                        {"n_ctx", p.n_ctx},
                        {"n_batch", p.n_batch},
                        {"n_ubatch", p.n_ubatch},
                        {"n_seq_max", p.n_seq_max},
                        {"kv_unified", kv_unified(p)},
                        {"n_threads", p.n_threads}};
    return j.dump();
}

std::string placement_suffix(const EngineParams & p) {
    std::string out;
    if (!p.gpus.empty()) out += fmt::format("|gpus={}", fmt::join(p.gpus, ","));
    if (p.split_mode != SplitMode::layer) out += fmt::format("|sm={}", split_mode_name(p.split_mode));
    if (!p.tensor_split.empty()) out += fmt::format("|ts={}", fmt::join(p.tensor_split, ","));
    return out;
}

}  // namespace jb
