#include "cli/dynamic_plan.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "cli/eval.hpp"
#include "engine/llama_engine.hpp"
#include "util/error.hpp"

namespace jb::cli {

std::string dynamic_plan_source(const std::string & model, const std::string & dynamic_from) {
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
    fmt::print(stderr, "dynamic: {} is synthetic (random weights): using the plan measured on {} by relative depth "
                       "(--dynamic-from to choose another)\n", model, shipped);
    return shipped;
}

}  // namespace jb::cli
