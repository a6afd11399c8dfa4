// EngineParams as text: option values in, provenance out. No llama.cpp here.

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "joulebench/engine_params.hpp"
#include "joulebench/error.hpp"
#include "util/strings.hpp"

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

std::string settings_suffix(const EngineParams & p) {
    return fmt::format("|tune=c:{},b:{},ub:{},np:{},fa:{},t:{},kv:{}/{}", p.n_ctx, p.n_batch, p.n_ubatch, p.n_seq_max,
                       flash_attn_name(p.flash_attn), p.n_threads, p.type_k, p.type_v);
}

bool apply_settings_suffix(const std::string & workload_fp, EngineParams & p) {
    const std::string marker = "|tune=";
    const size_t at = workload_fp.find(marker);
    if (at == std::string::npos) return false;
    const size_t begin = at + marker.size();
    const size_t end = workload_fp.find('|', begin);
    const std::string body = workload_fp.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    EngineParams out = p;
    auto bad = [&](const std::string & why) {
        return InputError(workload_fp, fmt::format("engine settings '{}': {}", body, why));
    };
    size_t pos = 0;
    while (pos <= body.size()) {
        const size_t comma = std::min(body.find(',', pos), body.size());
        const std::string part = body.substr(pos, comma - pos);
        const size_t colon = part.find(':');
        if (colon == std::string::npos) throw bad(fmt::format("'{}' is not KEY:VALUE", part));
        const std::string key = part.substr(0, colon), value = part.substr(colon + 1);
        auto number = [&] {
            const std::optional<int> v = parse_int(value);
            if (!v || *v < 0) throw bad(fmt::format("{}: '{}' is not a count", key, value));
            return *v;
        };
        if (key == "c") {
            out.n_ctx = number();
        } else if (key == "b") {
            out.n_batch = number();
        } else if (key == "ub") {
            out.n_ubatch = number();
        } else if (key == "np") {
            out.n_seq_max = number();
        } else if (key == "t") {
            out.n_threads = number();
        } else if (key == "fa") {
            if (value != "on" && value != "off" && value != "auto") throw bad("fa: '" + value + "' is not on, off or auto");
            out.flash_attn = parse_flash_attn(value);
        } else if (key == "kv") {
            const size_t slash = value.find('/');
            if (slash == std::string::npos || slash == 0 || slash + 1 == value.size()) {
                throw bad("kv: '" + value + "' is not K/V");
            }
            out.type_k = value.substr(0, slash);
            out.type_v = value.substr(slash + 1);
        } else {
            throw bad(fmt::format("unknown setting '{}'", key));
        }
        pos = comma + 1;
    }
    p = out;
    return true;
}

std::string settings_label(const EngineParams & p) {
    return fmt::format("c {}, b {}, ub {}, np {}, fa {}, {}, KV {}/{}", p.n_ctx, p.n_batch, p.n_ubatch, p.n_seq_max,
                       flash_attn_name(p.flash_attn),
                       p.n_threads > 0 ? fmt::format("{} thread{}", p.n_threads, p.n_threads == 1 ? "" : "s")
                                       : std::string("all threads"),
                       p.type_k, p.type_v);
}

bool same_model_load(const EngineParams & a, const EngineParams & b) {
    return a.model_path == b.model_path && a.n_gpu_layers == b.n_gpu_layers && a.split_mode == b.split_mode &&
           a.main_gpu == b.main_gpu && a.tensor_split == b.tensor_split && a.gpus == b.gpus;
}

}  // namespace jb
