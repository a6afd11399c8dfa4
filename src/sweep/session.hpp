#pragma once
// What run_sweep and run_tune share: a metering session over one result store (its lock, the
// sensors and their watches, the host, the idle baseline, the run) and the measurement of one cell
// in it (engine loaded or reconfigured, workload metered by phase, the record filled), committed
// by the caller once it has added what it knows (sweep --ci's interval, a tune trial's settings).

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "energy/device_claim.hpp"
#include "energy/discover.hpp"
#include "energy/gpu_sharing.hpp"
#include "energy/meter.hpp"
#include "joulebench/store.hpp"
#include "joulebench/sweep.hpp"
#include "store/lock.hpp"
#include "sweep/metered.hpp"
#include "sweep/schemes.hpp"
#include "sweep/workload.hpp"

namespace jb::sweep {

// The observer, or one that does nothing.
class Notify {
public:
    explicit Notify(SweepObserver * o) : o_(o ? o : &none_) {}
    SweepObserver & operator*() { return *o_; }
    SweepObserver * operator->() { return o_; }
    void info(const std::string & text) { o_->on_message(MessageLevel::info, text); }
    void warn(const std::string & text) { o_->on_message(MessageLevel::warning, text); }

private:
    SweepObserver none_;
    SweepObserver * o_;
};

struct SessionParams {
    std::string db;
    std::string what;          // "sweep" or "tune": for the lock and the device claim
    std::string command_line;  // provenance of the run
    bool wait_for_db = false;
    double idle_s = 3.0;        // idle baseline at the start (0: none, no net energy)
    double idle_check_s = 0.5;  // idle re-check window between cells (0: none)
    double settle_s = 5.0;      // most seconds to wait for the device to settle after a cell
    double interval_ms = 10.0;  // power sampling period
    std::vector<int> gpus;      // --gpus: only these GPUs are metered
};

// A model loaded for a scheme, kept across the cells that can share it.
struct LoadedModel {
    std::unique_ptr<LlamaEngine> engine;
    LabelEnergy load_energy;
    std::string config_json;  // the engine's placement and sizes, for provenance
};

// A source model as the store knows it (content hash, file facts; arch and size once loaded).
struct ModelEntry {
    std::string path;
    ModelRecord record;
    bool recorded = false;  // upserted
};
// The record of a model file, its hash memoised in the quantized-file cache.
ModelEntry model_entry(const std::string & path, const std::string & cache_dir);

// A scheme resolved for one model, with its record and the engine kept between its cells.
struct SchemeEntry {
    ResolvedScheme rs;
    SchemeRecord record;
    bool size_recorded = false;  // this model's size under the scheme (model_schemes)
    std::unique_ptr<LoadedModel> loaded;
};
SchemeRecord scheme_record(const ResolvedScheme & rs);

// One cell to measure.
struct CellJob {
    ModelEntry * model = nullptr;
    SchemeEntry * scheme = nullptr;
    Workload * task = nullptr;
    EngineParams engine;      // sized for the workload, with the scheme's KV types and flash attention
    std::string workload_fp;  // the key's fingerprint: the task's, plus placement and settings suffixes
    int repeat = 0;
    std::string error;  // non-empty: the cell fails with this reason without running
};

// A measured (or failed) cell, not yet committed.
struct MeasuredCell {
    CellOutcome outcome;
    CellRecord rec;
    std::vector<CellItem> items;
    PowerTimeline timeline;
};

class Session {
public:
    Session(const SessionParams & params, SweepObserver * observer);
    ~Session();  // finishes the run
    Session(const Session &) = delete;
    Session & operator=(const Session &) = delete;

    Notify & notify() { return notify_; }
    Store & store() { return store_; }
    const HostRecord & host() const { return host_; }
    double idle_w() const { return idle_w_; }  // NaN without a baseline

    // Records the model and the scheme's size if not yet done, then measures the cell (the
    // observer's on_cell_begin is called once metering starts). A failure is a failed cell with
    // its reason, never an exception.
    MeasuredCell measure(CellJob & job, const SweepCell & cell);
    // Commits the cell (one transaction) and tells the observer.
    void commit(MeasuredCell & m, const SweepCell & cell);
    // Waits (in idle-check windows, up to settle_s) until the power is back near the idle power
    // of the start; warns the first time it is not.
    void settle();

    size_t unsettled() const { return unsettled_; }
    double unsettled_max_w() const { return unsettled_max_w_; }

private:
    SessionParams params_;
    Notify notify_;
    StoreLock lock_;
    Store store_;
    energy::Discovery found_;
    HostRecord host_;
    std::string sensors_json_;
    std::unique_ptr<energy::SharingWatch> sharing_;
    std::unique_ptr<energy::DeviceClaim> claim_;
    std::unique_ptr<energy::MeterOverlapWatch> overlap_;
    int64_t run_id_ = 0;
    energy::MeterParams meter_params_;
    std::vector<std::pair<energy::Domain, double>> idle_;
    double idle_w_ = 0.0;
    size_t unsettled_ = 0;
    double unsettled_max_w_ = 0.0;
};

// Adds key: value to a record's energy_json object.
void add_energy_json(CellRecord & rec, const std::string & key, const nlohmann::json & value);

// What a cell says about the settings it ran with: J/token (gross energy over prefill and decode
// tokens), tokens/s (over the prefill and decode time) and the time to first token (a generation
// task's own, or for a prefill workload the prefill time of one of its repetitions; NaN otherwise).
struct CellNumbers {
    double j_per_token = 0.0;
    double tok_s = 0.0;
    double ttft_s = 0.0;
};
CellNumbers cell_numbers(const CellRecord & rec, const Workload & task);

}  // namespace jb::sweep
