#pragma once
// What joulebench knows about GPUs it may not own: a catalogue read from a data file
// (data/hardware/gpus.json; each figure with its source), and matching of a host's GPU name
// to a catalogue entry. Plain data and file parsing only: no NVML, no store, no metrics.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jb::hardware {

// One GPU model. Figures the vendor does not publish are NaN (throughput, idle) or empty (price).
struct GpuSpec {
    std::string id;                  // stable key used on the command line: "h100-sxm", "rtx-4090"
    std::string name;                // marketing name: "NVIDIA H100 SXM5 80GB"
    std::vector<std::string> match;  // case-insensitive substrings of NVML names that mean this card
    std::string vendor;              // "NVIDIA", "AMD"
    std::string architecture;        // "Hopper", "Ada Lovelace", ...
    std::string form_factor;         // "SXM", "PCIe", "desktop"
    double memory_gib = 0.0;
    double memory_bw_gbs = 0.0;      // peak DRAM bandwidth, GB/s (10^9 bytes)
    double tdp_w = 0.0;              // board power limit
    double idle_w = 0.0;             // typical idle power where published or measured (NaN: unknown)
    std::string idle_source;         // where idle_w comes from ("measured by joulebench, ...", a URL)
    double fp16_tflops = 0.0;        // dense FP16/BF16 tensor throughput (no sparsity), TFLOP/s
    double int8_tops = 0.0;          // dense INT8 tensor throughput (no sparsity), TOP/s
    double sm_count = 0.0;           // streaming multiprocessors (NaN: not in the file)
    double boost_clock_mhz = 0.0;    // boost clock of the reference board (NaN: not in the file)
    std::string price_tier;          // "consumer", "workstation", "datacenter", "flagship-datacenter"
    std::optional<double> list_price_usd;  // list/launch price where public
    std::string price_date;                // when that price held ("2023-10")
    std::vector<std::string> sources;      // URLs or document names for the figures
    std::string notes;
};

struct Catalogue {
    std::string path;  // where it was read from
    std::vector<GpuSpec> gpus;

    const GpuSpec * find(const std::string & id) const;              // by id (exact, case-insensitive)
    const GpuSpec * match_device(const std::string & nvml_name) const;  // by an NVML device name
};

// Reads and validates a catalogue file; a bad file or field throws jb::Error naming both.
Catalogue load_catalogue(const std::string & path);
// The shipped catalogue: $JOULEBENCH_HARDWARE, else data/hardware/gpus.json beside the source
// tree or the installed share directory.
Catalogue default_catalogue();
std::string default_catalogue_path();

}  // namespace jb::hardware
