#pragma once
// The trials `joulebench tune` stores, read back: one entry per engine setting tried for a (host,
// model, scheme, task, workload), and the best of them under the constraints the latest tune was
// given, chosen by the same rule the tune reports (metrics::pick_setting). sweep --engine tuned runs
// its cells with that setting.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/store.hpp"
#include "metrics/confidence.hpp"

namespace jb::sweep {

// Where a tune's trials sit in the store: every key field but the settings suffix and the repeat.
struct TuneKey {
    std::string host_fingerprint, model_hash, scheme_canonical, task;
    std::string base_fp;  // the workload's fingerprint with its placement suffix
};

struct StoredSetting {
    std::string suffix;  // settings_suffix(), as in the trial cells' workload fingerprints
    metrics::SettingRuns runs;
    int next_repeat = 0;      // the repeat index a further trial of this setting gets
    bool is_default = false;  // the settings a plain sweep would use
};

struct StoredTune {
    std::vector<StoredSetting> settings;   // in the order they were first stored
    metrics::TuneConstraints constraints;  // the latest tune's
    int min_repeats = 3;                   // the latest tune's
    int64_t work_tokens = 0;               // the tokens per-token figures are counted in (0: none stored)
};

// A trial's own record in its energy_json, under "tune".
nlohmann::json trial_json(const std::string & suffix, bool is_default, double j_per_token, double tok_s, double ttft_s,
                          const metrics::TuneConstraints & c, int min_repeats);

StoredTune stored_tune(const Store & store, const TuneKey & key);
// The index in t.settings of metrics::pick_setting's choice; -1 when there is none.
int best_stored(const StoredTune & t);

}  // namespace jb::sweep
