// The projection pipeline (hardware/pipeline.hpp): gathers the inputs (cells, model sizes,
// catalogue figures), calibrates, projects every cell and writes the outputs; the arithmetic is
// hardware/projection.hpp.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "hardware/catalogue.hpp"
#include "hardware/pipeline.hpp"
#include "hardware/projection.hpp"
#include "joulebench/table.hpp"
#include "joulebench/store.hpp"
#include "joulebench/error.hpp"

namespace jb::hardware {

namespace {

using json = nlohmann::json;
namespace hw = jb::hardware;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
// Working set when the source did not record its peak memory: the weights plus 10 % and 0.5 GiB
// for the KV cache, compute buffers and the CUDA context (docs/projection.md).
constexpr double kAllowanceFraction = 0.10;
constexpr double kAllowanceBytes = 0.5 * kGiB;


double nan_to(double v, double fallback) {
    return std::isfinite(v) ? v : fallback;
}

// The GPU part of a cell's energy and its GPU idle power, from energy_json's domains
// ({"domains": [{"domain": "gpu:0", "gross_j", "idle_w"}, ...]} or {"gpu0": {...}}). The phase
// energies in a cell sum all domains; the GPU's share of the cell's total is applied to them.
struct GpuPart {
    double fraction = 1.0;           // GPU gross / all domains' gross
    double idle_w = hw::kNotKnown;   // sum of the GPU domains' idle
    bool found = false;
};

GpuPart gpu_part(const CellRecord & c) {
    GpuPart g;
    const json e = json::parse(c.energy_json, nullptr, false);
    std::vector<std::pair<std::string, const json *>> domains;
    if (e.is_object() && e.contains("domains") && e["domains"].is_array()) {
        for (const auto & d : e["domains"]) {
            if (d.is_object() && d.contains("domain") && d["domain"].is_string())
                domains.emplace_back(d["domain"].get<std::string>(), &d);
        }
    } else if (e.is_object()) {
        for (const auto & [name, d] : e.items()) domains.emplace_back(name, &d);
    }
    double gpu = 0.0, all = 0.0, idle = 0.0;
    bool any_idle = false;
    for (const auto & [name, d] : domains) {
        if (!d->is_object()) continue;
        const double gross = d->contains("gross_j") && (*d)["gross_j"].is_number() ? (*d)["gross_j"].get<double>() : 0;
        all += gross;
        if (name.rfind("gpu", 0) != 0) continue;
        g.found = true;
        gpu += gross;
        if (d->contains("idle_w") && (*d)["idle_w"].is_number()) {
            idle += (*d)["idle_w"].get<double>();
            any_idle = true;
        }
    }
    if (g.found && all > 0) g.fraction = gpu / all;
    if (any_idle) g.idle_w = idle;
    return g;
}

// Sequences decoded together: the S of a synthetic workload name tgNxS; 1 for everything else.
int64_t sequences_of(const std::string & task) {
    static const std::regex re("^(pp|tg)([0-9]+)(?:x([0-9]+))?(?:r([0-9]+))?$");
    std::smatch m;
    if (std::regex_match(task, m, re) && m[3].matched) return std::stoll(m[3].str());
    return 1;
}

bool float_weights(const std::string & default_type) {
    return !default_type.empty() && default_type.find_first_of("Qq") == std::string::npos;
}

// What is known of the source: its host, model and scheme rows.
struct Source {
    std::map<std::string, HostRecord> hosts;
    std::map<std::string, ModelRecord> models;
    std::map<std::string, SchemeRecord> schemes;
    std::map<std::string, std::set<std::string>> models_of_scheme;
    std::vector<CellRecord> cells;  // measured, ok
    std::vector<ModelSchemeRecord> model_schemes;
};

Source read_source(const Store & st, const std::string & host) {
    Source s;
    for (auto & h : st.list_hosts()) s.hosts.emplace(h.fingerprint, std::move(h));
    std::string host_fp;
    if (!host.empty()) {
        for (const auto & [fp, h] : s.hosts) {
            if (fp == host || h.hostname == host) {
                if (!host_fp.empty() && host_fp != fp) {
                    throw UsageError(fmt::format("--host '{}' names several hosts of {}; give the fingerprint", host,
                                                 st.path()));
                }
                host_fp = fp;
            }
        }
        if (host_fp.empty()) {
            throw UsageError(fmt::format("--host '{}' is neither a host fingerprint nor a host name in {}", host,
                                         st.path()));
        }
    }
    for (auto & m : st.list_models()) s.models.emplace(m.hash, std::move(m));
    for (auto & sc : st.list_schemes()) s.schemes.emplace(sc.canonical, std::move(sc));
    s.model_schemes = st.list_model_schemes();
    CellFilter f;
    f.origin = kOriginMeasured;
    for (auto & c : st.list_cells(f)) {
        s.models_of_scheme[c.scheme_canonical].insert(c.model_hash);
        if (c.ok() && (host_fp.empty() || c.host_fingerprint == host_fp)) s.cells.push_back(std::move(c));
    }
    return s;
}

// The quantized file's size: this model's (model_schemes), else the scheme row's when no other
// model used it, else parameters x bits per weight / 8 (as store_rows does).
double weight_bytes(const Source & s, const CellRecord & c, std::string & from) {
    if (c.scheme_file_bytes > 0) {
        from = "model_schemes.file_bytes";
        return double(c.scheme_file_bytes);
    }
    const auto sc = s.schemes.find(c.scheme_canonical);
    const auto users = s.models_of_scheme.find(c.scheme_canonical);
    if (sc != s.schemes.end() && sc->second.file_bytes > 0 && users != s.models_of_scheme.end() &&
        users->second.size() == 1) {
        from = "schemes.file_bytes (the scheme's only model)";
        return double(sc->second.file_bytes);
    }
    if (c.model_n_params > 0 && std::isfinite(c.scheme_bpw) && c.scheme_bpw > 0) {
        from = "n_params x bpw / 8";
        return double(c.model_n_params) * c.scheme_bpw / 8.0;
    }
    from = "";
    return 0.0;
}

const hw::GpuSpec & source_spec(const hw::Catalogue & cat, const HostRecord & h, const std::string & override_id,
                                const std::string & db) {
    if (!override_id.empty()) {
        const hw::GpuSpec * g = cat.find(override_id);
        if (!g) throw UsageError(fmt::format("--source-gpu '{}' is not in the catalogue {}", override_id, cat.path));
        return *g;
    }
    const json gpus = json::parse(h.gpus_json, nullptr, false);
    std::set<std::string> names;
    if (gpus.is_array()) {
        for (const auto & g : gpus) {
            if (g.is_object() && g.contains("name") && g["name"].is_string()) names.insert(g["name"].get<std::string>());
        }
    }
    if (names.empty()) {
        throw InputError(db, fmt::format("host '{}' ({}) has no GPU to project from (give --source-gpu ID)", h.hostname,
                                         h.fingerprint));
    }
    if (names.size() > 1) {
        throw InputError(db, fmt::format("host '{}' has different GPUs ({}); give --source-gpu ID", h.hostname,
                                         fmt::join(names, ", ")));
    }
    const hw::GpuSpec * g = cat.match_device(*names.begin());
    if (!g) {
        throw InputError(db, fmt::format("host '{}': GPU '{}' is not in the catalogue {} (give --source-gpu ID)",
                                         h.hostname, *names.begin(), cat.path));
    }
    return *g;
}

hw::DeviceFigures figures(const hw::GpuSpec & g, bool fp16, double idle_w) {
    hw::DeviceFigures d;
    d.bw_gbs = g.memory_bw_gbs;
    d.tput_tflops = fp16 || std::isnan(g.int8_tops) ? g.fp16_tflops : g.int8_tops;
    d.tdp_w = g.tdp_w;
    d.idle_w = idle_w;
    if (g.sm_count > 0 && g.boost_clock_mhz > 0) d.sm_ghz = g.sm_count * g.boost_clock_mhz / 1000.0;
    return d;
}

json num(double v) {
    return std::isfinite(v) ? json(v) : json(nullptr);
}

// One cell's phase, measured.
struct MeasuredPhase {
    bool present = false;
    hw::PhaseMeasurement m;
    int64_t tokens = 0;
};

struct CellInputs {
    const CellRecord * cell = nullptr;
    const hw::GpuSpec * source = nullptr;
    bool fp16 = true;
    double weight_bytes = 0.0;
    std::string weight_bytes_from;
    int64_t sequences = 1;
    GpuPart gpu;
    double idle_src_w = 0.0;
    MeasuredPhase prefill, decode;
    std::string skip;  // why it cannot be projected ("" = it can)
};

CellInputs cell_inputs(const Source & s, const CellRecord & c, const hw::GpuSpec & src, int64_t ubatch) {
    CellInputs in;
    in.cell = &c;
    in.source = &src;
    const auto sc = s.schemes.find(c.scheme_canonical);
    in.fp16 = sc == s.schemes.end() || float_weights(sc->second.default_type);
    in.weight_bytes = weight_bytes(s, c, in.weight_bytes_from);
    in.sequences = sequences_of(c.task);
    in.gpu = gpu_part(c);
    in.idle_src_w = nan_to(in.gpu.idle_w, nan_to(c.idle_power_w, src.idle_w));
    if (!(in.weight_bytes > 0)) in.skip = "model file size unknown (no model_schemes row, no bpw)";
    if (!(c.model_n_params > 0)) in.skip = "model parameter count unknown";
    if (!std::isfinite(in.idle_src_w)) in.skip = "source idle power unknown";
    auto phase = [&](double t_s, double energy_j, int64_t tokens, bool prefill) {
        MeasuredPhase p;
        if (!(t_s > 0) || tokens <= 0 || !std::isfinite(energy_j)) return p;
        p.present = true;
        p.tokens = tokens;
        p.m.t_s = t_s;
        p.m.bytes = prefill ? hw::prefill_bytes(in.weight_bytes, tokens, ubatch)
                            : hw::decode_bytes(in.weight_bytes, tokens, in.sequences);
        p.m.flops = hw::phase_flops(c.model_n_params, tokens);
        p.m.power_w = energy_j * in.gpu.fraction / t_s;
        return p;
    };
    in.prefill = phase(c.prefill_t_s, c.prefill_energy_j, c.prefill_tokens, true);
    in.decode = phase(c.decode_t_s, c.decode_energy_j, c.decode_tokens, false);
    if (in.skip.empty() && !in.prefill.present && !in.decode.present) in.skip = "no prefill or decode phase measured";
    return in;
}

std::string calibration_key(const CellRecord & c) {
    return c.host_fingerprint + '\x1f' + c.model_hash + '\x1f' + c.scheme_canonical;
}

// roofline-v2's decode groups: one host, scheme (by name: a dynamic plan differs per model) and
// number of sequences decoded together, across models.
std::string scheme_label(const CellRecord & c) {
    return c.scheme_name.empty() ? c.scheme_canonical : c.scheme_name;
}
std::string decode_group_key(const CellInputs & in) {
    return fmt::format("{}\x1f{}\x1f{}", in.cell->host_fingerprint, scheme_label(*in.cell), in.sequences);
}
std::string decode_host_key(const CellInputs & in) {
    return fmt::format("{}\x1f{}", in.cell->host_fingerprint, in.sequences);
}

double decode_steps(const CellInputs & in) {
    return double(in.decode.tokens) / double(std::max<int64_t>(in.sequences, 1));
}

// The fixed cost per decode step of each group, and e* per host and sequence count.
struct DecodeCalibrations {
    std::map<std::string, hw::DecodeCalibration> by_group;
    std::map<std::string, int> sizes;  // distinct model sizes per group, for the note
};

DecodeCalibrations calibrate_decode(const std::vector<CellInputs> & inputs) {
    struct Pooled {
        double t = 0.0, steps = 0.0, bytes = 0.0;
    };
    std::map<std::string, std::map<std::string, Pooled>> pooled;  // group -> model -> pooled
    std::map<std::string, const CellInputs *> any_of_group;
    for (const CellInputs & in : inputs) {
        if (!in.skip.empty() || !in.decode.present) continue;
        const std::string g = decode_group_key(in);
        Pooled & p = pooled[g][in.cell->model_hash];
        p.t += in.decode.m.t_s;
        p.steps += decode_steps(in);
        p.bytes = in.weight_bytes;
        any_of_group.emplace(g, &in);
    }
    DecodeCalibrations out;
    std::map<std::string, double> best;
    for (const auto & [g, models] : pooled) {
        std::vector<hw::StepPoint> pts;
        std::set<double> sizes;
        for (const auto & [hash, p] : models) {
            pts.push_back({p.bytes, p.t / p.steps});
            sizes.insert(p.bytes);
        }
        hw::DecodeCalibration & cal = out.by_group[g];
        cal.fit = hw::fit_steps(pts);
        out.sizes[g] = int(sizes.size());
        const CellInputs & in = *any_of_group.at(g);
        const double u_m = hw::marginal_util_bw(cal.fit, figures(*in.source, true, in.idle_src_w));
        if (std::isfinite(u_m)) {
            double & b = best[decode_host_key(in)];
            b = std::max(b, u_m);
        }
    }
    for (auto & [g, cal] : out.by_group) {
        const auto b = best.find(decode_host_key(*any_of_group.at(g)));
        if (b != best.end()) cal.best_util_bw = b->second;
    }
    return out;
}

struct Projected {
    CellRecord rec;
    const CellInputs * in = nullptr;
    std::optional<hw::PhaseProjection> prefill, decode;
};

// The projection of one cell to the target, as a CellRecord marked 'projected'.
Projected project_cell(const CellInputs & in, const hw::GpuSpec & tgt, double idle_tgt_w, bool idle_assumed,
                       const hw::Efficiencies & other, const hw::DecodeCalibration * decode_cal,
                       const std::string & host_fp) {
    const CellRecord & c = *in.cell;
    Projected out;
    out.in = &in;
    CellRecord & r = out.rec;
    r.set_key({host_fp, c.model_hash, c.scheme_canonical, c.task, c.workload_fp, c.repeat_idx});
    r.host_name = "projected " + tgt.name;
    r.model_name = c.model_name;
    r.model_n_params = c.model_n_params;
    r.scheme_name = c.scheme_name;
    r.scheme_bpw = c.scheme_bpw;
    r.scheme_file_bytes = c.scheme_file_bytes;
    r.origin = kOriginProjected;
    r.n_items = c.n_items;
    r.primary_metric = c.primary_metric;
    r.score = c.score;  // accuracy does not depend on the GPU: copied, and said so below
    r.score_stderr = c.score_stderr;
    r.scores_json = c.scores_json;
    r.peak_mem_bytes = c.peak_mem_bytes;
    // energy_estimated means the CPU estimate (TDP per CPU x CPU time) (docs/design.md); a projection is
    // marked by its own origin, which every report shows, so it is not flagged as that as well.
    r.energy_estimated = false;
    r.started_at = r.finished_at = utc_now_iso();

    const hw::DeviceFigures src_fig = figures(*in.source, in.fp16, in.idle_src_w);
    const hw::DeviceFigures tgt_fig = figures(tgt, in.fp16, idle_tgt_w);

    json pj;
    pj["target"] = {{"gpu", tgt.id},
                    {"name", tgt.name},
                    {"memory_bw_gbs", tgt.memory_bw_gbs},
                    {"throughput", tgt_fig.tput_tflops},
                    {"throughput_kind", in.fp16 || std::isnan(tgt.int8_tops) ? "fp16_tflops" : "int8_tops"},
                    {"tdp_w", tgt.tdp_w},
                    {"idle_w", idle_tgt_w},
                    {"idle_assumed", idle_assumed}};
    pj["source"] = {{"host_fingerprint", c.host_fingerprint},
                    {"gpu", in.source->id},
                    {"cell_id", c.id},
                    {"memory_bw_gbs", in.source->memory_bw_gbs},
                    {"throughput", src_fig.tput_tflops},
                    {"tdp_w", in.source->tdp_w},
                    {"idle_w", in.idle_src_w},
                    {"gpu_energy_fraction", in.gpu.fraction},
                    {"prefill_tok_s", num(c.prefill_tok_s)},
                    {"decode_tok_s", num(c.decode_tok_s)}};
    pj["model_parameters"] = {{"n_params", c.model_n_params},
                              {"weight_bytes", in.weight_bytes},
                              {"weight_bytes_from", in.weight_bytes_from},
                              {"weights", in.fp16 ? "float (fp16 tensor throughput)" : "quantized (int8 tensor throughput)"},
                              {"sequences", in.sequences},
                              {"kv_traffic", "not modelled"},
                              {"attention_flops", "not modelled"}};
    if (std::isfinite(c.score)) pj["score"] = "copied from the measured cell: accuracy does not depend on the GPU";

    // Memory: the measured working set when recorded, else the weights plus an allowance.
    const double need = c.peak_mem_bytes > 0 ? double(c.peak_mem_bytes)
                                             : in.weight_bytes * (1.0 + kAllowanceFraction) + kAllowanceBytes;
    const hw::FitCheck fit = hw::check_fit(need, tgt.memory_gib);
    pj["fit"] = {{"need_gib", fit.need_gib},
                 {"have_gib", fit.have_gib},
                 {"need_from", c.peak_mem_bytes > 0 ? "peak_mem_bytes (measured)" : "weights x 1.10 + 0.5 GiB"}};
    if (!fit.fits) {
        r.status = kStatusFailed;
        r.error = fit.message;
        r.projection_json = pj.dump();
        return out;
    }

    double energy = 0.0, energy_net = 0.0, phases_t = 0.0;
    bool steps_model = false;  // decode by roofline-v2
    auto do_phase = [&](const MeasuredPhase & mp, const char * name, double & e, double & e_net, double & t,
                        int64_t & tokens, double & tok_s) -> std::optional<hw::PhaseProjection> {
        if (!mp.present) return std::nullopt;
        std::optional<hw::PhaseProjection> v2;
        if (&mp == &in.decode && decode_cal)
            v2 = hw::project_decode_steps(mp.m, decode_steps(in), src_fig, tgt_fig, *decode_cal);
        const hw::PhaseProjection p = v2 ? *v2 : hw::project_phase(mp.m, src_fig, tgt_fig, other);
        e = p.energy_j;
        e_net = p.energy_net_j;
        t = p.t_s;
        tokens = mp.tokens;
        tok_s = double(mp.tokens) / p.t_s;
        energy += p.energy_j;
        energy_net += p.energy_net_j;
        phases_t += p.t_s;
        auto inf_null = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
        pj["phases"][name] = {{"t_s_source", mp.m.t_s},
                              {"bytes", mp.m.bytes},
                              {"flops", mp.m.flops},
                              {"util_bw", p.util_bw},
                              {"util_compute", p.util_compute},
                              {"bound", hw::bound_name(p.bound)},
                              {"eff_bw", inf_null(p.eff_bw)},
                              {"eff_compute", inf_null(p.eff_compute)},
                              {"t_bw_s", p.t_bw_s},
                              {"t_compute_s", p.t_compute_s},
                              {"power_w_source", mp.m.power_w},
                              {"power_share", p.power_share},
                              {"power_w", p.power_w}};
        if (v2) {
            steps_model = true;
            pj["phases"][name]["steps"] = p.steps;
            pj["phases"][name]["fixed_s_per_step"] = p.fixed_s;
            pj["phases"][name]["per_byte_s_source"] = p.per_byte_s_source;
            pj["phases"][name]["per_byte_s"] = p.per_byte_s;
            if (p.bound == hw::Bound::kernel) {
                pj["phases"][name]["kernel_scale"] = p.kernel_scale;
                pj["phases"][name]["kernel_scale_from"] =
                    src_fig.sm_ghz > 0 && tgt_fig.sm_ghz > 0 ? "SMs x boost clock, source / target"
                                                            : "1: SM count or boost clock not in the catalogue";
            }
            pj["phases"][name]["step_fit"] = {
                {"fixed_s", decode_cal->fit.fixed_s},
                {"s_per_byte", decode_cal->fit.s_per_byte},
                {"models", decode_cal->fit.points},
                {"marginal_util_bw", hw::marginal_util_bw(decode_cal->fit, src_fig)},
                {"best_marginal_util_bw", decode_cal->best_util_bw}};
        }
        return p;
    };
    out.prefill = do_phase(in.prefill, "prefill", r.prefill_energy_j, r.prefill_energy_net_j, r.prefill_t_s,
                           r.prefill_tokens, r.prefill_tok_s);
    out.decode = do_phase(in.decode, "decode", r.decode_energy_j, r.decode_energy_net_j, r.decode_t_s, r.decode_tokens,
                          r.decode_tok_s);

    // The rest of the workload (tokenising, scoring, gaps between phases) keeps its time; its
    // power moves by the same share rule. Loading is not projected (it depends on the disk).
    const double other_t = nan_to(c.wall_t_s, 0) - nan_to(c.load_t_s, 0) - nan_to(c.prefill_t_s, 0) -
                           nan_to(c.decode_t_s, 0);
    const double other_e = (nan_to(c.energy_j, 0) - nan_to(c.load_energy_j, 0) - nan_to(c.prefill_energy_j, 0) -
                            nan_to(c.decode_energy_j, 0)) *
                           in.gpu.fraction;
    double rest_t = 0.0, rest_e = 0.0;
    if (other_t > 0.01 && other_e > 0) {
        const double share = hw::power_share(other_e / other_t, src_fig);
        rest_t = other_t;
        rest_e = hw::power_at_share(share, tgt_fig) * other_t;
        pj["phases"]["other"] = {{"t_s", other_t}, {"power_share", share}, {"power_w", rest_e / other_t}};
    }
    r.wall_t_s = phases_t + rest_t;
    r.energy_j = energy + rest_e;
    r.energy_net_j = energy_net + rest_e - idle_tgt_w * rest_t;
    r.idle_power_w = idle_tgt_w;
    if (std::isfinite(c.ttft_s) && out.prefill && c.prefill_t_s > 0) {
        r.ttft_s = c.ttft_s * out.prefill->t_s / c.prefill_t_s;
    }
    r.energy_json = json{{"method", "projection"},
                         {"domains",
                          {{{"domain", "gpu:0"},
                            {"method", "projection"},
                            {"gross_j", r.energy_j},
                            {"net_j", r.energy_net_j},
                            {"idle_w", idle_tgt_w},
                            {"avg_w", r.wall_t_s > 0 ? r.energy_j / r.wall_t_s : 0.0}}}}}
                        .dump();
    const char * method = steps_model ? "roofline-v2" : "roofline-v1";
    pj["model"] = fmt::format("{} (docs/projection.md)", method);
    r.sensors_json = json{{"projection", {{"method", method}, {"target", tgt.id}, {"source_gpu", in.source->id}}}}
                         .dump();
    r.projection_json = pj.dump();
    return out;
}

struct Run {
    std::vector<CellInputs> inputs;
    std::vector<Projected> projected;
    std::vector<std::string> notes;
};

Run project_all(const Source & s, const hw::Catalogue & cat, const hw::GpuSpec & tgt, const ProjectSpec & o,
                const std::string & db) {
    Run run;
    run.inputs.reserve(s.cells.size());
    std::map<std::string, const hw::GpuSpec *> src_of_host;
    for (const auto & [fp, h] : s.hosts) src_of_host[fp] = nullptr;
    for (const CellRecord & c : s.cells) {
        const hw::GpuSpec *& src = src_of_host[c.host_fingerprint];
        if (!src) src = &source_spec(cat, s.hosts.at(c.host_fingerprint), o.source_gpu, db);
        run.inputs.push_back(cell_inputs(s, c, *src, o.ubatch));
    }
    // Calibrate each resource where it binds: the best utilisation per (host, model, scheme).
    std::map<std::string, hw::Efficiencies> binding;
    for (const CellInputs & in : run.inputs) {
        if (!in.skip.empty()) continue;
        for (const MeasuredPhase * mp : {&in.prefill, &in.decode}) {
            if (!mp->present) continue;
            hw::Bound b;
            const hw::Efficiencies u = hw::phase_utilisation(mp->m, figures(*in.source, in.fp16, in.idle_src_w), &b);
            hw::Efficiencies & e = binding[calibration_key(*in.cell)];
            if (b == hw::Bound::bandwidth) e.bw = std::isnan(e.bw) ? u.bw : std::max(e.bw, u.bw);
            if (b == hw::Bound::compute) e.compute = std::isnan(e.compute) ? u.compute : std::max(e.compute, u.compute);
        }
    }
    const DecodeCalibrations decode_cal = calibrate_decode(run.inputs);
    std::set<std::string> v1_groups;
    const bool idle_given = o.target_idle_w > 0;
    for (const CellInputs & in : run.inputs) {
        if (!in.skip.empty()) {
            run.notes.push_back(fmt::format("not projected: {} {} {}: {}", in.cell->model_name, in.cell->scheme_name,
                                            in.cell->task, in.skip));
            continue;
        }
        double idle_tgt = tgt.idle_w;
        bool assumed = false;
        if (idle_given) {
            idle_tgt = o.target_idle_w;
        } else if (std::isnan(idle_tgt)) {
            // no published idle: the source's measured idle as the same fraction of the board limit
            idle_tgt = in.idle_src_w / in.source->tdp_w * tgt.tdp_w;
            assumed = true;
        }
        const std::string host_fp = fmt::format("projected:{}:{}", tgt.id, in.cell->host_fingerprint);
        const hw::DecodeCalibration * dc = nullptr;
        if (in.decode.present) {
            const std::string g = decode_group_key(in);
            const auto it = decode_cal.by_group.find(g);
            if (it != decode_cal.by_group.end() && it->second.fit.usable()) {
                dc = &it->second;
            } else if (v1_groups.insert(g).second) {
                run.notes.push_back(fmt::format(
                    "decode of {} at {} sequence(s): {} model size(s) measured, no line through 2 sizes at least {}x "
                    "apart: roofline-v1 (bandwidth only; it overestimates the gain from more bandwidth, "
                    "docs/projection.md)",
                    scheme_label(*in.cell), in.sequences, decode_cal.sizes.count(g) ? decode_cal.sizes.at(g) : 0,
                    hw::kMinFitSizeRatio));
            }
        }
        run.projected.push_back(
            project_cell(in, tgt, idle_tgt, assumed, binding[calibration_key(*in.cell)], dc, host_fp));
    }
    if (!idle_given && std::isnan(tgt.idle_w)) {
        run.notes.push_back(fmt::format(
            "{} has no published idle power: assumed the source's measured idle as the same fraction of the board "
            "limit (give --target-idle-w to set it)",
            tgt.id));
    }
    return run;
}

void write_projection(const std::string & path, const Source & s, const Run & run, const hw::GpuSpec & tgt) {
    Store dst = Store::open(path, true);
    std::set<std::string> hosts_done;
    for (const Projected & p : run.projected) {
        if (!hosts_done.insert(p.rec.host_fingerprint).second) continue;
        const HostRecord & src = s.hosts.at(p.in->cell->host_fingerprint);
        HostRecord h;
        h.fingerprint = p.rec.host_fingerprint;
        h.hostname = "projected " + tgt.name;
        h.cpu_model = src.cpu_model;
        h.cpu_cores = src.cpu_cores;
        h.ram_bytes = src.ram_bytes;
        h.gpus_json = json::array({{{"name", tgt.name + " (projected)"},
                                    {"catalogue_id", tgt.id},
                                    {"memory_bytes", int64_t(tgt.memory_gib * kGiB)},
                                    {"power_limit_w", tgt.tdp_w},
                                    {"projected_from", src.fingerprint}}})
                          .dump();
        h.driver = "";
        h.llama_commit = src.llama_commit;
        h.joulebench_version = JOULEBENCH_VERSION;
        h.os = "projected";
        dst.upsert_host(h);
    }
    std::set<std::string> models, schemes;
    for (const Projected & p : run.projected) {
        models.insert(p.rec.model_hash);
        schemes.insert(p.rec.scheme_canonical);
    }
    for (const auto & m : models) dst.upsert_model(s.models.at(m));
    for (const auto & sc : schemes) dst.upsert_scheme(s.schemes.at(sc));
    for (const ModelSchemeRecord & ms : s.model_schemes) {
        if (models.count(ms.model_hash) && schemes.count(ms.scheme_canonical))
            dst.upsert_model_scheme(ms.model_hash, ms.scheme_canonical, ms.bpw, ms.file_bytes);
    }
    for (const Projected & p : run.projected) dst.commit_cell(p.rec);
}

double per_token(double energy_j, int64_t tokens) {
    return tokens > 0 && std::isfinite(energy_j) ? energy_j / double(tokens) : hw::kNotKnown;
}

Value v(double x) {
    return std::isfinite(x) ? Value(x) : Value();
}

Table projection_table(const Run & run, const hw::GpuSpec & tgt) {
    Table t;
    t.title = fmt::format("Projected to {} (origin = projected; GPU energy only; docs/projection.md)", tgt.name);
    for (auto [name, header, prec] : std::vector<std::tuple<const char *, const char *, int>>{
             {"model", "Model", 0},
             {"scheme", "Scheme", 0},
             {"task", "Task", 0},
             {"repeat", "Rep", 0},
             {"status", "Status", 0},
             {"prefill_bound", "Prefill bound", 0},
             {"prefill_tok_s_source", "Prefill tok/s (src)", 0},
             {"prefill_tok_s", "Prefill tok/s", 0},
             {"prefill_j_per_token", "Prefill J/tok", 4},
             {"decode_bound", "Decode bound", 0},
             {"decode_tok_s_source", "Decode tok/s (src)", 1},
             {"decode_tok_s", "Decode tok/s", 1},
             {"decode_j_per_token", "Decode J/tok", 3},
             {"score", "Score (copied)", 4},
             {"error", "Note", 0}}) {
        t.add_column(name, header, prec);
    }
    for (const char * c : {"model", "scheme", "task", "status", "prefill_bound", "decode_bound", "error"}) {
        t.columns[t.column_index(c)].right_align = false;
    }
    for (const Projected & p : run.projected) {
        const CellRecord & r = p.rec;
        const CellRecord & c = *p.in->cell;
        t.add_row({r.model_name, r.scheme_name.empty() ? r.scheme_canonical : r.scheme_name, r.task, r.repeat_idx,
                   r.status, p.prefill ? Value(std::string(hw::bound_name(p.prefill->bound))) : Value(),
                   v(c.prefill_tok_s), p.prefill ? v(r.prefill_tok_s) : Value(),
                   p.prefill ? v(per_token(r.prefill_energy_j, r.prefill_tokens)) : Value(),
                   p.decode ? Value(std::string(hw::bound_name(p.decode->bound))) : Value(), v(c.decode_tok_s),
                   p.decode ? v(r.decode_tok_s) : Value(),
                   p.decode ? v(per_token(r.decode_energy_j, r.decode_tokens)) : Value(), v(r.score), r.error});
    }
    t.notes = run.notes;
    t.notes.push_back("every row is a projection, not a measurement; scores are copied from the measured cells");
    return t;
}

// --validate: projected vs measured, matched by (model, scheme, task, workload), repeats pooled.
struct Pool {
    double energy_j = 0.0, t_s = 0.0;
    int64_t tokens = 0;
    int n = 0;
    std::string model_name, scheme_name;
};

using PoolKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;  // model, scheme, task, wfp, phase

void pool_add(std::map<PoolKey, Pool> & pools, const CellRecord & c, double gpu_fraction) {
    auto add = [&](const char * phase, double e, double t, int64_t tokens) {
        if (!(t > 0) || tokens <= 0 || !std::isfinite(e)) return;
        Pool & p = pools[{c.model_hash, c.scheme_canonical, c.task, c.workload_fp, phase}];
        p.energy_j += e * gpu_fraction;
        p.t_s += t;
        p.tokens += tokens;
        ++p.n;
        p.model_name = c.model_name;
        p.scheme_name = c.scheme_name.empty() ? c.scheme_canonical : c.scheme_name;
    };
    add("prefill", c.prefill_energy_j, c.prefill_t_s, c.prefill_tokens);
    add("decode", c.decode_energy_j, c.decode_t_s, c.decode_tokens);
}

Table validation_table(const Run & run, const std::string & measured_path, const hw::GpuSpec & tgt,
                       const hw::Catalogue & cat) {
    const Store b = Store::open_readonly(measured_path);
    CellFilter f;
    f.origin = kOriginMeasured;
    f.status = kStatusOk;
    std::map<PoolKey, Pool> measured, projected;
    // Only B's hosts whose GPUs are all the target count (B may be a merge of several hosts);
    // when none is, every host counts and a warning says so.
    std::set<std::string> target_hosts, other_gpus;
    for (const HostRecord & h : b.list_hosts()) {
        const json gpus = json::parse(h.gpus_json, nullptr, false);
        bool all_target = gpus.is_array() && !gpus.empty();
        if (gpus.is_array()) {
            for (const auto & g : gpus) {
                const std::string name =
                    g.is_object() && g.contains("name") && g["name"].is_string() ? g["name"].get<std::string>() : "";
                const hw::GpuSpec * spec = cat.match_device(name);
                if (!spec || spec->id != tgt.id) {
                    all_target = false;
                    other_gpus.insert(name.empty() ? "(unnamed)" : name);
                }
            }
        }
        if (all_target) target_hosts.insert(h.fingerprint);
    }
    for (const CellRecord & c : b.list_cells(f)) {
        if (target_hosts.empty() || target_hosts.count(c.host_fingerprint)) pool_add(measured, c, gpu_part(c).fraction);
    }
    for (const Projected & p : run.projected) {
        if (p.rec.ok()) pool_add(projected, p.rec, 1.0);
    }

    Table t;
    t.title = fmt::format("Validation: projected to {} vs measured in {}", tgt.name, measured_path);
    for (auto [name, header, prec] : std::vector<std::tuple<const char *, const char *, int>>{
             {"model", "Model", 0},
             {"scheme", "Scheme", 0},
             {"task", "Task", 0},
             {"phase", "Phase", 0},
             {"measured_j_per_token", "Measured J/tok", 4},
             {"projected_j_per_token", "Projected J/tok", 4},
             {"j_per_token_error_pct", "Error J/tok (%)", 1},
             {"measured_tok_s", "Measured tok/s", 1},
             {"projected_tok_s", "Projected tok/s", 1},
             {"tok_s_error_pct", "Error tok/s (%)", 1}}) {
        t.add_column(name, header, prec);
    }
    for (const char * c : {"model", "scheme", "task", "phase"}) t.columns[t.column_index(c)].right_align = false;
    std::map<std::string, std::vector<double>> abs_j, abs_s;  // by phase
    size_t unmatched = 0;
    for (const auto & [key, pr] : projected) {
        const auto m = measured.find(key);
        if (m == measured.end()) {
            ++unmatched;
            continue;
        }
        const Pool & me = m->second;
        const double mj = me.energy_j / double(me.tokens), pj = pr.energy_j / double(pr.tokens);
        const double ms = double(me.tokens) / me.t_s, ps = double(pr.tokens) / pr.t_s;
        const double ej = (pj - mj) / mj * 100.0, es = (ps - ms) / ms * 100.0;
        const std::string & phase = std::get<4>(key);
        abs_j[phase].push_back(std::fabs(ej));
        abs_s[phase].push_back(std::fabs(es));
        t.add_row({pr.model_name, pr.scheme_name, std::get<2>(key), phase, mj, pj, ej, ms, ps, es});
    }
    auto mean = [](const std::vector<double> & xs) {
        double s = 0;
        for (double x : xs) s += x;
        return xs.empty() ? hw::kNotKnown : s / double(xs.size());
    };
    for (const auto & [phase, xs] : abs_j) {
        t.notes.push_back(fmt::format("{}: mean absolute error {:.1f} % in J/token, {:.1f} % in tokens/s over {} rows",
                                      phase, mean(xs), mean(abs_s[phase]), xs.size()));
    }
    if (t.rows.empty()) t.notes.push_back("no projected cell matched a measured cell (same model, scheme, task, workload)");
    if (unmatched) t.notes.push_back(fmt::format("{} projected (cell, phase) groups had no measured match", unmatched));
    if (target_hosts.empty()) {
        t.notes.push_back(fmt::format("warning: no host of {} has the --gpu {} ({}): compared with all its cells",
                                      measured_path, tgt.id, fmt::join(other_gpus, ", ")));
    } else if (!other_gpus.empty()) {
        t.notes.push_back(fmt::format("cells of {} measured on other GPUs ({}) were left out", measured_path,
                                      fmt::join(other_gpus, ", ")));
    }
    t.notes.push_back("J/token is GPU energy (the measured cells' GPU domains); error = (projected - measured) / measured");
    for (const auto & n : run.notes) t.notes.push_back(n);
    return t;
}

}  // namespace

ProjectOutcome project_cells(const ProjectSpec & o) {
    if (o.ubatch < 1) throw UsageError(fmt::format("--ubatch must be at least 1 (got {})", o.ubatch));
    if (o.target_idle_w < 0) throw UsageError(fmt::format("--target-idle-w must be positive (got {})", o.target_idle_w));
    const hw::Catalogue cat = o.catalogue.empty() ? hw::default_catalogue() : hw::load_catalogue(o.catalogue);
    const hw::GpuSpec * tgt = cat.find(o.gpu);
    if (!tgt) {
        std::vector<std::string> ids;
        for (const auto & g : cat.gpus) ids.push_back(g.id);
        throw UsageError(fmt::format("--gpu '{}' is not in the catalogue {}; known: {}", o.gpu, cat.path,
                                     fmt::join(ids, ", ")));
    }
    if (o.target_idle_w >= tgt->tdp_w) {
        throw UsageError(fmt::format("--target-idle-w {} W must be below {}'s board limit {} W", o.target_idle_w,
                                     tgt->id, tgt->tdp_w));
    }
    if (!o.to.empty() && (o.to == o.from || o.to == o.validate)) {
        throw UsageError("--to must be another database than --from and --validate: measured databases stay "
                         "measurements only (merge later; projected rows stay marked)");
    }
    Source s;
    {
        const Store src = Store::open_readonly(o.from);
        s = read_source(src, o.host);
    }
    if (s.cells.empty()) throw InputError(o.from, "no measured ok cells to project");
    const Run run = project_all(s, cat, *tgt, o, o.from);
    ProjectOutcome out;
    out.n_projected = run.projected.size();
    if (!o.to.empty()) write_projection(o.to, s, run, *tgt);
    out.table = o.validate.empty() ? projection_table(run, *tgt) : validation_table(run, o.validate, *tgt, cat);
    return out;
}

}  // namespace jb::hardware

