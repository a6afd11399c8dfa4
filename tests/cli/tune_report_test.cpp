// The report over hand-built stores: the host-to-host spread of the same cells in a merged
// database, tuned against default engine settings, and n with the interval of every repeated cell.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joulebench/store.hpp"
#include "run_joulebench.hpp"
#include "support/store_builder.hpp"

using namespace jb_test;
using jb::test::TempDir;

namespace {

const std::string kWorkload = "bench-v2:tg:256:n256:s1:r5";
const std::string kH200 = R"([{"name": "NVIDIA H200", "uuid": "GPU-1"}])";

// Three repeats of tg256 (1000 decode tokens each) with these energies.
void add_repeats(jb::Store & st, const jb::HostRecord & h, const std::string & fp, const std::vector<double> & joules,
                 const std::string & energy_json = "{}") {
    const auto m = jb::test::add_model(st, "m1", "qwen.gguf");
    const auto s = jb::test::add_scheme(st, "f16", "fp16");
    for (size_t i = 0; i < joules.size(); ++i) {
        jb::CellRecord c = jb::test::minimal_cell(h, m, s, "tg256", fp);
        c.repeat_idx = int64_t(i);
        c.energy_j = joules[i];
        c.decode_tokens = 1000;
        c.decode_energy_j = joules[i];
        c.decode_t_s = 10.0;
        c.wall_t_s = 10.0;
        c.energy_json = energy_json;
        st.commit_cell(c);
    }
}

// The named table of `joulebench report DB -o json --table NAME` as rows of name -> value.
std::vector<nlohmann::json> report_rows(const std::string & db, const std::string & table) {
    const ChildRun r = joulebench({"report", db, "-o", "json", "--table", table});
    EXPECT_EQ(r.status, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    std::vector<nlohmann::json> out;
    for (const auto & t : doc["tables"]) {
        if (t["name"] != table) continue;
        for (const auto & row : t["rows"]) out.push_back(row);
    }
    return out;
}

}  // namespace

TEST(TuneReport, a_merged_database_shows_the_spread_between_hosts_of_one_gpu_model) {
    const TempDir dir;
    {
        auto a = jb::Store::open(dir.file("a.db"), true);
        add_repeats(a, jb::test::add_host(a, "h200-a", kH200), kWorkload, {100, 101, 99});
        auto b = jb::Store::open(dir.file("b.db"), true);
        jb::HostRecord hb;
        hb.hostname = "h200-b";
        hb.gpus_json = R"([{"name": "NVIDIA H200", "uuid": "GPU-2"}])";
        hb.fingerprint = jb::host_fingerprint(hb);
        b.upsert_host(hb);
        add_repeats(b, hb, kWorkload, {110, 111, 109});
    }
    const ChildRun merged = joulebench({"merge", dir.file("a.db"), dir.file("b.db"), "-o", dir.file("all.db")});
    ASSERT_EQ(merged.status, 0) << merged.err;
    const auto rows = report_rows(dir.file("all.db"), "host_spread");
    ASSERT_EQ(rows.size(), 1u);
    const auto & r = rows[0];
    EXPECT_EQ(r["device"], "NVIDIA H200");
    EXPECT_EQ(r["hosts"], 2);
    EXPECT_EQ(r["host_names"], "h200-a, h200-b");
    EXPECT_NEAR(r["j_per_token_min"].get<double>(), 0.100, 1e-9);
    EXPECT_NEAR(r["j_per_token_max"].get<double>(), 0.110, 1e-9);
    EXPECT_NEAR(r["spread_pct"].get<double>(), 10.0, 1e-6);
    // Each host: sd 0.001 over 3 repeats -> 4.3027 x 0.001 / sqrt(3) = 0.0024841; of 0.100: 2.484 %.
    EXPECT_NEAR(r["repeat_ci95_pct"].get<double>(), 2.4841, 1e-3);
    EXPECT_EQ(r["beyond_noise"], 1);

    // One host alone has no spread to show.
    EXPECT_TRUE(report_rows(dir.file("a.db"), "host_spread").empty());
}

TEST(TuneReport, tuned_cells_beside_default_ones_show_the_saving_with_its_interval) {
    const TempDir dir;
    {
        auto st = jb::Store::open(dir.file("t.db"), true);
        const auto h = jb::test::add_host(st, "node1", kH200);
        add_repeats(st, h, kWorkload, {100, 101, 99});
        add_repeats(
            st, h, kWorkload + "|engine=tuned", {80, 81, 79},
            R"({"tuned": {"settings": "|tune=c:8192,b:2048,ub:256,np:1,fa:on,t:0,kv:f16/f16", "label": "c 8192, b 2048, ub 256, np 1, fa on, all threads, KV f16/f16"}})");
        // A tune trial: a search, left out of the results.
        add_repeats(st, h, kWorkload + "|tune=c:8192,b:2048,ub:256,np:1,fa:on,t:0,kv:f16/f16", {1});
    }
    const auto rows = report_rows(dir.file("t.db"), "tuned");
    ASSERT_EQ(rows.size(), 1u);
    const auto & r = rows[0];
    EXPECT_EQ(r["settings"], "c 8192, b 2048, ub 256, np 1, fa on, all threads, KV f16/f16");
    EXPECT_EQ(r["default_n"], 3);
    EXPECT_EQ(r["tuned_n"], 3);
    EXPECT_NEAR(r["default_j_per_token"].get<double>(), 0.1, 1e-9);
    EXPECT_NEAR(r["tuned_j_per_token"].get<double>(), 0.08, 1e-9);
    EXPECT_NEAR(r["default_energy_j"].get<double>(), 100.0, 1e-9);
    EXPECT_NEAR(r["tuned_energy_j"].get<double>(), 80.0, 1e-9);
    EXPECT_NEAR(r["saving_pct"].get<double>(), 20.0, 1e-6);
    // Delta method on log(0.8): se 0.0092418, Welch df 3.816 -> t 2.8351; 0.8 x exp(+-0.026201):
    // a saving of 17.88 % to 22.07 %.
    EXPECT_EQ(r["saving_ci95_pct"], "17.9 to 22.1");

    // The per-token table: n and the interval of each, the trial left out.
    const auto tokens = report_rows(dir.file("t.db"), "tokens");
    ASSERT_EQ(tokens.size(), 2u);
    for (const auto & t : tokens) {
        EXPECT_EQ(t["repeats"], 3);
        const double mean = t["j_per_token"].get<double>();
        EXPECT_NEAR(t["j_per_token_ci95_pct"].get<double>(), 100 * 0.0024841 / mean, 1e-2);
    }
    EXPECT_TRUE(tokens[0]["task"] == "tg256 [tuned]" || tokens[1]["task"] == "tg256 [tuned]");
}
