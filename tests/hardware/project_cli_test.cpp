// joulebench hardware list and joulebench project, end to end on crafted stores and a crafted
// catalogue whose round numbers make every expected value easy to check by hand.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "../cli/run_joulebench.hpp"
#include "joulebench/store.hpp"

using namespace jb;
using jb_test::joulebench;

namespace {

// src-gpu: 1000 GB/s, 100 TFLOP/s FP16, 200 TOP/s INT8, 500 W, idle 100 W
// tgt-gpu: 500 GB/s, 200 TFLOP/s FP16, 400 TOP/s INT8, 300 W, idle 60 W, 16 GiB
// small-gpu: like tgt-gpu with 8 GiB
const char * kCatalogue = R"({"gpus": [
  {"id": "src-gpu", "name": "Source GPU", "match": ["H100 80GB HBM3"], "vendor": "NVIDIA", "architecture": "T",
   "form_factor": "SXM", "memory_gib": 80, "memory_bw_gbs": 1000, "tdp_w": 500, "idle_w": 100,
   "idle_source": "test", "fp16_tflops": 100, "int8_tops": 200, "price_tier": "datacenter", "sources": ["test"]},
  {"id": "tgt-gpu", "name": "Target GPU", "match": ["TGT GPU"], "vendor": "NVIDIA", "architecture": "T",
   "form_factor": "PCIe", "memory_gib": 16, "memory_bw_gbs": 500, "tdp_w": 300, "idle_w": 60,
   "idle_source": "test", "fp16_tflops": 200, "int8_tops": 400, "price_tier": "consumer", "sources": ["test"]},
  {"id": "small-gpu", "name": "Small GPU", "match": ["SMALL GPU"], "vendor": "NVIDIA", "architecture": "T",
   "form_factor": "PCIe", "memory_gib": 8, "memory_bw_gbs": 500, "tdp_w": 300, "idle_w": 60,
   "idle_source": "test", "fp16_tflops": 200, "int8_tops": 400, "price_tier": "consumer", "sources": ["test"]}
]})";

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

HostRecord host(const std::string & name, const std::string & gpu) {
    HostRecord h;
    h.hostname = name;
    h.cpu_model = "cpu";
    h.cpu_cores = 16;
    h.gpus_json = fmt::format(R"([{{"name":"{}","uuid":"GPU-{}"}}])", gpu, name);
    h.llama_commit = "de3ff81";
    h.joulebench_version = "test";
    h.fingerprint = host_fingerprint(h);
    return h;
}

std::string gpu_energy(double j, double idle_w) {
    return fmt::format(R"({{"domains":[{{"domain":"gpu:0","gross_j":{},"idle_w":{},"method":"counter"}}]}})", j,
                       idle_w);
}

// An f16 tg256 cell: 100 decode tokens in t_s seconds for energy_j joules (GPU, idle 100 W).
CellRecord f16_decode_cell(const std::string & host_fp, const std::string & model_hash, double t_s, double energy_j,
                           double peak_gib) {
    CellRecord c;
    c.set_key({host_fp, model_hash, "ftype=F16", "tg256", "wf-tg", 0});
    c.decode_tokens = 100;
    c.decode_t_s = t_s;
    c.decode_energy_j = energy_j;
    c.decode_tok_s = 100 / t_s;
    c.wall_t_s = t_s;
    c.energy_j = energy_j;
    c.idle_power_w = 100;
    c.energy_json = gpu_energy(energy_j, 100);
    c.peak_mem_bytes = int64_t(peak_gib * kGiB);
    return c;
}

// 7e9 parameters; f16 file 14e9 bytes, q8_0 file 7.4375e9 bytes.
//  f16 tg256: 100 decode tokens in 2 s, 600 J (300 W); bytes 100 x 14e9 = 1.4e12 -> 700 GB/s,
//    u_bw 0.7 (bandwidth-bound); target: 1.4e12 / (0.7 x 500e9) = 4 s; share (300-100)/400 = 0.5,
//    P = 60 + 0.5 x 240 = 180 W, 720 J -> 7.2 J/token, 25 tok/s. Peak memory 15 GiB.
//  q8_0 pp512: 1024 prefill tokens in 0.5 s, 250 J (500 W, share 1); FLOPs 2 x 7e9 x 1024 =
//    1.4336e13 -> 28.672 TOP/s, u_c 0.14336 of 200 (compute-bound); target: 1.4336e13 /
//    (0.14336 x 400e12) = 0.25 s at 300 W = 75 J -> 0.0732421875 J/token, 4096 tok/s. Peak memory
//    not recorded: needs 7.4375e9 x 1.1 + 0.5 GiB = 8.12 GiB.
void write_source(const std::string & path) {
    Store st = Store::open(path, true);
    const HostRecord h = host("alpha", "NVIDIA H100 80GB HBM3");
    st.upsert_host(h);
    ModelRecord m;
    m.hash = "m7b";
    m.file_name = "m7b.gguf";
    m.arch = "llama";
    m.n_params = 7'000'000'000;
    m.file_bytes = 14'000'000'000;
    st.upsert_model(m);
    SchemeRecord f16, q8;
    f16.canonical = "ftype=F16";
    f16.name = "fp16";
    f16.default_type = "F16";
    f16.kv_type = "f16/f16";
    f16.bpw = 16;
    f16.file_bytes = 1;  // wrong on purpose: model_schemes must win
    q8 = f16;
    q8.canonical = "ftype=Q8_0";
    q8.name = "int8";
    q8.default_type = "Q8_0";
    q8.bpw = 8.5;
    st.upsert_scheme(f16);
    st.upsert_scheme(q8);
    st.upsert_model_scheme(m.hash, f16.canonical, 16.0, 14'000'000'000);
    st.upsert_model_scheme(m.hash, q8.canonical, 8.5, 7'437'500'000);

    CellRecord c = f16_decode_cell(h.fingerprint, m.hash, 2.0, 600, 15);
    c.decode_energy_net_j = 400;
    st.commit_cell(c);

    CellRecord p;
    p.set_key({h.fingerprint, m.hash, q8.canonical, "pp512", "wf-pp", 0});
    p.prefill_tokens = 1024;
    p.prefill_t_s = 0.5;
    p.prefill_energy_j = 250;
    p.prefill_tok_s = 2048;
    p.wall_t_s = 0.5;
    p.energy_j = 250;
    p.idle_power_w = 100;
    p.energy_json = gpu_energy(250, 100);
    p.primary_metric = "acc";
    p.score = 0.625;
    st.commit_cell(p);
}

// Measured on the target: the f16 tg256 cell at 8 J/token (800 J for 100 tokens) and 20 tok/s.
void write_measured_target(const std::string & path) {
    Store st = Store::open(path, true);
    const HostRecord h = host("beta", "TGT GPU");
    st.upsert_host(h);
    ModelRecord m;
    m.hash = "m7b";
    m.file_name = "m7b.gguf";
    m.n_params = 7'000'000'000;
    st.upsert_model(m);
    SchemeRecord f16;
    f16.canonical = "ftype=F16";
    f16.name = "fp16";
    f16.default_type = "F16";
    st.upsert_scheme(f16);
    CellRecord c;
    c.set_key({h.fingerprint, m.hash, f16.canonical, "tg256", "wf-tg", 0});
    c.decode_tokens = 100;
    c.decode_t_s = 5.0;
    c.decode_energy_j = 800;
    c.energy_json = gpu_energy(800, 60);
    st.commit_cell(c);
    // merged in: the same cell measured on another GPU, which validation must leave out
    const HostRecord other = host("alpha2", "NVIDIA H100 80GB HBM3");
    st.upsert_host(other);
    CellRecord o = c;
    o.host_fingerprint = other.fingerprint;
    o.decode_t_s = 1.0;
    o.decode_energy_j = 100;
    o.energy_json = gpu_energy(100, 60);
    st.commit_cell(o);
}

struct Fixture {
    jb::test::TempDir dir;
    std::string cat = dir.file("gpus.json");
    std::string src = dir.file("a.db");
    std::string measured = dir.file("b.db");
    std::string out = dir.file("out.db");
    Fixture() {
        std::ofstream(cat) << kCatalogue;
        write_source(src);
        write_measured_target(measured);
    }
};

nlohmann::json json_rows(const std::string & out) {
    const auto j = nlohmann::json::parse(out);
    return j.contains("rows") ? j["rows"] : j;
}

}  // namespace

TEST(ProjectCli, projects_to_target_and_writes_marked_cells) {
    Fixture f;
    const auto r = joulebench({"project", "--from", f.src, "--gpu", "tgt-gpu", "--catalogue", f.cat, "--to", f.out,
                               "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    Store out = Store::open_readonly(f.out);
    const auto cells = out.list_cells();
    ASSERT_EQ(cells.size(), 2u);
    const HostRecord src_host = host("alpha", "NVIDIA H100 80GB HBM3");
    for (const CellRecord & c : cells) {
        EXPECT_EQ(c.origin, "projected");
        EXPECT_FALSE(c.energy_estimated);  // that flag is the sensor estimate's; origin marks a projection
        EXPECT_EQ(c.host_fingerprint, "projected:tgt-gpu:" + src_host.fingerprint);
        EXPECT_EQ(c.host_name, "projected Target GPU");
        EXPECT_FALSE(c.projection_json.empty());
    }
    const CellRecord & dec = cells[0].task == "tg256" ? cells[0] : cells[1];
    const CellRecord & pre = cells[0].task == "tg256" ? cells[1] : cells[0];
    EXPECT_EQ(dec.status, "ok");
    EXPECT_NEAR(dec.decode_t_s, 4.0, 1e-9);
    EXPECT_NEAR(dec.decode_energy_j, 720.0, 1e-9);
    EXPECT_NEAR(dec.decode_energy_net_j, 480.0, 1e-9);  // (180 - 60) W x 4 s
    EXPECT_NEAR(dec.decode_tok_s, 25.0, 1e-9);
    EXPECT_NEAR(dec.idle_power_w, 60.0, 1e-12);
    EXPECT_EQ(dec.scheme_file_bytes, 14'000'000'000);
    const auto pj = nlohmann::json::parse(dec.projection_json);
    EXPECT_EQ(pj["phases"]["decode"]["bound"], "bandwidth");
    EXPECT_NEAR(pj["phases"]["decode"]["util_bw"].get<double>(), 0.7, 1e-12);
    EXPECT_NEAR(pj["phases"]["decode"]["power_share"].get<double>(), 0.5, 1e-12);
    EXPECT_EQ(pj["source"]["gpu"], "src-gpu");
    EXPECT_EQ(pj["model_parameters"]["weight_bytes_from"], "model_schemes.file_bytes");

    EXPECT_EQ(pre.status, "ok");
    EXPECT_NEAR(pre.prefill_t_s, 0.25, 1e-12);
    EXPECT_NEAR(pre.prefill_energy_j, 75.0, 1e-9);
    EXPECT_NEAR(pre.prefill_tok_s, 4096.0, 1e-6);
    EXPECT_DOUBLE_EQ(pre.score, 0.625);  // copied
    const auto pp = nlohmann::json::parse(pre.projection_json);
    EXPECT_EQ(pp["phases"]["prefill"]["bound"], "compute");
    EXPECT_EQ(pp["target"]["throughput_kind"], "int8_tops");
    EXPECT_NE(pp["score"].get<std::string>().find("copied"), std::string::npos);

    // the printed table says the same
    const auto rows = json_rows(r.out);
    ASSERT_EQ(rows.size(), 2u);
    bool seen = false;
    for (const auto & row : rows) {
        if (row["task"] == "tg256") {
            EXPECT_NEAR(row["decode_j_per_token"].get<double>(), 7.2, 1e-9);
            EXPECT_NEAR(row["decode_tok_s"].get<double>(), 25.0, 1e-9);
            seen = true;
        }
    }
    EXPECT_TRUE(seen) << r.out;

    // the measured database was not touched and stays measured only
    Store src = Store::open_readonly(f.src);
    for (const CellRecord & c : src.list_cells()) EXPECT_EQ(c.origin, "measured");
}

// A second, smaller model's f16 decode beside m7b's: 2e9-byte file, 100 tokens in 0.8 s (8 ms a
// step), 200 J (250 W). With m7b's 20 ms a step at 14e9 bytes the line is 6 ms + 1e-12 s/byte
// (0.012 s / 12e9 bytes), u_m = 1 / (1e-12 x 1000e9) = 1.0: bandwidth-bound.
void add_small_model(const std::string & path) {
    Store st = Store::open(path, false);
    const HostRecord h = host("alpha", "NVIDIA H100 80GB HBM3");
    ModelRecord m;
    m.hash = "m1b";
    m.file_name = "m1b.gguf";
    m.arch = "llama";
    m.n_params = 1'000'000'000;
    m.file_bytes = 2'000'000'000;
    st.upsert_model(m);
    st.upsert_model_scheme(m.hash, "ftype=F16", 16.0, 2'000'000'000);
    st.commit_cell(f16_decode_cell(h.fingerprint, m.hash, 0.8, 200, 3));
}

TEST(ProjectCli, decode_of_two_model_sizes_gets_a_fixed_cost_per_step) {
    Fixture f;
    // one size: bandwidth only (roofline-v1), and the output says why
    auto r = joulebench({"project", "--from", f.src, "--gpu", "tgt-gpu", "--catalogue", f.cat, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("decode of fp16 at 1 sequence(s): 1 model size(s) measured"), std::string::npos) << r.out;

    add_small_model(f.src);
    r = joulebench({"project", "--from", f.src, "--gpu", "tgt-gpu", "--catalogue", f.cat, "--to", f.out, "-o",
                    "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find("model size(s) measured"), std::string::npos) << r.out;
    Store out = Store::open_readonly(f.out);
    int seen = 0;
    for (const CellRecord & c : out.list_cells()) {
        const auto pj = nlohmann::json::parse(c.projection_json);
        if (c.task != "tg256") {
            EXPECT_EQ(pj["model"], "roofline-v1 (docs/projection.md)");  // prefill only
            continue;
        }
        EXPECT_EQ(pj["model"], "roofline-v2 (docs/projection.md)");
        const auto & d = pj["phases"]["decode"];
        EXPECT_EQ(d["bound"], "bandwidth");
        EXPECT_NEAR(d["fixed_s_per_step"].get<double>(), 0.006, 1e-12);
        EXPECT_EQ(d["step_fit"]["models"], 2);
        EXPECT_NEAR(d["step_fit"]["marginal_util_bw"].get<double>(), 1.0, 1e-9);
        if (c.model_hash == "m7b") {
            // c = (20 - 6) ms / 14e9 = 1e-12 s/byte, on 500 GB/s 2e-12: 100 x (6 + 28) ms = 3.4 s
            // (bandwidth alone: 4.0 s); 180 W (share 0.5) x 3.4 s = 612 J
            EXPECT_NEAR(c.decode_t_s, 3.4, 1e-9);
            EXPECT_NEAR(c.decode_energy_j, 612.0, 1e-6);
            ++seen;
        } else {
            // (8 - 6) ms / 2e9 = 1e-12 -> 100 x (6 + 4) ms = 1.0 s; share (250 - 100) / 400 = 0.375,
            // 60 + 0.375 x 240 = 150 W -> 150 J
            EXPECT_NEAR(c.decode_t_s, 1.0, 1e-9);
            EXPECT_NEAR(c.decode_energy_j, 150.0, 1e-6);
            EXPECT_NEAR(c.decode_tok_s, 100.0, 1e-6);
            ++seen;
        }
    }
    EXPECT_EQ(seen, 2);
}

TEST(ProjectCli, models_that_do_not_fit_are_failed_rows_never_projected) {
    Fixture f;
    const auto r = joulebench({"project", "--from", f.src, "--gpu", "small-gpu", "--catalogue", f.cat, "--to", f.out});
    ASSERT_EQ(r.status, 0) << r.err;
    Store out = Store::open_readonly(f.out);
    const auto cells = out.list_cells();
    ASSERT_EQ(cells.size(), 2u);
    for (const CellRecord & c : cells) {
        EXPECT_EQ(c.status, "failed");
        EXPECT_TRUE(std::isnan(c.decode_t_s) && std::isnan(c.prefill_t_s) && std::isnan(c.energy_j));
        if (c.task == "tg256") {
            EXPECT_EQ(c.error, "does not fit: needs 15.0 GiB of 8.0 GiB");  // the measured peak
        } else {
            EXPECT_EQ(c.error, "does not fit: needs 8.1 GiB of 8.0 GiB");  // 7.4375e9 x 1.1 + 0.5 GiB
        }
    }
    EXPECT_NE(r.out.find("does not fit: needs 15.0 GiB of 8.0 GiB"), std::string::npos) << r.out;
}

TEST(ProjectCli, validate_compares_with_cells_measured_on_the_target) {
    Fixture f;
    const auto r = joulebench({"project", "--from", f.src, "--gpu", "tgt-gpu", "--catalogue", f.cat, "--validate",
                               f.measured, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const auto rows = json_rows(r.out);
    ASSERT_EQ(rows.size(), 1u) << r.out;  // only the f16 tg256 decode was measured on the target
    const auto & row = rows[0];
    EXPECT_EQ(row["phase"], "decode");
    EXPECT_NEAR(row["measured_j_per_token"].get<double>(), 8.0, 1e-12);
    EXPECT_NEAR(row["projected_j_per_token"].get<double>(), 7.2, 1e-9);
    EXPECT_NEAR(row["j_per_token_error_pct"].get<double>(), -10.0, 1e-9);
    EXPECT_NEAR(row["measured_tok_s"].get<double>(), 20.0, 1e-12);
    EXPECT_NEAR(row["projected_tok_s"].get<double>(), 25.0, 1e-9);
    EXPECT_NEAR(row["tok_s_error_pct"].get<double>(), 25.0, 1e-9);
    EXPECT_NE(r.out.find("decode: mean absolute error 10.0 % in J/token, 25.0 % in tokens/s over 1 rows"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("measured on other GPUs (NVIDIA H100 80GB HBM3) were left out"), std::string::npos) << r.out;
}

TEST(ProjectCli, host_selects_the_source_cells) {
    Fixture f;
    auto r = joulebench({"project", "--from", f.src, "--gpu", "tgt-gpu", "--catalogue", f.cat, "--host", "alpha", "-o",
                         "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json_rows(r.out).size(), 2u);
    r = joulebench({"project", "--from", f.src, "--gpu", "tgt-gpu", "--catalogue", f.cat, "--host", "nobody"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--host 'nobody' is neither a host fingerprint nor a host name in " + f.src),
              std::string::npos)
        << r.err;
}

TEST(ProjectCli, refuses_unknown_gpu_and_writing_into_the_source) {
    Fixture f;
    auto r = joulebench({"project", "--from", f.src, "--gpu", "rtx-9999", "--catalogue", f.cat});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(jb_test::error_line(r.err).find("--gpu 'rtx-9999' is not in the catalogue"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("known: src-gpu, tgt-gpu, small-gpu"), std::string::npos) << r.err;
    r = joulebench({"project", "--from", f.src, "--gpu", "tgt-gpu", "--catalogue", f.cat, "--to", f.src});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--to must be another database"), std::string::npos) << r.err;
    // a source whose GPU the catalogue does not know
    jb::test::TempDir d2;
    const std::string other = d2.file("c.db");
    {
        Store st = Store::open(other, true);
        const HostRecord h = host("gamma", "Mystery GPU 9000");
        st.upsert_host(h);
        ModelRecord m;
        m.hash = "m";
        m.n_params = 1000;
        st.upsert_model(m);
        SchemeRecord s;
        s.canonical = "ftype=x";
        st.upsert_scheme(s);
        CellRecord c;
        c.set_key({h.fingerprint, "m", "ftype=x", "tg1", "w", 0});
        c.decode_tokens = 1;
        c.decode_t_s = 1;
        c.decode_energy_j = 1;
        st.commit_cell(c);
    }
    r = joulebench({"project", "--from", other, "--gpu", "tgt-gpu", "--catalogue", f.cat});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("GPU 'Mystery GPU 9000' is not in the catalogue"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--source-gpu"), std::string::npos) << r.err;
}

TEST(HardwareCli, list_marks_the_hosts_gpu) {
    Fixture f;
    const auto r = joulebench({"hardware", "list", "--catalogue", f.cat, "--device-name", "NVIDIA H100 80GB HBM3", "-o",
                               "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto rows = json_rows(r.out);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0]["id"], "src-gpu");
    EXPECT_EQ(rows[0]["host"], "*");
    EXPECT_EQ(rows[1]["host"], "");
    EXPECT_EQ(rows[0]["sources"], "test");
    // the shipped catalogue, and a table for people
    const auto t = joulebench({"hardware", "list", "--device-name", "NVIDIA H200"});
    ASSERT_EQ(t.status, 0) << t.err;
    EXPECT_NE(t.out.find("this host: NVIDIA H200 is 'h200'"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("rtx-4060-ti-16gb"), std::string::npos);
    // a broken catalogue is one error naming the file and field
    const std::string bad = f.dir.file("bad.json");
    std::ofstream(bad) << R"({"gpus": [{"id": "x"}]})";
    const auto e = joulebench({"hardware", "list", "--catalogue", bad});
    EXPECT_EQ(e.status, 1);
    EXPECT_EQ(jb_test::error_line(e.err), "joulebench: error: " + bad + ": field 'gpus[0].name': missing (entry 'x')");
}
