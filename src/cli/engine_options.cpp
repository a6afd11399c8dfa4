#include "cli/engine_options.hpp"

#include <fmt/format.h>

#include "joulebench/error.hpp"
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
    p.flash_attn = parse_flash_attn(flash_attn);
    p.split_mode = parse_split_mode(split_mode);
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
            const std::optional<int> g = parse_int(part);
            if (!g || *g < 0) throw UsageError(fmt::format("--gpus: '{}' is not a list of GPU numbers like 0,1", gpus));
            p.gpus.push_back(*g);
        }
    }
    check_engine_params(p);
    return p;
}

}  // namespace jb::cli
