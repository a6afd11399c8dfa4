#include "quant/dynamic_plan.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "engine/llama_engine.hpp"
#include "joulebench/error.hpp"
#include "util/paths.hpp"

namespace jb {

std::string dynamic_plan_source(const std::string & model, const std::string & dynamic_from, std::string * note) {
    if (!dynamic_from.empty()) {
        if (!std::filesystem::is_regular_file(dynamic_from)) {
            throw InputError(dynamic_from, "--dynamic-from: no such model file");
        }
        return dynamic_from;
    }
    if (!gguf_is_synthetic(model)) {
        return "";
    }
    const std::string shipped = shipped_path("models/stories260K.gguf");
    if (!std::filesystem::is_regular_file(shipped)) {
        throw InputError(model, "dynamic on a synthetic model needs a real model's plan: pass --dynamic-from MODEL.gguf");
    }
    if (note) {
        *note = fmt::format("dynamic: {} is synthetic (random weights): using the plan measured on {} by relative "
                            "depth (--dynamic-from to choose another)", model, shipped);
    }
    return shipped;
}

}  // namespace jb
