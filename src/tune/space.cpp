#include "tune/space.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <tuple>

#include "joulebench/error.hpp"
#include "util/strings.hpp"

namespace jb::tune {

static const std::vector<std::string> kAxisNames = {"c", "b", "ub", "np", "fa", "t", "kv"};

static std::string value_of(const EngineParams & p, const std::string & axis) {
    if (axis == "c") return std::to_string(p.n_ctx);
    if (axis == "b") return std::to_string(p.n_batch);
    if (axis == "ub") return std::to_string(p.n_ubatch);
    if (axis == "np") return std::to_string(p.n_seq_max);
    if (axis == "t") return std::to_string(p.n_threads);
    if (axis == "fa") return flash_attn_name(p.flash_attn);
    return p.type_k + "/" + p.type_v;  // kv
}

int count_of(const std::string & axis, const std::string & value) {
    const std::optional<int> v = parse_int(value);
    const int least = axis == "t" ? 0 : axis == "c" || axis == "cps" ? 16 : 1;
    if (!v || *v < least) {
        throw UsageError(fmt::format("--axis {}: '{}' is not a whole number >= {}", axis, value, least));
    }
    return *v;
}

const std::string & fa_of(const std::string & value) {
    if (value != "on" && value != "off" && value != "auto") {
        throw UsageError(fmt::format("--axis fa: '{}' is not on, off or auto", value));
    }
    return value;
}

std::pair<std::string, std::string> kv_of(const std::string & value) {
    const size_t slash = value.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == value.size()) {
        throw UsageError(fmt::format("--axis kv: '{}' is not K/V, e.g. f16/f16 or q8_0/q8_0", value));
    }
    return {value.substr(0, slash), value.substr(slash + 1)};
}

static void set_value(EngineParams & p, const std::string & axis, const std::string & value) {
    if (axis == "c") {
        p.n_ctx = count_of(axis, value);
    } else if (axis == "b") {
        p.n_batch = count_of(axis, value);
    } else if (axis == "ub") {
        p.n_ubatch = count_of(axis, value);
    } else if (axis == "np") {
        p.n_seq_max = count_of(axis, value);
    } else if (axis == "t") {
        p.n_threads = count_of(axis, value);
    } else if (axis == "fa") {
        p.flash_attn = parse_flash_attn(fa_of(value));
    } else if (axis == "kv") {
        std::tie(p.type_k, p.type_v) = kv_of(value);
    } else {
        throw UsageError(fmt::format("--axis: unknown setting '{}' (expected {})", axis,
                                     fmt::format("{}", fmt::join(kAxisNames, ", "))));
    }
}

// Counts up to `most` (and the default's, whatever it is), ascending.
std::vector<std::string> counts(std::vector<int> values, int most, int dflt) {
    values.erase(std::remove_if(values.begin(), values.end(), [&](int v) { return v > most; }), values.end());
    values.push_back(dflt);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    std::vector<std::string> out;
    for (int v : values) out.push_back(std::to_string(v));
    return out;
}

bool quantized_cache(const std::string & type) {
    return !type.empty() && type != "f16" && type != "bf16" && type != "f32";
}

}  // namespace jb::tune

namespace jb {

using tune::count_of;
using tune::kAxisNames;
using tune::set_value;

TuneAxis parse_tune_axis(const std::string & text) {
    // The engine's settings, and a served load's context per slot.
    std::vector<std::string> names = kAxisNames;
    names.push_back("cps");
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
        throw UsageError(fmt::format("--axis '{}': expected NAME=V1,V2,... (NAME one of {})", text,
                                     fmt::format("{}", fmt::join(names, ", "))));
    }
    TuneAxis a;
    a.name = text.substr(0, eq);
    if (std::find(names.begin(), names.end(), a.name) == names.end()) {
        throw UsageError(fmt::format("--axis: unknown setting '{}' (expected {})", a.name,
                                     fmt::format("{}", fmt::join(names, ", "))));
    }
    size_t pos = eq + 1;
    while (pos <= text.size()) {
        const size_t comma = std::min(text.find(',', pos), text.size());
        std::string v = text.substr(pos, comma - pos);
        if (v.empty()) throw UsageError(fmt::format("--axis '{}': an empty value", text));
        EngineParams check;
        if (a.name == "cps") {
            if (v != "auto") (void)count_of("cps", v);  // cells per slot: "auto" or a count >= 16
        } else {
            set_value(check, a.name, v);  // throws for a value the setting cannot take
        }
        if (std::find(a.values.begin(), a.values.end(), v) == a.values.end()) a.values.push_back(v);
        pos = comma + 1;
    }
    return a;
}

}  // namespace jb

namespace jb::tune {

Space build_space(const SpaceInput & in) {
    const EngineParams & d = in.defaults;
    std::vector<Axis> axes;
    auto add = [&](const std::string & name, std::vector<std::string> values) {
        axes.push_back({name, std::move(values)});
    };
    std::vector<std::string> fa;
    if (!in.flash_attn_fixed) fa = {"auto", "on", "off"};
    std::vector<std::string> threads;
    if (!in.on_gpu) {
        std::vector<int> t = {0};
        for (int n = 1; n < in.hardware_threads; n *= 2) t.push_back(n);
        threads = counts(t, 1 << 20, d.n_threads);
    }
    std::vector<std::string> kv;
    if (in.search_kv) {
        kv = {d.type_k + "/" + d.type_v};
        if (kv.front() != "q8_0/q8_0") kv.push_back("q8_0/q8_0");
    }
    if (in.task) {
        // Log-likelihood and generation: how many sequences share a wave and how big its KV pool
        // and calls are decide the work per call; the kernels come next.
        add("c", counts({512, 1024, 2048, 4096, 8192}, 1 << 30, d.n_ctx));
        add("b", counts({256, 512, 1024, 2048}, 1 << 30, d.n_batch));
        add("np", counts({4, 8, 16, 32, 64}, 1 << 30, d.n_seq_max));
        add("ub", counts({128, 256, 512}, 1 << 30, d.n_ubatch));
    } else if (in.prefill) {
        // Prefill is compute-bound: the micro-batch sets the GEMM shape, the batch the calls.
        add("ub", counts({64, 128, 256, 512, 1024, 2048, 4096}, in.tokens_per_call, d.n_ubatch));
        add("b", counts({256, 512, 1024, 2048, 4096}, in.tokens_per_call, d.n_batch));
    }
    // Decode (tg<N>, tg<N>x<S>) feeds S tokens per call, under any batch or micro-batch here, and
    // S is the workload's: only the kernels (flash attention), threads and KV type remain.
    add("fa", fa);
    add("t", threads);
    add("kv", kv);
    axes.erase(std::remove_if(axes.begin(), axes.end(), [](const Axis & a) { return a.values.empty(); }), axes.end());
    for (const auto & o : in.overrides) {
        if (o.name == "cps") {
            throw UsageError(
                "--axis cps: context per slot is a served load's setting (--workload serve:c<N>); "
                "here the context is c");
        }
    }
    return finish_space(std::move(axes), in.overrides, [&](const std::string & axis) { return value_of(d, axis); });
}

Space finish_space(std::vector<Axis> axes, const std::vector<TuneAxis> & overrides,
                   const std::function<std::string(const std::string &)> & default_of) {
    for (const auto & o : overrides) {
        auto it = std::find_if(axes.begin(), axes.end(), [&](const Axis & a) { return a.name == o.name; });
        if (it == axes.end()) {
            axes.push_back({o.name, o.values});
        } else {
            it->values = o.values;
        }
    }
    // Every axis holds the default's value: the descent starts there.
    Space s;
    for (auto & a : axes) {
        const std::string dv = default_of(a.name);
        auto it = std::find(a.values.begin(), a.values.end(), dv);
        if (it == a.values.end()) {
            a.values.insert(a.values.begin(), dv);
            it = a.values.begin();
        }
        s.start.push_back(int(it - a.values.begin()));
    }
    s.axes = std::move(axes);
    return s;
}

bool point_with(const Space & space, const std::function<std::string(const std::string &)> & value_of, Point & out) {
    Point point;
    for (const auto & a : space.axes) {
        const auto it = std::find(a.values.begin(), a.values.end(), value_of(a.name));
        if (it == a.values.end()) return false;
        point.push_back(int(it - a.values.begin()));
    }
    out = std::move(point);
    return true;
}

EngineParams apply_point(const Space & space, const Point & p, const EngineParams & defaults) {
    EngineParams out = defaults;
    for (size_t a = 0; a < space.axes.size(); ++a)
        set_value(out, space.axes[a].name, space.axes[a].values[size_t(p[a])]);
    return out;
}

bool point_of(const Space & space, const EngineParams & p, const EngineParams & defaults, Point & out) {
    Point point;
    if (!point_with(
            space, [&](const std::string & axis) { return value_of(p, axis); }, point))
        return false;
    if (settings_suffix(apply_point(space, point, defaults)) != settings_suffix(p)) return false;
    out = std::move(point);
    return true;
}

bool runnable(const EngineParams & p, const SpaceInput & in) {
    if (p.n_ubatch > p.n_batch) return false;
    if (quantized_cache(p.type_v) && p.flash_attn == FlashAttn::off) return false;
    if (!in.task) {
        const int cells = in.prefill ? in.n_tokens * in.sequences : (in.n_tokens + 1) * in.sequences;
        if (p.n_ctx < cells || p.n_seq_max < in.sequences) return false;
    }
    return true;
}

}  // namespace jb::tune
