#pragma once
// A ReportInput built in code: two hosts (one GPU host measured with NVML, one CPU host with
// estimated energy), a real and a synthetic model, three schemes, a log-likelihood task and a
// generation task, a failed cell and a power timeline. Names carry XML's special characters so
// every output must escape them.

#include <cmath>
#include <string>

#include "report/report.hpp"

namespace jb_test {

inline jb::report::ReportInput make_report_input() {
    using jb::metrics::Row;
    jb::report::ReportInput in;
    in.source = "results <&> \"test\".db";
    in.generated_at = "2026-01-02T03:04:05.678Z";

    jb::HostRecord gpu;
    gpu.fingerprint = "hostgpu";
    gpu.hostname = "node1";
    gpu.cpu_model = "AMD EPYC 9654";
    gpu.cpu_cores = 192;
    gpu.ram_bytes = int64_t(512) << 30;
    gpu.gpus_json = R"([{"name":"NVIDIA H100 80GB HBM3","uuid":"GPU-1"}])";
    gpu.driver = "550.90.07";
    gpu.llama_commit = "de3ff81";
    gpu.joulebench_version = "0.1.0";
    gpu.os = "Linux 6.1";
    jb::HostRecord cpu = gpu;
    cpu.fingerprint = "hostcpu";
    cpu.hostname = "laptop<1>";
    cpu.gpus_json = "[]";
    cpu.driver = "";
    in.hosts = {gpu, cpu};

    jb::ModelRecord real;
    real.hash = "m1";
    real.file_name = "tiny & \"real\" <model>.gguf";
    real.arch = "llama";
    real.n_params = 292800;
    real.file_bytes = 1185376;
    jb::ModelRecord synth = real;
    synth.hash = "m2";
    synth.file_name = "qwen2.5-0.5b-synthetic.gguf";
    synth.synthetic = true;
    in.models = {real, synth};

    const char * schemes[] = {"fp16", "int8", "q4_k_m"};
    const double bpw[] = {16.0, 8.5, 4.85};
    for (int s = 0; s < 3; ++s) {
        jb::SchemeRecord r;
        r.canonical = std::string("w=") + schemes[s];
        r.name = schemes[s];
        r.default_type = schemes[s];
        r.kv_type = "f16";
        r.bpw = bpw[s];
        in.schemes.push_back(r);
    }

    // Energy falls with bits, accuracy too (a little); decode J/token falls, prefill rises.
    for (int h = 0; h < 2; ++h) {
        for (int m = 0; m < 2; ++m) {
            for (int s = 0; s < 3; ++s) {
                for (int t = 0; t < 2; ++t) {
                    Row r;
                    r.host = h == 0 ? "hostgpu" : "hostcpu";
                    r.host_name = h == 0 ? "node1" : "laptop<1>";
                    r.device = h == 0 ? "NVIDIA H100 80GB HBM3" : "AMD EPYC 9654";
                    r.model = m == 0 ? "m1" : "m2";
                    r.model_name = m == 0 ? real.file_name : synth.file_name;
                    r.synthetic = m == 1;
                    r.scheme = schemes[s];
                    r.scheme_canonical = std::string("w=") + schemes[s];
                    r.bpw = bpw[s];
                    r.model_bytes = int64_t(1e6 * bpw[s]);
                    r.task = t == 0 ? "arc_easy" : "gsm8k";
                    r.workload = t == 0 ? "wl-arc" : "wl-gsm";
                    r.score = (t == 0 ? 0.60 : 0.30) - 0.01 * s - 0.005 * m;
                    r.score_stderr = 0.02;
                    const double scale = h == 0 ? 1.0 : 0.3;
                    r.energy_j = scale * (t == 0 ? 400.0 : 900.0) * (1.0 - 0.2 * s);
                    r.energy_net_j = r.energy_j * 0.7;
                    r.estimated = h == 1;
                    r.wall_s = (t == 0 ? 5.0 : 12.0) * (1.0 - 0.1 * s);
                    r.prefill_tokens = 20000;
                    r.prefill_j = r.energy_j * (t == 0 ? 1.0 : 0.3);
                    r.prefill_s = r.wall_s * (t == 0 ? 1.0 : 0.3);
                    r.decode_tokens = t == 0 ? 0 : 3000;
                    r.decode_j = t == 0 ? NAN : r.energy_j * 0.7;
                    r.decode_s = t == 0 ? NAN : r.wall_s * 0.7;
                    r.ttft_s = t == 0 ? NAN : 0.05;
                    r.n_items = 100;
                    in.rows.push_back(r);
                }
            }
        }
    }
    Row failed = in.rows.front();
    failed.ok = false;
    failed.repeat = 1;
    in.rows.push_back(failed);
    in.failed.push_back({"node1", real.file_name, "fp16", "arc_easy", 1, "CUDA error: out of memory <oops>"});

    jb::report::add_cell_provenance(
        in, "node1",
        R"J({"sensors":[{"domain":"gpu:0","kind":"counter","method":"counter","name":"NVML","driver":"550.90.07","update_hz":50}],
            "unavailable":[{"what":"cpu-package (RAPL)","reason":"no permission"}]})J",
        R"({"domains":[{"domain":"gpu:0","method":"counter","gross_j":400}],"method":"counter"})");
    jb::report::add_cell_provenance(
        in, "laptop<1>",
        R"({"cpu-package:0":{"sensor":"TDP x CPU utilisation","method":"estimate","rate_hz":10}})",
        R"({"cpu-package:0":{"gross_j":120,"net_j":80,"method":"estimate"}})");

    jb::report::TimelineCell tc;
    tc.cell_id = 7;
    tc.host_name = "node1";
    tc.model_name = real.file_name;
    tc.scheme = "fp16";
    tc.task = "gsm8k";
    tc.timeline.domains = {"gpu:0", "cpu-package:0"};
    tc.timeline.power_w.resize(2);
    for (int i = 0; i < 5000; ++i) {  // long enough to be decimated
        const double t = i * 0.01;
        tc.timeline.t_s.push_back(t);
        const bool decode = t > 20 && t < 40;
        tc.timeline.power_w[0].push_back(t < 1 ? 80.0 : decode ? 250.0 + 10 * std::sin(t) : 500.0);
        tc.timeline.power_w[1].push_back(60.0);
    }
    tc.timeline.phases = {{"idle", 0.0, 0.5},         {"load", 0.5, 1.0},           {"gsm8k/prefill", 1.0, 20.0},
                          {"gsm8k/decode", 20.0, 40.0}, {"gsm8k/prefill", 40.0, 45.0}, {"gsm8k/decode", 45.0, 49.0},
                          {"gsm8k/idle", 49.0, 50.0}};
    in.timeline = tc;
    return in;
}

}  // namespace jb_test
