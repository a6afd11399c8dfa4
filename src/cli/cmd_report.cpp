// joulebench report [DB] [-o FORMAT|FILE] [--format F]: the results as a self-contained HTML page
// with charts, or the same tables as Markdown, CSV, JSON or a terminal table. docs/report.md.

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/report_run.hpp"
#include "report/report.hpp"
#include "results/cost_model.hpp"
#include "results/family.hpp"
#include "results/store_rows.hpp"
#include "joulebench/store.hpp"
#include "joulebench/error.hpp"

namespace jb::cli {

using results::cost_formula_note;
using results::cost_model;
using results::estimated_domains;
using results::load_family_members;
using results::load_rows;

void add_cost_options(CLI::App * cmd, results::CostParams & p) {
    cmd->add_option("--usd-per-kwh", p.usd_per_kwh,
                    "Electricity price: adds energy cost and, with a hardware price, cost per million tokens");
    cmd->add_option("--gpu-price-usd", p.gpu_price_usd,
                    "Price of one GPU (of the device, without a GPU) in USD, instead of the catalogue's list price");
    cmd->add_option("--lifetime-years", p.lifetime_years, "Years over which the hardware price is amortised")
        ->capture_default_str();
    cmd->add_option("--utilisation", p.utilisation,
                    "Share of its lifetime the hardware does useful work, 0..1 (amortisation)")
        ->capture_default_str();
}

namespace {

namespace fs = std::filesystem;



const std::vector<std::string> kFormats = {"html", "md", "csv", "json", "table"};

bool is_format(const std::string & s) {
    return std::find(kFormats.begin(), kFormats.end(), s) != kFormats.end();
}

std::string format_of_extension(const std::string & path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".html" || ext == ".htm") return "html";
    if (ext == ".md" || ext == ".markdown") return "md";
    if (ext == ".csv") return "csv";
    if (ext == ".json") return "json";
    if (ext == ".txt") return "table";
    return "";
}

// Where the report goes and in what format: "-o md" prints Markdown, "-o report.md" writes it,
// "--format" overrides the extension; HTML (the default) goes to a file unless "-o -".
struct Destination {
    std::string format;
    std::string path;  // "" = stdout
};

Destination resolve_destination(const ReportParams & p) {
    if (!p.format.empty() && !is_format(p.format)) {
        throw UsageError(fmt::format("unknown format '{}' (expected html, md, csv, json or table)", p.format));
    }
    Destination d;
    if (p.output.empty() || is_format(p.output)) {
        const std::string named = p.output.empty() ? p.format : p.output;
        if (!p.format.empty() && !p.output.empty() && p.format != p.output) {
            throw UsageError(fmt::format("-o {} and --format {} disagree: give one of them", p.output, p.format));
        }
        d.format = named.empty() ? "html" : named;
        d.path = d.format == "html" ? kDefaultHtml : "";
        return d;
    }
    if (p.output == "-") {
        d.format = p.format.empty() ? "html" : p.format;
        return d;
    }
    d.path = p.output;
    d.format = p.format.empty() ? format_of_extension(p.output) : p.format;
    if (d.format.empty()) {
        throw UsageError(fmt::format(
            "cannot tell the format of '{}' from its extension (.html, .md, .csv, .json, .txt): add --format", p.output));
    }
    return d;
}

// Writes beside the target, then renames: a reader never sees half a report, and a failed
// write leaves the previous report in place.
void write_file_atomically(const std::string & path, const std::string & text) {
    const fs::path target(path);
    if (target.has_parent_path()) {
        std::error_code ec;
        fs::create_directories(target.parent_path(), ec);
        if (ec) throw InputError(path, fmt::format("cannot create directory {}: {}", target.parent_path().string(), ec.message()));
    }
    const std::string tmp = fmt::format("{}.tmp-{}", path, getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw InputError(path, "cannot write (permission denied, or the directory does not exist)");
        out << text;
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            throw InputError(path, "write failed (disk full?)");
        }
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw InputError(path, "cannot write: " + ec.message());
    }
}

// The cell to plot: the one asked for, else the longest reference or int8 cell with a timeline
// (the longest run shows its phases best), else the longest of any scheme.
std::optional<report::TimelineCell> pick_timeline(const Store & store, const std::vector<CellRecord> & cells,
                                                  const ReportParams & p) {
    auto make = [&](const CellRecord & c, PowerTimeline tl) {
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
    };
    if (p.timeline_cell != 0) {
        for (const auto & c : cells) {
            if (c.id != p.timeline_cell) continue;
            auto tl = store.cell_timeline(c.id);
            if (!tl || tl->t_s.empty()) {
                throw Error(fmt::format("{}: cell {} ({} {} {}) has no stored power timeline", store.path(), c.id,
                                        c.model_name, c.scheme_name, c.task));
            }
            return make(c, std::move(*tl));
        }
        throw UsageError(fmt::format("--timeline-cell {}: {} has no such cell", p.timeline_cell, store.path()));
    }
    std::vector<const CellRecord *> order;
    for (const auto & c : cells) {
        if (c.ok()) order.push_back(&c);
    }
    auto preferred = [&](const CellRecord * c) {
        return c->scheme_name == p.reference || c->scheme_canonical == p.reference || c->scheme_name == "int8";
    };
    auto wall = [](const CellRecord * c) { return std::isfinite(c->wall_t_s) ? c->wall_t_s : 0.0; };
    std::stable_sort(order.begin(), order.end(), [&](const CellRecord * a, const CellRecord * b) {
        if (preferred(a) != preferred(b)) return preferred(a);
        return wall(a) > wall(b);
    });
    for (const CellRecord * c : order) {
        auto tl = store.cell_timeline(c->id);
        if (tl && !tl->t_s.empty()) return make(*c, std::move(*tl));
    }
    return std::nullopt;
}

}  // namespace

void run_report(const ReportParams & p) {
    const Destination dest = resolve_destination(p);
    results::check_cost_params(p.cost);
    if (p.grid_g_per_kwh < 0 || !std::isfinite(p.grid_g_per_kwh)) throw UsageError("--grid-g-per-kwh must be >= 0");

    const Store store = Store::open_readonly(p.db);  // the store's one-line error for a bad file
    const std::vector<CellRecord> cells = store.list_cells();
    std::vector<ServeLevelRecord> serve_levels = store.list_serve_levels();
    if (cells.empty() && serve_levels.empty()) {
        throw Error(fmt::format("{}: no cells: nothing to report yet (run `joulebench sweep --db {}` first)", p.db,
                                p.db));
    }

    report::ReportInput in;
    in.source = p.db;
    in.generated_at = jb::utc_now_iso();
    in.title = p.title;
    in.options.reference = p.reference;
    in.options.usd_per_kwh = p.cost.usd_per_kwh;
    in.options.grid_g_per_kwh = p.grid_g_per_kwh;
    in.rows = load_rows(store, /*items=*/true);  // the decision matrix's noise needs the items
    in.cost = cost_model(in.rows, p.cost, in.cost_notes);
    in.cost_formula = cost_formula_note(p.cost);
    in.families = load_family_members(store);
    in.serve_levels = std::move(serve_levels);
    in.slo = p.slo;
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
    if (dest.format == "html") in.timeline = pick_timeline(store, cells, p);

    std::string text;
    if (dest.format == "html") {
        text = report::render_html(in);
    } else {
        std::ostringstream ss;
        report::print_report_tables(ss, in, parse_format(dest.format), p.tables);
        text = ss.str();
    }
    if (dest.path.empty()) {
        std::cout << text;
        std::cout.flush();
        return;
    }
    write_file_atomically(dest.path, text);
    fmt::print(stderr, "report: wrote {} ({}, {} cells and {} serve levels from {})\n", dest.path, dest.format,
               cells.size(), in.serve_levels.size(), p.db);
}

void add_report_command(CLI::App & app) {
    auto p = std::make_shared<ReportParams>();
    CLI::App * cmd = app.add_subcommand(
        "report", "The results as one self-contained HTML page with charts, or as Markdown, CSV or JSON tables");
    cmd->add_option("db", p->db, "Result database (only read, never modified)")->capture_default_str();
    cmd->add_option("-o,--output", p->output,
                    "A format (html, md, csv, json, table) or a file whose extension gives it (.html, .md, .csv, "
                    ".json, .txt); '-' for stdout. Default: HTML to " +
                        std::string(kDefaultHtml) + "; a format name other than html prints to stdout");
    cmd->add_option("--format", p->format, "Force the format: html, md, csv, json or table");
    cmd->add_option("--table", p->tables,
                    "Text formats: tables to print (summary, overall, tokens, decision, hardware, families, hosts, "
                    "serving, serving_latency, serving_frontier, sensors, energy, models, schemes, failed, all; default all, and summary for CSV, which holds one)")
        ->delimiter(',');
    cmd->add_option("--timeline-cell", p->timeline_cell,
                    "HTML: the cell id whose power timeline to plot (default: the longest fp16 or int8 cell)");
    cmd->add_option("--reference", p->reference, "Reference scheme for retention, gain and TWEOR")
        ->capture_default_str();
    add_cost_options(cmd, p->cost);
    cmd->add_option("--grid-g-per-kwh", p->grid_g_per_kwh, "Grid carbon intensity, g CO2e per kWh")
        ->capture_default_str();
    cmd->add_option("--title", p->title, "Title of the report")->capture_default_str();
    cmd->add_option("--slo", p->slo, "Latency targets of the serving operating points (default ttft_p99=2s,tpot_p99=100ms)");
    cmd->footer(
        "Examples:\n"
        "  joulebench report results.db -o report.html   one HTML file: charts, tables, provenance\n"
        "  joulebench report results.db -o md            Markdown tables on stdout\n"
        "  joulebench report results.db -o summary.csv   the summary table as CSV\n"
        "  joulebench report results.db --format json --table summary,decision\n"
        "docs/report.md describes every section and column.");
    cmd->callback([p] { run_report(*p); });
}

}  // namespace jb::cli
