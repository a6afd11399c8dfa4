#pragma once
// Engine options shared by every command that loads a model (eval, sweep, run, serve, tune), named
// as llama-bench and llama-cli name them. The text options become EngineParams in resolve().

#include <CLI/CLI.hpp>

#include "joulebench/engine_params.hpp"

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

}  // namespace jb::cli
