#pragma once
// Glue between the engine, the tasks and the energy meter, shared by eval, sweep and run:
// one Meter per model load, phases marked "<label>/<phase>" as the engine reports them, and
// per-label energy, tokens and times computed from the Measurement.

#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "energy/meter.hpp"
#include "engine/lm.hpp"
#include "tasks/task.hpp"

namespace jb::sweep {

// Forwards the engine's phases to a running Meter as "<label>/<phase>".
class MeterObserver final : public PhaseObserver {
public:
    explicit MeterObserver(energy::Meter & meter) : meter_(meter) {}
    void set_label(std::string label) { label_ = std::move(label); }
    void on_phase(Phase phase) override;

private:
    energy::Meter & meter_;
    std::string label_;
};

// Energy of one phase of one label, summed over domains.
struct PhaseEnergy {
    double energy_j = 0.0;     // measured domains (counter or samples)
    double net_j = NAN;        // minus idle; NaN without a baseline for every measured domain
    double estimated_j = 0.0;  // estimated domains, kept apart
    double seconds = 0.0;
};

// The energy split of one label (a task) out of a Measurement.
struct LabelEnergy {
    PhaseEnergy load, prefill, decode, other, total;
    bool measured = false;   // at least one domain measured (counter or samples)
    bool estimated = false;  // at least one domain estimated
    std::string method;      // "counter", "samples", "estimate", or a mix like "counter+estimate"
};

// Sums the phases named "<label>/..." (and "load" when label is "load").
LabelEnergy label_energy(const energy::Measurement & m, const std::string & label);

// Joules for tokens, preferring measured over estimated energy; NaN without tokens.
double joules_per_token(const PhaseEnergy & e, bool measured, int64_t tokens);

// One evaluated item as stored and exported: choices' log-likelihoods or the generated text,
// the extracted answers and the item's per-metric scores.
nlohmann::json item_json(const tasks::ItemResult & it);

}  // namespace jb::sweep
