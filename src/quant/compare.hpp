#pragma once
// fidelity's pipeline as a library call: every scheme of a model against its fp16 on one
// calibration text (mean / p99 KL divergence, top-1 agreement, perplexity), next to its bits per
// weight and file size; `dynamic` runs (or reads from the cache) its sensitivity search first.
// The CLI's `joulebench fidelity` parses options, calls compare_fidelity and prints the tables.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "joulebench/engine_params.hpp"
#include "joulebench/table.hpp"
#include "quant/dynamic.hpp"
#include "quant/fidelity.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"

namespace jb {

struct FidelityComparisonSpec {
    std::string model;                              // source GGUF (F32, F16 or BF16)
    std::vector<std::string> schemes = {"int8", "q4_k_m"};
    std::string calib;                              // "" = default_calibration_path()
    int n_tokens = 1024;
    int chunk = 256;
    double kld_budget = 0.01;                       // dynamic
    std::vector<std::string> candidates = {"q4_k", "q6_k", "q8_0"};  // dynamic
    std::string cache_dir;
    std::string imatrix;
    int n_threads = 0;
    int n_gpu_layers = 99;
    FlashAttn flash_attn = FlashAttn::auto_;
    bool verbose = false;
    std::function<void(const std::string &)> on_progress;  // one line per step; may be empty
};

// One scheme's outcome: a measured row, or the message that replaced it.
struct FidelityRow {
    Scheme scheme;
    SchemeResult file;
    Fidelity fidelity;
    std::optional<DynamicResult> dynamic;
    std::string error;
};

struct FidelityComparison {
    std::string calib_path;
    SchemeResult ref_file;
    FidelityReference ref;
    std::vector<FidelityRow> rows;
    bool synthetic = false;  // the source model has random weights
};

// Checks the spec (throws jb::UsageError naming the option) before any work.
void validate(const FidelityComparisonSpec & spec);
// Quantizes (cached), computes the reference once and measures every scheme against it. A scheme
// that fails is a row with its error; the others go on.
FidelityComparison compare_fidelity(const FidelityComparisonSpec & spec);

// The printers: the main table, then per dynamic scheme its chosen types (or, with show_types, the
// full sensitivity), and with show_types every tensor's type.
std::vector<Table> fidelity_tables(const FidelityComparison & c, bool show_types);
nlohmann::json fidelity_json(const FidelityComparison & c, bool show_types);

}  // namespace jb
