#pragma once
// Model families: a distilled model (the student) against the model it was distilled from (the
// teacher, role "base"), per host, scheme and workload: energy reduction, J/token, accuracy
// retention, and the combined effect of distillation and quantization (distilled + scheme vs
// base + the reference scheme). Definitions: docs/metrics.md, "Model families".

#include <string>
#include <vector>

#include "joulebench/metrics.hpp"

namespace jb::metrics {

// The study joulebench generalises (docs/design.md), named wherever it is cited.
inline constexpr const char * kStudy =
    "\"Towards Energy-Aware AI Deployment: Investigating the Interplay of Model Quantization and Hardware "
    "Platforms\" (2025)";
// The study's claim: distillation saves a further 19.8 % energy (docs/metrics.md).
inline constexpr double kStudyDistillationEnergyReduction = 0.198;

// One model's place in a family (the store's model relations): role "base" or "distilled".
struct FamilyMember {
    std::string family, role, model;  // model: content hash, as Summary::model
};

// The distilled model against its base on one host, scheme and (task, workload), or over all the
// scored tasks both ran there (`task` = "all", `n_tasks` > 1 possible).
struct FamilyComparison {
    std::string family;
    std::string host, host_name, device;
    std::string base_model, base_model_name, distilled_model, distilled_model_name;
    std::string scheme;
    std::string task, workload;  // "all", "" for the aggregate over scored tasks
    int n_tasks = 1;
    bool scored = true;  // false: a synthetic workload, compared per token
    bool estimated = false, projected = false;
    double base_energy_j = 0.0, distilled_energy_j = 0.0;  // mean over repeats (sum over tasks for "all")
    double base_j_per_token = 0.0, distilled_j_per_token = 0.0;
    double base_score = 0.0, distilled_score = 0.0;  // fractions (mean over tasks for "all"); NaN unscored
    // 1 - E_distilled / E_base (per token for a synthetic workload); negative when the student uses more.
    double energy_reduction = 0.0;
    double retention = 0.0;  // S_distilled / S_base (mean of per-task ratios for "all"); NaN without a base score
    // The distilled model under `scheme` against the base under the reference scheme, same host and
    // workload: both effects together. NaN when the base has no reference cell there.
    double combined_energy_reduction = 0.0;
    double combined_retention = 0.0;
    std::string note;
};

// For every family with both a base and a distilled member, every host and scheme both models
// ran and every (task, workload) both ran on it: one row per task, then one "all" row per host and
// scheme over the scored tasks when there are two or more. Families missing a role, and models without
// summaries, give no rows; `notes` (when given) says why in one line each.
std::vector<FamilyComparison> compare_families(const std::vector<Summary>& summaries,
                                               const std::vector<FamilyMember>& members,
                                               const std::string& reference = "fp16",
                                               std::vector<std::string>* notes = nullptr);

// The headline row of a family on a host under a scheme: its "all" row, else its only scored
// task's row; nullptr when there is none.
const FamilyComparison* family_overall(const std::vector<FamilyComparison>& rows, const std::string& family,
                                       const std::string& host, const std::string& scheme);

}  // namespace jb::metrics
