// The shipped GPU catalogue, NVML name matching and the errors of a bad catalogue file.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "hardware/catalogue.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::hardware;
namespace fs = std::filesystem;

namespace {

const std::string kShipped = std::string(JB_SOURCE_DIR) + "/data/hardware/gpus.json";

// A catalogue with one entry, `entry_body` replacing its fields after "id".
std::string write_catalogue(const std::string & name, const std::string & text) {
    const fs::path p = fs::temp_directory_path() / ("jb-cat-" + std::to_string(::getpid()) + "-" + name + ".json");
    std::ofstream(p) << text;
    return p.string();
}

const char * kGood = R"({"gpus": [{"id": "x1", "name": "X One", "match": ["X1"], "vendor": "NVIDIA",
    "architecture": "Test", "form_factor": "PCIe", "memory_gib": 16, "memory_bw_gbs": 500, "tdp_w": 200,
    "idle_w": null, "fp16_tflops": 100, "int8_tops": null, "price_tier": "consumer",
    "sources": ["https://example.com/x1.pdf"]}]})";

std::string error_of(const std::string & path) {
    try {
        load_catalogue(path);
    } catch (const InputError & e) {
        return e.what();
    }
    return "(no error)";
}

std::string replaced(std::string text, const std::string & from, const std::string & to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
}

}  // namespace

TEST(Catalogue, shipped_catalogue_has_the_required_gpus_with_sources) {
    const Catalogue cat = load_catalogue(kShipped);
    for (const char * id : {"a100-pcie-40gb", "a100-pcie-80gb", "a100-sxm-80gb", "rtx-4090", "rtx-3090-ti",
                            "rtx-4060-ti-16gb", "v100-sxm2-32gb", "l40s", "h100-pcie", "h100-sxm", "h200", "a10", "l4",
                            "rtx-5090"}) {
        const GpuSpec * g = cat.find(id);
        ASSERT_NE(g, nullptr) << id;
        EXPECT_FALSE(g->sources.empty()) << id;
        EXPECT_GT(g->memory_bw_gbs, 0) << id;
        EXPECT_GT(g->fp16_tflops, 0) << id;
        EXPECT_FALSE(std::isfinite(g->idle_w) && g->idle_source.empty()) << id;
    }
    // datasheet figures the projection depends on most
    EXPECT_DOUBLE_EQ(cat.find("h100-sxm")->memory_bw_gbs, 3350);
    EXPECT_DOUBLE_EQ(cat.find("h200")->memory_bw_gbs, 4800);
    EXPECT_DOUBLE_EQ(cat.find("h200")->memory_gib, 141);
    EXPECT_DOUBLE_EQ(cat.find("h100-sxm")->idle_w, 75);  // measured by joulebench
    // the kernel-bound decode's scale (docs/projection.md): every entry has SMs and a boost clock
    for (const GpuSpec & g : cat.gpus) EXPECT_TRUE(g.sm_count > 0 && g.boost_clock_mhz > 0) << g.id;
    EXPECT_DOUBLE_EQ(cat.find("h100-sxm")->sm_count, 132);
    EXPECT_DOUBLE_EQ(cat.find("h200")->sm_count, 132);
    EXPECT_DOUBLE_EQ(cat.find("h200")->boost_clock_mhz, cat.find("h100-sxm")->boost_clock_mhz);
    EXPECT_DOUBLE_EQ(cat.find("h200")->idle_w, 78);      // measured by joulebench (2026-11-26)
    EXPECT_TRUE(std::isnan(cat.find("l40s")->idle_w));   // not published
    EXPECT_TRUE(std::isnan(cat.find("v100-sxm2-32gb")->int8_tops));
    EXPECT_EQ(cat.find("RTX-4090"), cat.find("rtx-4090"));  // ids are case-insensitive
    EXPECT_EQ(cat.find("rtx-9999"), nullptr);
}

TEST(Catalogue, match_device_maps_real_nvml_names) {
    const Catalogue cat = load_catalogue(kShipped);
    auto id_of = [&](const std::string & nvml) {
        const GpuSpec * g = cat.match_device(nvml);
        return g ? g->id : std::string("(none)");
    };
    EXPECT_EQ(id_of("NVIDIA H100 80GB HBM3"), "h100-sxm");
    EXPECT_EQ(id_of("NVIDIA H100 PCIe"), "h100-pcie");
    EXPECT_EQ(id_of("NVIDIA H200"), "h200");
    EXPECT_EQ(id_of("NVIDIA A100-SXM4-80GB"), "a100-sxm-80gb");
    EXPECT_EQ(id_of("NVIDIA A100 80GB PCIe"), "a100-pcie-80gb");
    EXPECT_EQ(id_of("NVIDIA A100-PCIE-40GB"), "a100-pcie-40gb");
    EXPECT_EQ(id_of("Tesla V100-SXM2-32GB"), "v100-sxm2-32gb");
    EXPECT_EQ(id_of("NVIDIA GeForce RTX 4090"), "rtx-4090");
    EXPECT_EQ(id_of("NVIDIA GeForce RTX 3090 Ti"), "rtx-3090-ti");
    EXPECT_EQ(id_of("NVIDIA GeForce RTX 4060 Ti"), "rtx-4060-ti-16gb");
    EXPECT_EQ(id_of("NVIDIA GeForce RTX 5090"), "rtx-5090");
    EXPECT_EQ(id_of("NVIDIA L40S"), "l40s");
    EXPECT_EQ(id_of("NVIDIA L4"), "l4");
    EXPECT_EQ(id_of("NVIDIA A10"), "a10");
    EXPECT_EQ(id_of("nvidia geforce rtx 4090"), "rtx-4090");  // case does not matter
    // whole words only: an A100 is not an A10, an L40S not an L4, a 3090 not a 3090 Ti
    EXPECT_EQ(id_of("NVIDIA A100-SXM4-40GB"), "(none)");
    EXPECT_EQ(id_of("NVIDIA A10G"), "(none)");
    EXPECT_EQ(id_of("NVIDIA GeForce RTX 3090"), "(none)");
    EXPECT_EQ(id_of("NVIDIA L40"), "(none)");
    EXPECT_EQ(id_of(""), "(none)");
}

TEST(Catalogue, good_file_parses_with_nulls_as_unknown) {
    const std::string path = write_catalogue("good", kGood);
    const Catalogue cat = load_catalogue(path);
    ASSERT_EQ(cat.gpus.size(), 1u);
    EXPECT_EQ(cat.path, path);
    EXPECT_EQ(cat.gpus[0].name, "X One");
    EXPECT_TRUE(std::isnan(cat.gpus[0].idle_w));
    EXPECT_TRUE(std::isnan(cat.gpus[0].int8_tops));
    EXPECT_TRUE(std::isnan(cat.gpus[0].sm_count));  // optional: absent
    EXPECT_TRUE(std::isnan(cat.gpus[0].boost_clock_mhz));
    EXPECT_FALSE(cat.gpus[0].list_price_usd.has_value());
    fs::remove(path);
}

TEST(Catalogue, missing_field_names_file_and_field) {
    const std::string path = write_catalogue("missing", replaced(kGood, R"("tdp_w": 200,)", ""));
    EXPECT_EQ(error_of(path), path + ": field 'gpus[0].tdp_w': missing (entry 'x1')");
    fs::remove(path);
}

TEST(Catalogue, bad_type_names_file_and_field) {
    const std::string path = write_catalogue("type", replaced(kGood, R"("memory_bw_gbs": 500)", R"("memory_bw_gbs": "fast")"));
    EXPECT_EQ(error_of(path), path + ": field 'gpus[0].memory_bw_gbs': expected a number, found a string (entry 'x1')");
    fs::remove(path);
}

TEST(Catalogue, other_bad_files_are_refused_with_the_reason) {
    struct Case {
        std::string name, text, expect;
    };
    const std::vector<Case> cases = {
        {"notjson", "{\"gpus\": [", "not valid JSON"},
        {"nogpus", "{}", "field 'gpus': missing"},
        {"idle_missing", replaced(kGood, R"("idle_w": null,)", ""),
         "field 'gpus[0].idle_w': missing (use null where no figure is published)"},
        {"idle_unsourced", replaced(kGood, R"("idle_w": null,)", R"("idle_w": 20,)"),
         "field 'gpus[0].idle_source': missing: say where idle_w comes from"},
        {"negative", replaced(kGood, R"("memory_gib": 16)", R"("memory_gib": -16)"),
         "field 'gpus[0].memory_gib': must be positive, not -16"},
        {"sm_count", replaced(kGood, R"("memory_gib": 16)", R"("memory_gib": 16, "sm_count": "many")"),
         "field 'gpus[0].sm_count': expected a number or null, found a string"},
        {"typo", replaced(kGood, R"("vendor")", R"("vendorr": "x", "vendor")"), "field 'gpus[0].vendorr': unknown field"},
        {"no_sources", replaced(kGood, R"(["https://example.com/x1.pdf"])", "[]"),
         "field 'gpus[0].sources': expected a non-empty array of strings"},
        {"price_undated", replaced(kGood, R"("price_tier": "consumer",)", R"("price_tier": "consumer", "list_price_usd": 499,)"),
         "field 'gpus[0].price_date': missing"},
    };
    for (const Case & c : cases) {
        const std::string path = write_catalogue(c.name, c.text);
        const std::string err = error_of(path);
        EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << c.name << ": " << err;
        EXPECT_NE(err.find(c.expect), std::string::npos) << c.name << ": " << err;
        fs::remove(path);
    }
    const std::string dup = write_catalogue(
        "dup", std::string(R"({"gpus": [)") + std::string(kGood).substr(10, std::string(kGood).size() - 12) + "," +
                   std::string(kGood).substr(10, std::string(kGood).size() - 12) + "]}");
    EXPECT_NE(error_of(dup).find("field 'gpus[1].id': duplicate id 'x1'"), std::string::npos) << error_of(dup);
    fs::remove(dup);
    EXPECT_NE(error_of("/nonexistent/gpus.json").find("/nonexistent/gpus.json: cannot read"), std::string::npos);
}
