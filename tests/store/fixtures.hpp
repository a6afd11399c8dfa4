#pragma once
// Records, files and helpers shared by the store tests. Everything is built in code.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "joulebench/store.hpp"
#include "support/temp_dir.hpp"

namespace jb::test {

namespace fs = std::filesystem;

inline std::string read_bytes(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string & path, const std::string & bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (char & c : s) c = char(gen() & 0xFF);
    return s;
}

// Files in a directory, sorted, to check that nothing (-wal, -shm, -journal) appeared beside one.
inline std::vector<std::string> dir_listing(const fs::path & dir) {
    std::vector<std::string> out;
    for (const auto & e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

inline HostRecord make_host(const std::string & name) {
    HostRecord h;
    h.hostname = name;
    h.cpu_model = "AMD EPYC 9654 96-Core Processor";
    h.cpu_cores = 16;
    h.ram_bytes = int64_t(128) << 30;
    h.gpus_json = fmt::format(
        R"([{{"name":"NVIDIA H100 80GB HBM3","uuid":"GPU-{}","memory_bytes":85520809984,"power_limit_w":700}}])", name);
    h.driver = "550.90.07";
    h.llama_commit = "de3ff81";
    h.joulebench_version = "0.1.0";
    h.os = "Debian GNU/Linux 12";
    h.fingerprint = host_fingerprint(h);
    return h;
}

inline ModelRecord make_model(const std::string & hash) {
    ModelRecord m;
    m.hash = hash;
    m.path = "/models/" + hash + ".gguf";
    m.file_name = hash + ".gguf";
    m.arch = "qwen2";
    m.n_params = 494032768;
    m.file_bytes = 988097824;
    m.synthetic = true;
    return m;
}

inline SchemeRecord make_scheme(const std::string & name) {
    SchemeRecord s;
    s.name = name;
    s.canonical = "w=" + name + ";kv=f16";
    s.default_type = name;
    s.kv_type = "f16";
    s.bpw = 8.5;
    s.file_bytes = 531000000;
    s.tensor_types_json = R"({"blk.0.attn_q.weight":"q8_0","output.weight":"q6_k"})";
    s.sensitivity_json = name == "dynamic" ? R"({"blk.0.attn_q.weight":0.0021})" : "";
    return s;
}

// A cell with every field set to a distinct value, so a round trip that drops or swaps a field
// is caught. `salt` varies the numbers between cells.
inline CellRecord make_cell(const HostRecord & h, const ModelRecord & m, const SchemeRecord & s,
                            const std::string & task, int64_t repeat, double salt = 0.0) {
    CellRecord c;
    c.host_fingerprint = h.fingerprint;
    c.model_hash = m.hash;
    c.scheme_canonical = s.canonical;
    c.task = task;
    c.workload_fp = "wf-" + task + "-5shot";
    c.repeat_idx = repeat;
    c.status = kStatusOk;
    c.error = "";
    c.n_items = 100;
    c.primary_metric = "acc_norm";
    c.score = 0.4321 + salt;
    c.score_stderr = 0.0123;
    c.scores_json =
        R"([{"metric":"acc","value":0.41,"stderr":0.012},{"metric":"acc_norm","value":0.4321,"stderr":0.0123}])";
    c.energy_json =
        R"({"gpu0":{"gross_j":1234.5,"net_j":987.6,"method":"counter"},"cpu_pkg":{"gross_j":210.25,"net_j":101.5,"method":"counter"}})";
    c.energy_j = 1444.75 + salt;
    c.energy_net_j = 1089.1;
    c.energy_estimated = true;
    c.load_energy_j = 101.5;
    c.load_energy_net_j = 51.25;
    c.load_t_s = 0.75;
    c.prefill_energy_j = 1200.125;
    c.prefill_energy_net_j = 900.0625;
    c.prefill_t_s = 8.5;
    c.prefill_tokens = 123456;
    c.decode_energy_j = 143.125;
    c.decode_energy_net_j = 137.78;
    c.decode_t_s = 1.1;
    c.decode_tokens = 256;
    c.wall_t_s = 10.35;
    c.prefill_tok_s = 14524.2;
    c.decode_tok_s = 232.7;
    c.ttft_s = 0.0421;
    c.idle_power_w = 75.3;
    c.peak_mem_bytes = int64_t(5) << 30;
    c.sensors_json = R"({"gpu0":{"sensor":"nvml","method":"counter","rate_hz":50}})";
    c.started_at = "2025-06-01T12:00:00.000Z";
    c.finished_at = "2025-06-01T12:00:10.350Z";
    return c;
}

inline std::vector<CellItem> make_items(size_t n, int64_t salt = 0) {
    std::vector<CellItem> items;
    for (size_t i = 0; i < n; ++i) {
        items.push_back({int64_t(i), fmt::format(R"({{"doc":{},"pred":{},"gold":{},"ll":[-1.5,-2.25]}})", i,
                                                 (i + salt) % 4, i % 4)});
    }
    return items;
}

// Like a real meter's: a steady clock in ns (t_s = ns / 1e9), NVML power in whole milliwatts,
// and CPU power derived from RAPL energy differences (arbitrary doubles).
inline PowerTimeline make_timeline(size_t n, uint32_t seed = 1) {
    PowerTimeline tl;
    std::mt19937 gen(seed);
    std::normal_distribution<double> noise(0.0, 4.0);
    tl.domains = {"gpu0", "cpu_pkg"};
    tl.power_w.assign(2, {});
    for (size_t i = 0; i < n; ++i) {
        const int64_t t_ns = int64_t(i) * 20'000'000 + int64_t(gen() % 200'000);  // 50 Hz with jitter
        tl.t_s.push_back(double(t_ns) / 1e9);
        const double gpu_w = (i < n / 4 ? 120.0 : 410.0) + noise(gen);
        tl.power_w[0].push_back(double(std::llround(gpu_w * 1000.0)) / 1000.0);
        const double uj = 95.0 * 0.02 * 1e6 + noise(gen) * 1e4;
        tl.power_w[1].push_back(uj / 1e6 / (0.02 + double(gen() % 200) * 1e-9));
    }
    tl.phases = {{"load", 0.0, double(n) * 0.005},
                 {"prefill", double(n) * 0.005, double(n) * 0.015},
                 {"decode", double(n) * 0.015, double(n) * 0.02}};
    return tl;
}

// A store with one host, one model and two schemes registered.
struct Seeded {
    HostRecord host = make_host("alpha");
    ModelRecord model = make_model("m-qwen-0.5b");
    SchemeRecord fp16 = make_scheme("f16");
    SchemeRecord int8 = make_scheme("q8_0");

    void seed(Store & st) const {
        st.upsert_host(host);
        st.upsert_model(model);
        st.upsert_scheme(fp16);
        st.upsert_scheme(int8);
    }
};

inline int64_t count_rows(const Store & st, const std::string & table) {
    sqlite3_stmt * s = nullptr;
    sqlite3_prepare_v2(st.handle(), ("SELECT count(*) FROM " + table).c_str(), -1, &s, nullptr);
    int64_t n = -1;
    if (s && sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

}  // namespace jb::test
