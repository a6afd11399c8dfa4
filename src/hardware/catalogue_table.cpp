#include "hardware/catalogue_table.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace jb::hardware {

Table catalogue_table(const Catalogue & cat, const std::vector<std::string> & host_names, bool with_sources) {
    const auto or_empty = [](double v) { return std::isfinite(v) ? Value(v) : Value(); };
    std::map<std::string, std::vector<std::string>> host_of;  // catalogue id -> this host's names
    std::vector<std::string> unmatched;
    for (const std::string & n : host_names) {
        if (const GpuSpec * g = cat.match_device(n)) {
            host_of[g->id].push_back(n);
        } else {
            unmatched.push_back(n);
        }
    }

    Table t;
    t.title = fmt::format("GPU catalogue ({})", cat.path);
    t.add_text_column("host", "Host");
    t.add_text_column("id", "Id");
    t.add_text_column("name", "Name");
    t.add_text_column("architecture", "Architecture");
    t.add_text_column("form_factor", "Form");
    t.add_column("memory_gib", "Memory (GiB)", 0);
    t.add_column("memory_bw_gbs", "Bandwidth (GB/s)", 0);
    t.add_column("tdp_w", "TDP (W)", 0);
    t.add_column("idle_w", "Idle (W)", 0);
    t.add_column("fp16_tflops", "FP16 dense (TFLOP/s)", 1);
    t.add_column("int8_tops", "INT8 dense (TOP/s)", 1);
    t.add_column("sm_count", "SMs", 0);
    t.add_column("boost_clock_mhz", "Boost (MHz)", 0);
    t.add_text_column("price_tier", "Tier");
    t.add_column("list_price_usd", "List price (USD)", 0);
    t.add_text_column("price_date", "Price date");
    if (with_sources) {
        t.add_column("idle_source", "Idle source");
        t.add_column("sources", "Sources");
        t.add_column("notes", "Notes");
    }
    for (const GpuSpec & g : cat.gpus) {
        const auto host = host_of.find(g.id);
        std::vector<Value> row = {host == host_of.end() ? Value(std::string()) : Value(std::string("*")),
                                  g.id,
                                  g.name,
                                  g.architecture,
                                  g.form_factor,
                                  g.memory_gib,
                                  g.memory_bw_gbs,
                                  g.tdp_w,
                                  or_empty(g.idle_w),
                                  or_empty(g.fp16_tflops),
                                  or_empty(g.int8_tops),
                                  or_empty(g.sm_count),
                                  or_empty(g.boost_clock_mhz),
                                  g.price_tier,
                                  g.list_price_usd ? Value(*g.list_price_usd) : Value(),
                                  g.price_date.empty() ? Value() : Value(g.price_date)};
        if (with_sources) {
            std::string sources;
            for (const auto & s : g.sources) sources += (sources.empty() ? "" : " ") + s;
            row.push_back(g.idle_source.empty() ? Value() : Value(g.idle_source));
            row.push_back(sources);
            row.push_back(g.notes);
        }
        t.add_row(std::move(row));
    }
    for (const auto & [id, matched] : host_of) {
        for (const auto & n : matched) t.notes.push_back(fmt::format("* this host: {} is '{}'", n, id));
    }
    for (const auto & n : unmatched) {
        t.notes.push_back(fmt::format("this host's GPU '{}' is not in the catalogue", n));
    }
    if (host_names.empty()) t.notes.push_back("no GPU found on this host (NVML); none marked");
    t.notes.push_back(
        "throughput is dense (no sparsity); GeForce FP16 is the FP16-accumulate rate; an empty idle means no published "
        "figure; sources per entry: -o json");
    return t;
}

}  // namespace jb::hardware
