#include "cli/engine_options.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/strings.hpp"

namespace jb::cli {

void add_engine_options(CLI::App * cmd, EngineOptions & o) {
    auto & p = o.params;
    cmd->add_option("--ngl,--n-gpu-layers", p.n_gpu_layers, "Layers to offload to the GPU (CUDA builds)")
        ->capture_default_str();
    cmd->add_option("-t,--threads", p.n_threads, "CPU threads (0 = all hardware threads)")->capture_default_str();
    cmd->add_option("-c,--ctx-size", p.n_ctx, "KV-cache cells shared by the sequences evaluated together")
        ->capture_default_str();
    cmd->add_option("-b,--batch-size", p.n_batch, "Tokens per llama_decode call")->capture_default_str();
    cmd->add_option("--ub,--ubatch-size", p.n_ubatch, "Physical batch size")->capture_default_str();
    cmd->add_option("--np,--parallel", p.n_seq_max, "Sequences evaluated side by side")->capture_default_str();
    cmd->add_option("--fa,--flash-attn", o.flash_attn, "Flash attention: on, off or auto")->capture_default_str();
    cmd->add_option("--ctk,--cache-type-k", p.type_k, "KV cache type for K (f16, bf16, q8_0, q4_0)")
        ->capture_default_str();
    cmd->add_option("--ctv,--cache-type-v", p.type_v, "KV cache type for V (a quantized V needs flash attention)")
        ->capture_default_str();
    cmd->add_option("--sm,--split-mode", o.split_mode,
                    "Multi-GPU split: none (one GPU), layer (whole layers per GPU), row (rows of each weight; "
                    "backends with split buffers only, not CUDA in llama.cpp de3ff81) or tensor (tensor "
                    "parallelism, needs flash attention)")->capture_default_str();
    cmd->add_option("--mg,--main-gpu", p.main_gpu, "GPU for the whole model with --split-mode none")
        ->capture_default_str();
    cmd->add_option("--ts,--tensor-split", o.tensor_split, "Share of the model per GPU, e.g. 3,1");
    cmd->add_option("--gpus", o.gpus, "GPUs to run on, as llama.cpp numbers them, e.g. 0,1 (default: all); only "
                                      "their energy is metered");
    cmd->add_flag("--verbose", p.verbose, "Show llama.cpp's log");
}

EngineParams EngineOptions::resolve(const std::string & model_path) const {
    EngineParams p = params;
    p.model_path = model_path;
    if (flash_attn == "on") {
        p.flash_attn = FlashAttn::on;
    } else if (flash_attn == "off") {
        p.flash_attn = FlashAttn::off;
    } else if (flash_attn == "auto") {
        p.flash_attn = FlashAttn::auto_;
    } else {
        throw UsageError(fmt::format("--flash-attn: '{}' is not on, off or auto", flash_attn));
    }
    if (split_mode == "none") {
        p.split_mode = SplitMode::none;
    } else if (split_mode == "layer") {
        p.split_mode = SplitMode::layer;
    } else if (split_mode == "row") {
        p.split_mode = SplitMode::row;
    } else if (split_mode == "tensor") {
        p.split_mode = SplitMode::tensor;
    } else {
        throw UsageError(fmt::format("--split-mode: '{}' is not none, layer, row or tensor", split_mode));
    }
    p.tensor_split.clear();
    if (!tensor_split.empty()) {
        for (const auto & part : split_list(tensor_split, "--tensor-split")) {
            try {
                size_t used = 0;
                float v = std::stof(part, &used);
                if (used != part.size() || v < 0) throw std::invalid_argument(part);
                p.tensor_split.push_back(v);
            } catch (const std::exception &) {
                throw UsageError(fmt::format("--tensor-split: '{}' is not a list of non-negative numbers", tensor_split));
            }
        }
    }
    p.gpus.clear();
    if (!gpus.empty()) {
        for (const auto & part : split_list(gpus, "--gpus")) {
            size_t used = 0;
            int g = -1;
            try {
                g = std::stoi(part, &used);
            } catch (const std::exception &) {
            }
            if (g < 0 || used != part.size()) {
                throw UsageError(fmt::format("--gpus: '{}' is not a list of GPU numbers like 0,1", gpus));
            }
            p.gpus.push_back(g);
        }
    }
    if (p.n_threads < 0) throw UsageError("--threads must be >= 0");
    if (p.n_ctx < 16) throw UsageError(fmt::format("--ctx-size {} is too small (at least 16)", p.n_ctx));
    if (p.n_batch < 1 || p.n_ubatch < 1) throw UsageError("--batch-size and --ubatch-size must be >= 1");
    if (p.n_seq_max < 1) throw UsageError("--parallel must be >= 1");
    return p;
}

static const char * split_mode_name(SplitMode m) {
    switch (m) {
        case SplitMode::none: return "none";
        case SplitMode::row: return "row";
        case SplitMode::tensor: return "tensor";
        case SplitMode::layer: break;
    }
    return "layer";
}

std::string engine_config_json(const EngineParams & p) {
    nlohmann::json j = {{"n_gpu_layers", p.n_gpu_layers},
                        {"gpus", p.gpus},
                        {"split_mode", split_mode_name(p.split_mode)},
                        {"main_gpu", p.main_gpu},
                        {"tensor_split", p.tensor_split},
                        {"flash_attn", p.flash_attn == FlashAttn::on ? "on" : p.flash_attn == FlashAttn::off ? "off" : "auto"},
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

}  // namespace jb::cli
