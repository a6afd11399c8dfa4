// joulebench recommend results.db: the best (hardware, scheme) per use-case profile, computed from
// the user's own cells: the study's decision matrix. The work is results::recommend
// (src/results/recommend.cpp); this file reads the options and prints. Definitions: docs/metrics.md.

#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/report_run.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "joulebench/table.hpp"
#include "results/recommend.hpp"
#include "results/serving_recommend.hpp"

namespace jb::cli {

void run_recommend(const RecommendParams & o) {
    const Format format = parse_format(o.output);
    results::RecommendRequest request = o.request;
    request.why_column = format == Format::csv || format == Format::json;
    // Options are checked before the file is opened: a typo is a usage error whatever the file.
    if (o.traffic.empty() && request.profile != "serving") results::selected_profiles(request);
    const Store store = Store::open_readonly(o.db);
    // --traffic or --profile serving: the served operating points answer (profile serving).
    if (const auto serving = results::serving_recommendation(store, o.db, o.traffic, request)) {
        print_table(std::cout, *serving, format);
        return;
    }
    const results::RecommendResult result = results::recommend(store, o.db, request);

    for (const auto & m : result.missing) fmt::print(stderr, "recommend: {}\n", m);
    for (size_t i = 0; i < result.tables.size(); ++i) {
        if (i) std::cout << "\n";
        print_table(std::cout, result.tables[i], format);
    }
    // Families (sweep --family) follow the matrix in the formats that hold several tables; CSV and
    // JSON hold one, so they get it with --families.
    if (result.families && (format == Format::table || format == Format::md)) {
        std::cout << "\n";
        if (format == Format::md) std::cout << "## Distilled vs base model\n\n";
        print_table(std::cout, *result.families, format);
    }
    if (!result.nothing_recommended.empty()) throw Error(fmt::format("{}: {}", o.db, result.nothing_recommended));
}

void add_recommend_command(CLI::App & app) {
    auto o = std::make_shared<RecommendParams>();
    results::RecommendRequest & r = o->request;
    CLI::App * cmd = app.add_subcommand(
        "recommend",
        "Best (hardware, scheme) per use case from your results: accuracy retention, EOR gain, energy "
        "saving vs fp16, with their noise");
    cmd->add_option("db", o->db, "Result database written by joulebench sweep")->required();
    cmd->add_option("--profile", r.profile,
                    "datacenter, enterprise, research, edge, budget, serving, custom or all (all: the five, plus custom "
                    "when a constraint is given; serving: each scheme's served operating point)")
        ->capture_default_str();
    cmd->add_option("--min-retention", r.min_retention, "Minimum accuracy retention vs fp16: 0.98 or 98 (%)");
    cmd->add_option("--max-memory-gb", r.max_memory_gib,
                    "Largest model file in GiB (also the edge profile's cap, default 8)");
    cmd->add_option("--max-latency-s", r.max_latency_s, "Longest wall time of the compared workload (s)");
    cmd->add_option("--max-ttft-s", r.max_ttft_s, "Longest mean time to first token (s; needs a generation task)");
    cmd->add_option("--max-j-per-token", r.max_j_per_token, "Most energy per processed token (J)");
    cmd->add_option("--grid-g-per-kwh", r.grid_g_per_kwh,
                    "Grid carbon intensity, gCO2e/kWh (default: world average 2024, IEA)")
        ->capture_default_str();
    add_cost_options(cmd, r.cost);
    cmd->add_option("--reference", r.reference, "Reference scheme of every ratio")->capture_default_str();
    auto * cands = cmd->add_flag_callback(
        "--candidates", [o] { o->request.view = results::RecommendRequest::View::candidates; },
        "List every candidate with its metrics, retention interval and Pareto flag instead of recommending");
    cmd->add_flag_callback(
           "--families", [o] { o->request.view = results::RecommendRequest::View::families; },
           "Print the distilled vs base comparison of the model families (sweep --family) instead")
        ->excludes(cands);
    cmd->add_option("--traffic", o->traffic,
                    "Serving: prompt=N,output=N,concurrency=C (or rate=R/s)[,ttft_p99=2s]: the scheme to serve, from "
                    "served levels where they match, else from offline per-phase J/token (profile serving)");
    cmd->add_option("-o,--output", o->output, "table, md, csv or json")->capture_default_str();
    cmd->footer(
        "Profiles (docs/metrics.md): datacenter = max EOR at >= 98 % retention; enterprise = max EOR at >= 99 %;\n"
        "research = lowest latency at >= 97 %; edge = max EOR with the model file <= 8 GiB at >= 95 %;\n"
        "budget = lowest energy at >= 94 %; custom = max EOR within the constraint options given.\n"
        "Constraint options tighten a single named profile; with --profile all they define custom, and\n"
        "--max-memory-gb also sets edge's cap. Every scheme is compared with fp16 on the same host, model and\n"
        "workload over every task both ran (fp16's zeros included): retention is the ratio of mean scores,\n"
        "saving and EOR gain are over the same whole workload. The best and the runner-up are compared with\n"
        "their noise (a paired bootstrap over items, energy from repeats or the window's length): when the\n"
        "95 % interval holds 0 the row says 'tie' and the tie-break (less energy beyond noise, then the\n"
        "simpler scheme) picks. Exits non-zero when nothing can be recommended.\n"
        "Cost: the hardware's tier comes from the GPU catalogue; with --usd-per-kwh and a price (catalogue list\n"
        "price or --gpu-price-usd), cost per million tokens = energy + price / (--lifetime-years x --utilisation)\n"
        "spread over the seconds a million tokens take (docs/metrics.md). Rows projected to another GPU\n"
        "(joulebench project) are flagged 'projected'.");
    cmd->callback([o] { run_recommend(*o); });
}

}  // namespace jb::cli
