// joulebench report [DB] [-o FORMAT|FILE] [--format F]: the results as a self-contained HTML page
// with charts, or the same tables as Markdown, CSV, JSON or a terminal table. docs/report.md.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/report_run.hpp"
#include "joulebench/error.hpp"
#include "results/report_input.hpp"
#include "util/files.hpp"

namespace jb::cli {

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

}  // namespace

void run_report(const ReportParams & p) {
    const Destination dest = resolve_destination(p);
    const std::string text = results::render_report(p.db, p.request, dest.format, p.tables);
    if (dest.path.empty()) {
        std::cout << text;
        std::cout.flush();
        return;
    }
    write_file_atomically(dest.path, text);
    fmt::print(stderr, "report: wrote {} ({}, from {})\n", dest.path, dest.format, p.db);
}

void add_report_command(CLI::App & app) {
    auto p = std::make_shared<ReportParams>();
    results::ReportRequest & r = p->request;
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
    cmd->add_option("--timeline-cell", r.timeline_cell,
                    "HTML: the cell id whose power timeline to plot (default: the longest fp16 or int8 cell)");
    cmd->add_option("--reference", r.reference, "Reference scheme for retention, gain and TWEOR")
        ->capture_default_str();
    add_cost_options(cmd, r.cost);
    cmd->add_option("--grid-g-per-kwh", r.grid_g_per_kwh, "Grid carbon intensity, g CO2e per kWh")
        ->capture_default_str();
    cmd->add_option("--title", r.title, "Title of the report")->capture_default_str();
    cmd->add_option("--slo", r.slo, "Latency targets of the serving operating points (default ttft_p99=2s,tpot_p99=100ms)");
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
