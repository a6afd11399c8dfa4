#pragma once
// The `dynamic` scheme: adaptive precision across tensors, chosen from measured sensitivity.
// (Not PyTorch's "dynamic quantization"; see docs/quantization.md.)
//
// build_dynamic_scheme() measures, for each group of tensors (a layer's attention matrices, a
// layer's feed-forward matrices, the token embedding, the output matrix) and each candidate
// type, the mean KL divergence against the fp16 reference of a model in which only that group
// is lowered; then it gives every group the cheapest candidate and raises the groups with the
// best KLD saved per byte spent until the predicted mean KLD meets the budget, and checks the
// result by measuring it. docs/quantization.md ("dynamic") describes the algorithm.
//
// Two caches, both in the quant cache directory under dynamic/: the sensitivity table (which
// does not depend on the budget) and the search result per budget. A second call with the
// same inputs evaluates nothing.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/llama_engine.hpp"
#include "quant/fidelity.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"

namespace jb {

struct DynamicOptions {
    double kld_budget = 0.01;   // mean KLD (nats per token) the result must not exceed
    std::string calib_path;     // empty: default_calibration_path()
    int calib_tokens = 1024;    // the first N tokens of the calibration text
    int chunk = 256;            // tokens per independently evaluated chunk
    // ggml type names, any order (they are ranked by the bytes they take); the lowest is where
    // every group starts, the highest is as far as a group can be raised.
    std::vector<std::string> candidate_types = {"q4_k", "q6_k", "q8_0"};
    // The result's KV cache (docs/design.md: Q8_0 for dynamic). A model whose head size is not a
    // multiple of the type's block (stories260K: 8) keeps F16, and DynamicResult::kv_note says so.
    ggml_type kv_type_k = GGML_TYPE_Q8_0;
    ggml_type kv_type_v = GGML_TYPE_Q8_0;
    int max_rounds = 4;          // quantize-and-measure rounds of the final scheme at most
    bool keep_probe_files = false;  // keep the single-group files in the quant cache (big: one model each)
    // A model whose measured plan to use instead of measuring `source` (empty: measure
    // `source`). For synthetic models, whose random weights make any sensitivity noise: the plan
    // is searched on this real model and carried over group by group at the same relative depth
    // (transfer_dynamic_plan()). The CLI defaults it to the shipped stories260K for synthetic models.
    std::string plan_from;
    EngineParams engine;         // threads, GPU layers, flash attention, verbosity for the evaluations
    QuantizeOptions quant;       // threads, cache directory, imatrix for the quantizations
    std::function<void(const std::string &)> on_progress;  // one line per step (CLI: stderr)
};

// Mean KLD of the model with one group at one candidate type and everything else at the
// reference precision.
struct GroupSensitivity {
    std::string group;     // "blk.3.attn", "blk.3.ffn", "token_embd", "output"
    std::string type;      // the candidate as asked ("q4_k")
    std::string actual;    // what llama.cpp gave the group's tensors after shape fallbacks: "q5_0 x3, f16 x1"
    double mean_kld = 0.0;
    int64_t bytes = 0;     // bytes of the group's tensors at this type
    bool same_as_lower = false;  // the same tensor types as an earlier candidate in the list (a shape fallback)
};

struct DynamicResult {
    SchemeResult scheme;   // the quantized file; scheme.scheme (canonical) lists every tensor's type
    Scheme chosen;         // kind dynamic, per-tensor types in tensor_types, KV kv_type_k/v
    std::vector<GroupSensitivity> sensitivity;       // every group x candidate, groups in model order
    std::map<std::string, std::string> group_types;  // group -> chosen candidate (as asked)
    double budget = 0.0;
    double kv_kld = 0.0;          // mean KLD of the reference weights with the result's KV cache alone
    std::string kv_note;          // why the KV cache is not the one asked for (head sizes), or empty
    double predicted_kld = 0.0;   // kv_kld + the chosen groups' KLDs (the additive approximation)
    Fidelity final_fidelity;      // measured on the quantized file with its KV cache
    bool budget_met = false;      // false: even the highest candidates miss the budget (a warning)
    int rounds = 0;               // quantize-and-measure rounds the search needed
    int n_evaluations = 0;        // models evaluated in this call (0 on a cache hit)
    bool sensitivity_cache_hit = false;
    bool cache_hit = false;       // the whole result came from the cache
    double search_s = 0.0;        // wall time of the search (as first measured, on a hit)
    int calib_tokens = 0;         // tokens actually used (the text may be shorter than asked)
    std::string calib_path;
    std::string plan_from;        // the model whose plan was transferred ("" when measured on the source)

    // Everything above but `scheme` as one JSON document (the cache file's content).
    std::string sensitivity_json() const;
};

// Runs (or reads from the cache) the sensitivity search for `source` (an F32, F16 or BF16
// GGUF). Throws jb::InputError for a missing or empty calibration file or an unusable source,
// jb::UsageError for a bad option (unknown candidate type, budget <= 0).
DynamicResult build_dynamic_scheme(const std::string & source, const DynamicOptions & opt);

// The plan of `from` (group -> candidate, as asked) mapped onto the groups of `to`: layer i of
// n takes the plan of the reference layer at the same relative depth, round(i (m - 1) / (n - 1))
// of m, for attention and feed-forward alike; token_embd and output take the reference's (or, when
// the reference has no such group, e.g. a tied output, its most precise choice). Pure: tested
// without files.
std::map<std::string, std::string> transfer_group_plan(const std::map<std::string, std::string> & from,
                                                        const std::vector<std::string> & to_groups,
                                                        const std::vector<std::string> & candidate_order);

// The tensor groups of a model (n_dims >= 2 weights only): tensor name -> group name, by the
// rules above. Tensors in no group keep the reference precision.
std::map<std::string, std::string> dynamic_groups(const std::string & model_path);

}  // namespace jb
