#include "results/report_input.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "results/family.hpp"
#include "results/store_rows.hpp"
#include "util/strings.hpp"

namespace jb::results {

namespace {

report::TimelineCell timeline_cell(const CellRecord & c, PowerTimeline tl) {
    report::TimelineCell t;
    t.cell_id = c.id;
    t.host_name = c.host_name;
    t.model_name = c.model_name;
    t.scheme = c.scheme_name.empty() ? c.scheme_canonical : c.scheme_name;
    t.task = c.task;
    t.estimated = c.energy_estimated;
    for (auto & d : estimated_domains(nlohmann::json::parse(c.energy_json, nullptr, /*allow_exceptions=*/false))) {
        t.estimate_domains.insert(std::move(d));
    }
    t.timeline = std::move(tl);
    return t;
}

// The cell to plot: the one asked for, else the longest reference or int8 cell with a timeline
// (the longest run shows its phases best), else the longest of any scheme.
std::optional<report::TimelineCell> pick_timeline(const Store & store, const std::vector<CellRecord> & cells,
                                                  const ReportRequest & r) {
    if (r.timeline_cell != 0) {
        for (const auto & c : cells) {
            if (c.id != r.timeline_cell) continue;
            auto tl = store.cell_timeline(c.id);
            if (!tl || tl->t_s.empty()) {
                throw Error(fmt::format("{}: cell {} ({} {} {}) has no stored power timeline", store.path(), c.id,
                                        c.model_name, c.scheme_name, c.task));
            }
            return timeline_cell(c, std::move(*tl));
        }
        throw UsageError(fmt::format("--timeline-cell {}: {} has no such cell", r.timeline_cell, store.path()));
    }
    std::vector<const CellRecord *> order;
    for (const auto & c : cells) {
        if (c.ok()) order.push_back(&c);
    }
    auto preferred = [&](const CellRecord * c) {
        return c->scheme_name == r.reference || c->scheme_canonical == r.reference || c->scheme_name == "int8";
    };
    auto wall = [](const CellRecord * c) { return std::isfinite(c->wall_t_s) ? c->wall_t_s : 0.0; };
    std::stable_sort(order.begin(), order.end(), [&](const CellRecord * a, const CellRecord * b) {
        if (preferred(a) != preferred(b)) return preferred(a);
        return wall(a) > wall(b);
    });
    for (const CellRecord * c : order) {
        auto tl = store.cell_timeline(c->id);
        if (tl && !tl->t_s.empty()) return timeline_cell(*c, std::move(*tl));
    }
    return std::nullopt;
}

// The request's numbers, checked before any file is read.
void check_request(const ReportRequest & r) {
    check_cost_params(r.cost);
    if (r.grid_g_per_kwh < 0 || !std::isfinite(r.grid_g_per_kwh)) throw UsageError("--grid-g-per-kwh must be >= 0");
}

report::ReportInput build_input(const Store & store, const ReportRequest & r) {
    const std::vector<CellRecord> cells = store.list_cells();
    std::vector<ServeLevelRecord> serve_levels = reported_serve_levels(store);
    if (cells.empty() && serve_levels.empty()) {
        throw Error(fmt::format("{}: no cells: nothing to report yet (run `joulebench sweep --db {}` first)",
                                store.path(), store.path()));
    }
    report::ReportInput in;
    in.source = store.path();
    in.generated_at = utc_now_iso();
    in.title = r.title;
    in.options.reference = r.reference;
    in.options.usd_per_kwh = r.cost.usd_per_kwh;
    in.options.grid_g_per_kwh = r.grid_g_per_kwh;
    in.rows = load_rows(store, /*items=*/true);  // the decision matrix's noise needs the items
    in.cost = cost_model(in.rows, r.cost, in.cost_notes);
    in.cost_formula = cost_formula_note(r.cost);
    in.families = load_family_members(store);
    in.serve_levels = std::move(serve_levels);
    in.slo = r.slo;
    in.hosts = store.list_hosts();
    in.models = store.list_models();
    in.schemes = store.list_schemes();
    for (const auto & c : cells) {
        if (c.ok()) {
            report::add_cell_provenance(in, c.host_name, c.sensors_json, c.energy_json);
        } else {
            in.failed.push_back({c.host_name, c.model_name, c.scheme_name.empty() ? c.scheme_canonical : c.scheme_name,
                                 c.task, c.repeat_idx, c.error});
        }
    }
    if (r.with_timeline) in.timeline = pick_timeline(store, cells, r);
    return in;
}

}  // namespace

report::ReportInput report_input(const Store & store, const ReportRequest & r) {
    check_request(r);
    return build_input(store, r);
}

std::string render_report(const std::string & db, const ReportRequest & request, const std::string & format,
                          const std::vector<std::string> & tables) {
    const Format text_format = format == "html" ? Format::table : parse_format(format);
    check_request(request);  // the request before the file
    const Store store = Store::open_readonly(db);  // the store's one-line error for a bad file
    ReportRequest r = request;
    r.with_timeline = r.with_timeline || format == "html";
    const report::ReportInput in = build_input(store, r);
    if (format == "html") return report::render_html(in);
    std::ostringstream ss;
    report::print_report_tables(ss, in, text_format, tables);
    return ss.str();
}

}  // namespace jb::results
