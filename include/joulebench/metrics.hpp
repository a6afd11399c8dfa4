#pragma once
// Efficiency metrics over measured cells (docs/design.md, "Definitions"; docs/metrics.md): EOR, TWEOR, gain and accuracy
// retention vs the fp16 reference, J/token by phase, tokens/s, TTFT, energy-delay product,
// carbon and cost; statistics over repeats; the Pareto frontier of (accuracy, energy); and
// the use-case profiles that turn them into a recommendation. Plain data in, plain data out:
// no I/O, no store, no engine (the CLI fills Row from the store).

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace jb::metrics {

// World-average carbon intensity of electricity generation: 445 g CO2/kWh in 2024 (IEA,
// "Electricity 2025", Emissions chapter). docs/metrics.md discusses the choice.
inline constexpr double kWorldGridGPerKwh = 445.0;
// The edge profile's default cap on the model file: 8 GiB.
inline constexpr int64_t kEdgeMemoryBytes = int64_t(8) << 30;

// A cell whose energy window is shorter than this carries +-10-20 % meter error (docs/energy.md);
// the same threshold `measure` warns at.
inline constexpr double kShortWindowS = 2.0;
// The meter's resolution over one window, in seconds: a single window of T seconds is taken to
// carry a relative standard error of kWindowResolutionS / T in its energy (10 % at 2 s, 20 % at 1 s:
// docs/energy.md's +-10-20 % below 2 s). Used where a cell has one repeat, so no measured spread.
inline constexpr double kWindowResolutionS = 0.2;

// One task item's primary outcome (1 right, 0 wrong; a fraction for graded metrics such as mc2),
// keyed by the item's id so that two schemes' results on the same workload pair up.
struct ItemScore {
    std::string id;
    double value = 0.0;
};

// One measured cell as the metrics see it. NaN marks a value that was not measured.
struct Row {
    std::string host;        // host fingerprint
    std::string host_name;   // for display
    std::string device;      // "NVIDIA H100 80GB HBM3", or the CPU model when no GPU
    std::string model;       // model content hash
    std::string model_name;  // for display
    bool synthetic = false;  // random weights: accuracy is chance by construction
    std::string scheme;      // scheme name as the user gave it ("fp16" is the reference)
    std::string scheme_canonical;
    double bpw = 0.0;
    int64_t model_bytes = 0;  // file bytes of the quantized model (the edge profile's memory)
    std::string task;
    std::string workload;  // workload fingerprint: rows compare only within one
    int64_t repeat = 0;
    bool ok = true;      // failed cells are kept out of every metric
    double score = 0.0;  // primary metric, a fraction in [0, 1]
    double score_stderr = 0.0;
    double energy_j = 0.0;  // gross, all measured domains (or the estimate when estimated)
    double energy_net_j = 0.0;
    bool estimated = false;  // energy is a model, not a measurement
    double wall_s = 0.0;     // the workload's wall time
    double prefill_j = 0.0, decode_j = 0.0;
    double prefill_s = 0.0, decode_s = 0.0;
    int64_t prefill_tokens = 0, decode_tokens = 0;
    double ttft_s = 0.0;
    int64_t n_items = 0;  // task items evaluated (for seconds per item)
    // Mean power over the cell (sum of the domains' averages) and the highest domain's peak; NaN
    // where the cell's energy record has none.
    double avg_w = std::numeric_limits<double>::quiet_NaN();
    double peak_w = std::numeric_limits<double>::quiet_NaN();
    // Gross energy per measured domain ("gpu:0", "gpu:1", ...) when the cell has several: how a
    // run on several GPUs shares its energy. Empty for one domain.
    std::vector<std::pair<std::string, double>> domain_j;
    // Projected from another GPU's measurements (the store's origin "projected"), not measured;
    // `device` is then the catalogue GPU's name. Every table marks such rows.
    bool projected = false;
    // Per-item outcomes of the primary metric, sorted by id (empty when the store has none, e.g.
    // a projected cell): what the paired bootstrap of recommend resamples.
    std::vector<ItemScore> items;
    // The score of guessing: the mean over items of 1 / choices for a multiple-choice task, 0 for a
    // generation task; NaN when unknown (no items stored).
    double chance = std::numeric_limits<double>::quiet_NaN();
    // The engine settings of a cell run with the best tuned ones (sweep --engine tuned), for
    // people ("c 8192, b 2048, ub 256, ..."); "" for the engine options.
    std::string engine_settings;
};

// Mean ± sample standard deviation (n - 1), min…max over repeats.
struct Stat {
    int n = 0;
    double mean = 0.0, sd = 0.0, min = 0.0, max = 0.0;
};
Stat stat_of(const std::vector<double> & values);  // NaNs are skipped

struct Options {
    std::string reference = "fp16";
    double grid_g_per_kwh = kWorldGridGPerKwh;  // world average grid intensity (docs/metrics.md gives the source)
    double usd_per_kwh = 0.0;                   // 0: no cost column
};

// One (host, model, scheme, task, workload) over its repeats, with the ratios to the reference
// scheme on the same host, model and workload (absent when the reference is missing).
//
// An unscored summary (`scored` false: no repeat has a score, as for the synthetic workloads
// tg256r5, pp2048r30, tg256x8r5) has no accuracy, so no EOR, TWEOR, gain or retention; its
// energy_saving is per token, 1 - J/token / J/token(reference) (docs/metrics.md).
struct Summary {
    std::string host, host_name, device, model, model_name, scheme, scheme_canonical, task, workload;
    bool synthetic = false;
    bool estimated = false;
    double bpw = 0.0;
    int64_t model_bytes = 0;
    Stat score, score_stderr, energy_j, energy_net_j, wall_s;
    double energy_wh = 0.0;            // mean gross energy in Wh
    double eor = 0.0;                  // score (%) / E (Wh)
    double tweor = 0.0;                // score (%) / (E (Wh) x T / T_ref)
    double edp_js = 0.0;               // energy-delay product, J x s
    double prefill_j_per_token = 0.0;  // NaN without prefill tokens
    double decode_j_per_token = 0.0;   // NaN without decode tokens
    double prefill_tok_s = 0.0, decode_tok_s = 0.0, ttft_s = 0.0;
    double gco2e = 0.0;                   // grams CO2-equivalent for the mean energy
    double usd = 0.0;                     // energy cost, 0 without --usd-per-kwh
    std::optional<double> retention;      // score / score(reference)
    std::optional<double> gain;           // EOR / EOR(reference) - 1
    std::optional<double> energy_saving;  // 1 - E / E(reference)
    std::string note;                     // why a ratio is missing, or a measured/estimated mix
    // additions
    bool mixed_estimate = false;  // the ratios compare an estimated energy with a measured one
    bool pareto = false;          // on the (score, energy) frontier of its host, model, task, workload
    double ref_wall_s = 0.0;      // the reference's mean wall time (NaN without a reference)
    double prefill_tokens = 0.0, decode_tokens = 0.0;  // per repeat (mean)
    double n_items = 0.0;                              // per repeat (mean)
    bool scored = true;           // some repeat has a score (false: a synthetic workload)
    double j_per_token = 0.0;     // gross energy / (prefill + decode tokens), NaN without tokens
    double net_j_per_token = 0.0;  // the same with net energy
    double tok_s = 0.0;           // (prefill + decode tokens) / wall time
    double avg_w = 0.0;           // mean over repeats of the cell's mean power (NaN: not recorded)
    double peak_w = 0.0;          // highest peak over repeats (NaN: not recorded)
    std::vector<std::pair<std::string, double>> domain_j;  // per measured domain, summed over repeats
    bool projected = false;       // some repeat is projected, not measured (a mix says so in `note`)
    // What the task is called in tables: the task, plus "(40 items)" (and the workload's short
    // fingerprint when the item counts agree) when its host and model ran it with several
    // workloads, so that cells that did different work never look alike.
    std::string task_label;
    std::vector<ItemScore> items;  // per-item outcomes, mean over repeats, sorted by id
    double chance = std::numeric_limits<double>::quiet_NaN();  // see Row::chance
    // Relative standard error of the mean energy: sd / sqrt(n) / mean over n >= 2 repeats (the
    // measured spread), else kWindowResolutionS / wall time (one window: the meter's resolution).
    double energy_rel_se = 0.0;
    bool energy_se_measured = false;  // from repeats (true) or from the window-resolution model
    double wall_se_s = 0.0;           // standard error of the mean wall time (0 with one repeat)
    bool short_window = false;        // mean wall time below kShortWindowS
    // The repeats' own J/token (energy / tokens of each), their 95 % interval's half-width as a
    // fraction of the mean (NaN for fewer than two), and the per-token saving's 95 % interval
    // against the reference (NaN bounds when either has fewer than two repeats): a saving whose
    // interval holds 0 is inside the noise.
    std::vector<double> j_per_token_runs;
    double j_per_token_ci95 = 0.0;
    double saving_lo = 0.0, saving_hi = 0.0;
    std::string engine_settings;  // the first repeat's (Row::engine_settings)
};

// The arithmetic, one function per formula (docs/metrics.md). Non-finite or non-positive
// denominators give NaN, never a division by zero.
double joules_to_wh(double joules);
double edp(double energy_j, double wall_s);                   // J x s
double carbon_g(double energy_j, double grid_g_per_kwh);      // g CO2e = kWh x intensity
double energy_cost_usd(double energy_j, double usd_per_kwh);  // kWh x price
double retention(double score, double ref_score);             // score / score(reference)
double gain(double eor, double ref_eor);                      // EOR / EOR(reference) - 1
double energy_saving(double energy, double ref_energy);       // 1 - E / E(reference)
double j_per_token(double energy_j, double tokens);
double tokens_per_s(double tokens, double seconds);

// EOR = score_pct / energy_wh; TWEOR = score_pct / (energy_wh x wall_s / ref_wall_s).
double eor(double score_pct, double energy_wh);
double tweor(double score_pct, double energy_wh, double wall_s, double ref_wall_s);

// Groups rows by (host, model, scheme, task, workload), averages repeats, and fills the ratios
// to the reference scheme. A measured row is never compared with an estimated reference (or the
// reverse) without saying so in `note`; rows of other workloads are never compared.
std::vector<Summary> summarize(const std::vector<Row> & rows, const Options & options = {});

// Accuracy retention of one summary against the reference; throws jb::Error with a clear message
// naming host, model, task and workload when the reference row is missing.
double retention_against_reference(const std::vector<Summary> & all, const Summary & s,
                                   const std::string & reference = "fp16");

// Whether a summary is of the reference scheme (its name, or its canonical form, equals it).
bool is_reference(const Summary & s, const std::string & reference = "fp16");

// One line per gap that keeps ratios from being computed, for the user to fix: a host and model
// with no reference cell at all (naming the schemes that did run), or a task and workload that
// other schemes ran and the reference did not. Empty when every summary has its reference.
std::vector<std::string> missing_references(const std::vector<Summary> & all, const std::string & reference = "fp16");

// Indices of the points on the Pareto frontier when maximising accuracy and minimising energy:
// a point is on it unless another is at least as good in both and better in one. Ties (equal
// accuracy and energy) are all on it. Returned in order of increasing energy.
struct ParetoPoint {
    double accuracy = 0.0;
    double energy = 0.0;
};
std::vector<size_t> pareto_frontier(const std::vector<ParetoPoint> & points);

// One (task, workload) a candidate shares with the reference: what its noise is computed from.
struct CandidateTask {
    std::string task, workload, label;  // label: Summary::task_label
    double score = 0.0, score_stderr = 0.0, ref_score = 0.0, ref_score_stderr = 0.0;
    double energy_j = 0.0, energy_rel_se = 0.0, ref_energy_j = 0.0, ref_energy_rel_se = 0.0;
    bool energy_se_measured = false;
    double wall_s = 0.0, wall_se_s = 0.0;
    int repeats = 0;
    int n_items = 0;
    bool short_window = false;
    double chance = std::numeric_limits<double>::quiet_NaN();
    // Per-item outcomes (sorted by id), shared: candidates are copied into every recommendation.
    std::shared_ptr<const std::vector<ItemScore>> items, ref_items;
};

// A scheme on a host for one model, over every scored task both it and the reference ran with the
// same workloads (the reference's score of 0 included): what recommend and the decision matrix
// compare. Unscored workloads are left out (no accuracy to rank): a database of only those gives
// no candidate. A task that a host and model ran with several workloads (--limit 20, then
// --limit 40) is never summed twice: its most common workload is in the candidate of `variant` 0,
// the next in a candidate of variant 1, and so on (docs/metrics.md).
struct Candidate {
    std::string host, host_name, device, model, model_name, scheme;
    bool synthetic = false, estimated = false;
    double bpw = 0.0;
    int64_t model_bytes = 0;
    int n_tasks = 0;
    // Ratio of mean scores: sum score / sum score(reference) over the compared tasks (NaN when the
    // reference scored 0 on all of them). The same definition as gain: 1 + gain = retention x
    // energy(reference) / energy (docs/metrics.md says why).
    double retention = 0.0;
    double energy_wh = 0.0;      // sum over tasks
    double energy_saving = 0.0;  // 1 - energy / energy(reference), same tasks
    double eor = 0.0;            // mean score (%) / energy (Wh), summed workload
    double gain = 0.0;           // EOR / EOR(reference) - 1
    double latency_s = 0.0;      // sum of wall times
    double ttft_s = 0.0;         // NaN without generation
    double j_per_token = 0.0;    // energy / (prefill + decode tokens)
    // additions
    std::string scheme_canonical;
    std::string workloads;  // the compared "task@workload" pairs, sorted, comma-separated
    std::vector<std::string> tasks;
    int n_reference_tasks = 0;  // (task, workload) pairs the reference ran on this host and model
    double score = 0.0;         // mean over tasks, a fraction
    double score_stderr = 0.0;  // standard error of that mean: sqrt(sum se^2) / n_tasks
    double ref_score = 0.0;     // the reference's mean over the same tasks
    double ref_energy_wh = 0.0;
    double ref_latency_s = 0.0;
    double tweor = 0.0;  // score (%) / (energy (Wh) x latency / ref_latency)
    double seconds_per_item = 0.0;
    double gco2e = 0.0;           // sum over tasks
    double usd = 0.0;             // sum over tasks (0 without a price)
    bool mixed_estimate = false;  // some ratio compares an estimated energy with a measured one
    bool pareto = false;          // on the (score, energy) frontier of its host, model and workloads
    bool is_reference = false;    // the reference scheme itself (retention 1, gain 0, saving 0)
    std::string note;
    bool projected = false;  // some compared task is projected from another GPU, not measured
    double tok_s = 0.0;      // (prefill + decode tokens) / latency: the throughput that cost amortises over
    // Cost (metrics/cost.hpp, price_candidates): the hardware's tier and price, and the cost per
    // million processed tokens. Empty / NaN until priced, and where the price is unknown.
    std::string cost_tier;  // "datacenter", "consumer", ... ("" when the device is not in the catalogue)
    double hardware_price_usd = std::numeric_limits<double>::quiet_NaN();
    double energy_usd_per_mtok = std::numeric_limits<double>::quiet_NaN();
    double hardware_usd_per_mtok = std::numeric_limits<double>::quiet_NaN();
    double usd_per_mtok = std::numeric_limits<double>::quiet_NaN();  // energy + amortised hardware
    // Noise and warnings.
    int variant = 0;                    // 0: each task's most common workload; 1, 2: the others
    std::vector<CandidateTask> parts;   // the compared tasks, in the order of `tasks`
    std::vector<std::string> zero_reference_tasks;  // compared tasks where the reference scored 0 (no per-task retention)
    std::vector<std::string> chance_tasks;  // tasks where this scheme scored at or below chance ("arc_easy 10.0 % <= 25.0 %")
    bool short_windows = false;         // some compared task's energy comes from a window under kShortWindowS
    bool partial() const { return n_tasks < n_reference_tasks; }  // lacks a task the reference ran
};
std::vector<Candidate> candidates(const std::vector<Summary> & summaries, const std::string & reference = "fp16");

enum class Objective { max_eor, min_latency, min_energy };

// A use-case profile (docs/metrics.md): a constraint set and what to optimise.
struct Profile {
    std::string name;
    std::string description;
    double min_retention = 0.0;
    std::optional<int64_t> max_memory_bytes;
    std::optional<double> max_latency_s;
    std::optional<double> max_ttft_s;
    std::optional<double> max_j_per_token;
    Objective objective = Objective::max_eor;
};
// datacenter (max EOR, retention >= 98 %), enterprise (>= 99 %), research (>= 97 %, lowest
// latency), edge (memory cap, >= 95 %), budget (>= 94 %, lowest energy).
std::vector<Profile> builtin_profiles();
// Throws jb::UsageError for an unknown name, listing the valid ones.
Profile find_profile(const std::string & name);

// How far apart two candidates are on an objective, with its noise (docs/metrics.md, "Noise"):
// a seeded Monte-Carlo of a paired bootstrap over items (the tasks' standard errors where items
// are missing) and of each task's energy and wall-time error.
struct Margin {
    // Relative advantage of `a` over `b` on the objective: EOR(a) / EOR(b) - 1, E(b) / E(a) - 1 or
    // T(b) / T(a) - 1; positive when a is better. lo, hi: its 95 % interval.
    double value = 0.0, lo = 0.0, hi = 0.0;
    bool distinguishable = false;  // the interval excludes 0
    // Accuracy: score(a) - score(b) (fractions) and its 95 % interval.
    double score_diff = 0.0, score_lo = 0.0, score_hi = 0.0;
    int items_paired = 0;      // items both ran (paired bootstrap); 0: standard errors only
    double items_differ = 0;   // of those, how many had different outcomes
    // Roughly how many times the items, or the repeats, it would take to separate them (NaN: more of
    // that alone would not; 0: already separated or nothing to separate).
    double items_factor = 0.0, repeats_factor = 0.0;
    std::string accuracy_method;  // "paired bootstrap over 40 items", "standard errors (no items stored)"
    bool noise_known = true;      // false: candidates without per-task results, point estimates only
};
// Seeded and deterministic: the same candidates give the same interval on every platform.
// Without `with_accuracy` (energy or time objectives only) the scores are not resampled and the
// accuracy interval is the point difference.
Margin compare(const Candidate & a, const Candidate & b, Objective objective, bool with_accuracy = true);
// The 95 % interval of a candidate's retention (ratio of mean scores, items paired with the
// reference's); {NaN, NaN} when the reference scored 0 everywhere.
std::pair<double, double> retention_interval(const Candidate & c);

struct Recommendation {
    Profile profile;
    std::optional<Candidate> best;
    std::optional<Candidate> runner_up;
    std::string why;  // one sentence
    // additions
    int n_compared = 0;              // candidates ranked (same workloads)
    int n_feasible = 0;              // of those, meeting every constraint
    std::vector<std::string> notes;  // synthetic model, estimated energies, candidates left out
    bool projected = false;          // the best candidate is projected, not measured
    // Noise: best against the runner-up. A tie (the leader and others inside each other's 95 %
    // intervals) is settled by the documented tie-break (less energy, beyond noise; then the
    // simpler scheme: the reference, then more bits per weight) and said in `why`.
    std::optional<Margin> margin;
    bool tie = false;
    std::vector<std::string> tied;  // scheme labels inside the noise, best first
};
// Compares the candidates it is given (the CLI passes one model's at a time). Only candidates
// with the same workloads are ranked: the largest such group; the rest are named in `notes`.
Recommendation recommend(const std::vector<Candidate> & candidates, const Profile & profile);

// "retention >= 98 %, model file <= 8 GiB": the profile's constraints in words.
std::string describe_constraints(const Profile & profile);
std::string objective_name(Objective objective);  // "max EOR", "min latency", "min energy"
// "NVIDIA H100 80GB HBM3 (node1)": what a table calls the hardware of a candidate.
std::string hardware_label(const std::string & device, const std::string & host_name);
// The same for a candidate, with " [projected]" when it is projected rather than measured.
std::string candidate_hardware(const Candidate & c);

}  // namespace jb::metrics
