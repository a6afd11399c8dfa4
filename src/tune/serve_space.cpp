#include "tune/serve_space.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "joulebench/error.hpp"
#include "serve/tuned.hpp"

namespace jb::tune {

namespace {

int cells_per_slot(const ServeServerOptions & o) {
    return o.ctx_size > 0 && o.parallel > 0 ? o.ctx_size / o.parallel : 0;
}

std::string value_of(const ServeServerOptions & o, const std::string & axis) {
    if (axis == "np") return std::to_string(o.parallel);
    if (axis == "b") return std::to_string(o.batch_size);
    if (axis == "ub") return std::to_string(o.ubatch_size);
    if (axis == "t") return std::to_string(o.threads);
    if (axis == "fa") return o.flash_attn;
    if (axis == "kv") return o.cache_type_k + "/" + o.cache_type_v;
    const int cps = cells_per_slot(o);  // cps
    return cps > 0 ? std::to_string(cps) : "auto";
}

// Applies one axis's value; `cps` keeps the cells per slot until the slots are known.
void set_value(ServeServerOptions & o, const std::string & axis, const std::string & value, int & cps) {
    if (axis == "np") {
        o.parallel = count_of(axis, value);
    } else if (axis == "b") {
        o.batch_size = count_of(axis, value);
    } else if (axis == "ub") {
        o.ubatch_size = count_of(axis, value);
    } else if (axis == "t") {
        o.threads = count_of(axis, value);
    } else if (axis == "fa") {
        o.flash_attn = fa_of(value);
    } else if (axis == "kv") {
        std::tie(o.cache_type_k, o.cache_type_v) = kv_of(value);
    } else if (axis == "cps") {
        cps = value == "auto" ? 0 : count_of(axis, value);
    } else if (axis == "c") {
        throw UsageError("--axis c: a served load's context is per slot: --axis cps=2048,4096 (or auto)");
    } else {
        throw UsageError(fmt::format("--axis {}: not a llama-server setting (np, b, ub, fa, t, kv, cps)", axis));
    }
}

}  // namespace

Space build_serve_space(const ServeSpaceInput & in) {
    const ServeServerOptions & d = in.defaults;
    std::vector<Axis> axes;
    auto add = [&](const std::string & name, std::vector<std::string> values) {
        if (!values.empty()) axes.push_back({name, std::move(values)});
    };
    // Slots first: how many requests share a decode step sets the batch width of every output
    // token, which is most of a served level's energy; fewer slots than clients queue requests (the
    // SLO decides whether that is allowed), more leave slots idle.
    const int c = std::max(1, d.parallel);
    add("np", counts({std::max(1, c / 4), std::max(1, c / 2), c, 2 * c}, 1 << 30, d.parallel));
    // Then the prompt side: the micro-batch sets the GEMM shape of prefill, the batch how a prompt
    // is cut into calls.
    add("ub", counts({128, 256, 512, 1024, 2048}, 1 << 30, d.ubatch_size));
    add("b", counts({512, 1024, 2048, 4096}, 1 << 30, d.batch_size));
    if (!in.flash_attn_fixed) add("fa", {"auto", "on", "off"});
    if (!in.on_gpu) {
        std::vector<int> t = {0};
        for (int n = 1; n < in.hardware_threads; n *= 2) t.push_back(n);
        add("t", counts(t, 1 << 30, d.threads));
    }
    if (in.search_kv) {
        std::vector<std::string> kv = {d.cache_type_k + "/" + d.cache_type_v};
        if (kv.front() != "q8_0/q8_0") kv.push_back("q8_0/q8_0");
        add("kv", kv);
    }
    for (const auto & o : in.overrides) {
        ServeServerOptions check = d;
        int cps = 0;
        for (const auto & v : o.values) set_value(check, o.name, v, cps);  // throws for a non-server axis
    }
    return finish_space(std::move(axes), in.overrides, [&](const std::string & axis) { return value_of(d, axis); });
}

bool serve_point_of(const Space & space, const ServeServerOptions & o, const ServeServerOptions & defaults,
                    Point & out) {
    Point point;
    if (!point_with(
            space, [&](const std::string & axis) { return value_of(o, axis); }, point))
        return false;
    // The settings no axis covers must be the defaults'.
    if (serve::settings_suffix(apply_serve_point(space, point, defaults)) != serve::settings_suffix(o)) return false;
    out = std::move(point);
    return true;
}

ServeServerOptions apply_serve_point(const Space & space, const Point & p, const ServeServerOptions & defaults) {
    ServeServerOptions out = defaults;
    int cps = cells_per_slot(defaults);
    for (size_t a = 0; a < space.axes.size(); ++a)
        set_value(out, space.axes[a].name, space.axes[a].values[size_t(p[a])], cps);
    out.ctx_size = cps > 0 ? cps * std::max(1, out.parallel) : 0;
    return out;
}

bool serve_runnable(const ServeServerOptions & o) {
    if (o.batch_size > 0 && o.ubatch_size > o.batch_size) return false;
    if (quantized_cache(o.cache_type_v) && o.flash_attn == "off") return false;
    return o.parallel >= 1;
}

std::string serve_settings_label(const ServeServerOptions & o) {
    return fmt::format("np {}, b {}, ub {}, fa {}, {}, KV {}/{}, ctx/slot {}", o.parallel, o.batch_size, o.ubatch_size,
                       o.flash_attn,
                       o.threads > 0 ? fmt::format("{} thread{}", o.threads, o.threads == 1 ? "" : "s")
                                     : std::string("server's threads"),
                       o.cache_type_k, o.cache_type_v, value_of(o, "cps"));
}

}  // namespace jb::tune

namespace jb {

std::vector<std::string> serve_options_of(const ServeServerOptions & o) {
    std::vector<std::string> a = {
        "--parallel",    std::to_string(o.parallel),    "--batch-size", std::to_string(o.batch_size),
        "--ubatch-size", std::to_string(o.ubatch_size), "--flash-attn", o.flash_attn};
    if (o.threads > 0) a.insert(a.end(), {"--threads", std::to_string(o.threads)});
    if (!o.cache_type_k.empty()) a.insert(a.end(), {"--cache-type-k", o.cache_type_k});
    if (!o.cache_type_v.empty()) a.insert(a.end(), {"--cache-type-v", o.cache_type_v});
    if (o.ctx_size > 0) a.insert(a.end(), {"--ctx-size", std::to_string(o.ctx_size)});
    return a;
}

}  // namespace jb
