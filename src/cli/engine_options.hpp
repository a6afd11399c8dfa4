#pragma once
// Engine options shared by every command that loads a model (eval, sweep, run), named as
// llama-bench and llama-cli name them.

#include <CLI/CLI.hpp>

#include "engine/llama_engine.hpp"

namespace jb::cli {

struct EngineOptions {
    EngineParams params = engine_default_params();
    std::string flash_attn = "auto";
    std::string split_mode = "layer";
    std::string tensor_split;  // "3,1"
    std::string gpus;          // "0,1"

    // Validates and converts the text options into params; throws UsageError naming the option.
    EngineParams resolve(const std::string & model_path) const;
};

void add_engine_options(CLI::App * cmd, EngineOptions & o);

// The engine's placement (GPUs, split mode, tensor split, offload, flash attention, KV types) as
// JSON, for a result's provenance.
std::string engine_config_json(const EngineParams & p);
// "" for the default placement (every GPU, layer split, llama.cpp's shares); otherwise a suffix
// like "|gpus=0,1|sm=row" that keeps runs on other placements apart in the store.
std::string placement_suffix(const EngineParams & p);

}  // namespace jb::cli
