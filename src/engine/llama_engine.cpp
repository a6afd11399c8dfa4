#include "engine/llama_engine.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "gguf.h"
#include "llama.h"
#include "joulebench/error.hpp"

namespace jb {

namespace {

using Clock = std::chrono::steady_clock;

// Cells of one log-likelihood wave on the CPU (see loglikelihood()): about one request group of
// HellaSwag or three of ARC. Measured with stories260K on one thread, in CPU seconds (which the
// shared 2-core machine's load disturbs least): 500 ARC-Easy items took 13.4 s with waves of 128
// cells, 13.4 s with 256, 14.0 s with 512 and 16.5 s with 1024 (llama-perplexity: 13.3 s); 400
// HellaSwag tasks 18.8 s with 256 and 22.6 s with 2048 (llama-perplexity: 17.6 s), measured before
// a wave became one decode call. bench/eval_throughput.sh measures the defaults end to end.
constexpr size_t kLoglikCpuWaveCells = 256;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct ModelDeleter {
    void operator()(llama_model * m) const { llama_model_free(m); }
};
struct ContextDeleter {
    void operator()(llama_context * c) const { llama_free(c); }
};
struct GgufDeleter {
    void operator()(gguf_context * g) const { gguf_free(g); }
};
using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;
using GgufPtr = std::unique_ptr<gguf_context, GgufDeleter>;

// llama.cpp logs through one global callback; joulebench keeps it quiet unless asked (--verbose).
// Its error lines are kept instead, so that our one-line error can say what llama.cpp objected to.
bool g_verbose = false;
std::mutex g_log_mutex;
std::string g_log_line;                // the error line being assembled (llama.cpp logs in pieces)
bool g_log_in_error = false;
std::vector<std::string> g_log_errors;  // complete error lines since the last take_log_error()

void log_callback(ggml_log_level level, const char * text, void *) {
    if (g_verbose) fputs(text, stderr);
    std::lock_guard lock(g_log_mutex);
    if (level != GGML_LOG_LEVEL_CONT) {
        g_log_in_error = level == GGML_LOG_LEVEL_ERROR;
        g_log_line.clear();
    }
    if (!g_log_in_error) return;
    for (const char * p = text; *p; ++p) {
        if (*p == '\n') {
            if (!g_log_line.empty() && g_log_errors.size() < 32) g_log_errors.push_back(g_log_line);
            g_log_line.clear();
        } else {
            g_log_line += *p;
        }
    }
}

// The first error llama.cpp logged since the last call (the cause; later lines only say that
// loading failed), without its "function: " prefixes: "gguf_init_from_reader: invalid magic
// characters: ..." -> "invalid magic characters: ...". "" if none.
std::string take_log_error() {
    std::lock_guard lock(g_log_mutex);
    const std::vector<std::string> lines = std::exchange(g_log_errors, {});
    if (lines.empty()) return "";
    std::string e = lines.front();
    for (;;) {
        size_t i = 0;
        while (i < e.size() && (std::isalnum(static_cast<unsigned char>(e[i])) || e[i] == '_')) ++i;
        if (i > 0 && e.compare(i, 2, ": ") == 0) {
            e.erase(0, i + 2);
        } else if (e.rfind("error loading model: ", 0) == 0) {
            e.erase(0, 21);
        } else {
            break;
        }
    }
    return e;
}

void backend_init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        install_llama_log();
        llama_backend_init();
    });
}

ggml_type parse_kv_type(const std::string & s) {
    for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
        const char * name = ggml_type_name(static_cast<ggml_type>(t));
        if (name && s == name) return static_cast<ggml_type>(t);
    }
    throw UsageError(fmt::format("unknown KV-cache type '{}' (expected f16, bf16, q8_0, q4_0, ...)", s));
}

std::string meta_string(const llama_model * model, const char * key) {
    char buf[512];
    int n = llama_model_meta_val_str(model, key, buf, sizeof(buf));
    return n >= 0 ? std::string(buf) : std::string();
}

// log-softmax of one vocabulary row at `token`, and whether `token` is the argmax.
std::pair<double, bool> token_logprob(const float * logits, int n_vocab, int32_t token) {
    float max_l = logits[0];
    int argmax = 0;
    for (int i = 1; i < n_vocab; ++i) {
        if (logits[i] > max_l) {
            max_l = logits[i];
            argmax = i;
        }
    }
    double sum = 0.0;
    // expf in float, summed in double: a 150k-entry row costs ~0.3 ms instead of ~1 ms.
    for (int i = 0; i < n_vocab; ++i) sum += double(std::exp(logits[i] - max_l));
    return {double(logits[token]) - max_l - std::log(sum), argmax == token};
}

int32_t argmax_token(const float * logits, int n_vocab) {
    return int32_t(std::max_element(logits, logits + n_vocab) - logits);
}

}  // namespace

EngineParams engine_default_params() { return EngineParams{}; }

void install_llama_log() {
    static std::once_flag once;
    std::call_once(once, [] { llama_log_set(log_callback, nullptr); });
}

// A llama_batch that flushes itself when full and hands each requested output row to a
// callback with the tag it was added with. Rows are independent, so with n_workers > 1 the
// callback runs on several threads at once (a 150k-token vocabulary makes each row's
// log-softmax the bookkeeping that would otherwise leave the GPU waiting); it must only
// write state that belongs to its row.
class BatchRunner {
public:
    using OutputFn = std::function<void(int64_t tag, const float * logits)>;

    // max_seqs: the most sequences one token may belong to (a context shared by several).
    BatchRunner(llama_context * ctx, int capacity, OutputFn on_output, int n_workers = 1, int max_seqs = 1)
        : ctx_(ctx), capacity_(capacity), max_seqs_(std::max(1, max_seqs)), on_output_(std::move(on_output)),
          n_workers_(std::max(1, n_workers)) {
        batch_ = llama_batch_init(capacity, 0, max_seqs_);
        n_vocab_ = size_t(llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(ctx))));
    }
    ~BatchRunner() { llama_batch_free(batch_); }

    void add(int32_t token, int32_t pos, int32_t seq, bool want_logits, int64_t tag = -1) {
        add(token, pos, std::span<const int32_t>(&seq, 1), want_logits, tag);
    }

    // A token that belongs to every sequence in seqs (one KV cell that all of them see).
    void add(int32_t token, int32_t pos, std::span<const int32_t> seqs, bool want_logits, int64_t tag = -1) {
        if (batch_.n_tokens == capacity_) flush();
        const int i = batch_.n_tokens++;
        batch_.token[i] = token;
        batch_.pos[i] = pos;
        batch_.n_seq_id[i] = int32_t(std::min(seqs.size(), size_t(max_seqs_)));
        for (int k = 0; k < batch_.n_seq_id[i]; ++k) batch_.seq_id[i][k] = seqs[size_t(k)];
        batch_.logits[i] = want_logits;
        if (want_logits) tags_.emplace_back(i, tag);
    }

    void flush() {
        if (batch_.n_tokens == 0) return;
        const int rc = llama_decode(ctx_, batch_);
        if (rc != 0) {
            throw RuntimeFailure(rc == 1 ? "llama_decode: no room in the KV cache for the batch (raise --ctx-size)"
                                         : fmt::format("llama_decode failed with status {}", rc));
        }
        ++n_decode_calls;
        rows_.clear();
        for (auto [i, tag] : tags_) rows_.emplace_back(tag, llama_get_logits_ith(ctx_, i));
        // Threads only for work worth starting them for (about a millisecond of log-softmax and
        // more): with a small vocabulary they would only compete with the backend's own threads.
        const size_t n_threads =
            rows_.size() * n_vocab_ < (size_t(1) << 20) ? 1 : std::min(size_t(n_workers_), rows_.size() / 4);
        if (n_threads <= 1) {
            for (auto [tag, logits] : rows_) on_output_(tag, logits);
        } else {
            std::vector<std::thread> workers;
            for (size_t w = 0; w < n_threads; ++w) {
                workers.emplace_back([this, w, n_threads] {
                    for (size_t k = w; k < rows_.size(); k += n_threads) on_output_(rows_[k].first, rows_[k].second);
                });
            }
            for (auto & t : workers) t.join();
        }
        tags_.clear();
        batch_.n_tokens = 0;
    }

    int64_t n_decode_calls = 0;

private:
    llama_context * ctx_;
    int capacity_;
    int max_seqs_;
    size_t n_vocab_ = 0;
    OutputFn on_output_;
    int n_workers_;
    llama_batch batch_;
    std::vector<std::pair<int, int64_t>> tags_;
    std::vector<std::pair<int64_t, const float *>> rows_;
};

// The CPU backend's thread pool, made once per engine and attached to the context, as llama-bench
// does. Without one, ggml makes and tears down a pool for every graph it computes on the CPU: on a
// GPU that is every decode step (the token embeddings stay on the CPU), and it cost 3-10 % of
// decode speed against llama-bench. Taken through the CPU backend's registry, so it works with
// static and dynamically loaded backends alike.
class CpuThreadPool {
public:
    explicit CpuThreadPool(int n_threads) {
        ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
        ggml_backend_reg_t reg = dev ? ggml_backend_dev_backend_reg(dev) : nullptr;
        if (!reg) return;
        auto * make = (decltype(ggml_threadpool_new) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new");
        free_ = (decltype(ggml_threadpool_free) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free");
        if (!make || !free_) return;
        ggml_threadpool_params tpp = ggml_threadpool_params_default(n_threads);
        pool_ = make(&tpp);
    }
    ~CpuThreadPool() {
        if (pool_ && free_) free_(pool_);
    }
    CpuThreadPool(const CpuThreadPool &) = delete;
    CpuThreadPool & operator=(const CpuThreadPool &) = delete;
    ggml_threadpool * get() const { return pool_; }

private:
    ggml_threadpool * pool_ = nullptr;
    decltype(ggml_threadpool_free) * free_ = nullptr;
};

namespace {

// The GPUs llama.cpp sees, in its numbering (--gpus N is the N-th).
std::vector<ggml_backend_dev_t> gpu_backend_devices() {
    backend_init_once();
    std::vector<ggml_backend_dev_t> out;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_GPU) out.push_back(dev);
    }
    return out;
}

// Refuses a split mode the devices cannot run, before llama.cpp fails with only a log line.
void check_split_mode(const EngineParams & params, const std::vector<ggml_backend_dev_t> & devices) {
    if (params.n_gpu_layers == 0) return;
    if (params.split_mode == SplitMode::tensor) {
        if (devices.empty()) {
            throw UsageError("--split-mode tensor needs GPUs, and this build of llama.cpp sees none");
        }
        if (params.flash_attn == FlashAttn::off) {
            throw UsageError("--split-mode tensor needs flash attention: use --flash-attn on or auto");
        }
    }
    if (params.split_mode == SplitMode::row) {
        for (ggml_backend_dev_t dev : devices) {
            ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
            if (!reg || !ggml_backend_reg_get_proc_address(reg, "ggml_backend_split_buffer_type")) {
                throw UsageError(fmt::format(
                    "--split-mode row: {} cannot split weights by rows in this llama.cpp ({}); use --split-mode "
                    "tensor (tensor parallelism) or layer",
                    ggml_backend_dev_name(dev), JOULEBENCH_LLAMA_COMMIT));
            }
        }
    }
}

// The devices --gpus names (for tensor parallelism: all GPUs when it names none; otherwise
// empty means llama.cpp's default), after refusing GPUs that do not exist and a split mode they
// cannot run.
std::vector<ggml_backend_dev_t> placement_devices(const EngineParams & params) {
    const std::vector<ggml_backend_dev_t> all = gpu_backend_devices();
    std::vector<ggml_backend_dev_t> devices;
    for (int g : params.gpus) {
        if (g < 0 || size_t(g) >= all.size()) {
            throw UsageError(fmt::format("--gpus: GPU {} does not exist (this build of llama.cpp sees {} GPU{})", g,
                                         all.size(), all.size() == 1 ? "" : "s"));
        }
        devices.push_back(all[size_t(g)]);
    }
    if (devices.empty() && params.split_mode == SplitMode::tensor) devices = all;
    check_split_mode(params, devices);
    return devices;
}

}  // namespace

void check_placement(const EngineParams & params) { placement_devices(params); }

struct LlamaEngine::Impl {
    EngineParams params;
    ModelInfo info;
    ModelPtr model;
    std::unique_ptr<CpuThreadPool> threadpool;  // declared before ctx: outlives it
    ContextPtr ctx;
    const llama_vocab * vocab = nullptr;
    int n_vocab = 0;
    bool add_bos = false;
    LmCounters counters;

    int n_threads = 1;
    bool on_gpu = false;  // layers offloaded to a GPU

    void make_context(const EngineParams & params);
    llama_memory_t memory() const { return llama_get_memory(ctx.get()); }
    // Frees every KV cell for the next wave. The cells' data is left as it is: a freed cell is
    // masked until it is written again, and zeroing the whole cache each time (10 MB for
    // stories260K's 8192 cells, gigabytes for a 7B model) cost 5 % of a HellaSwag run on the CPU.
    void clear_cells() const { llama_memory_clear(memory(), false); }
};

// The context (KV cache, batch sizes, threads, flash attention) of the model for `params`, replacing
// any it had; throws with the reason when llama.cpp cannot make it (the engine then has none).
void LlamaEngine::Impl::make_context(const EngineParams & params) {
    Impl & im = *this;
    llama_context_params cp = llama_context_default_params();
    const int n_threads = params.n_threads > 0 ? params.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
    cp.n_ctx = params.n_ctx;
    cp.n_batch = params.n_batch;
    cp.n_ubatch = params.n_ubatch;
    cp.n_seq_max = params.n_seq_max;
    cp.n_threads = n_threads;
    cp.n_threads_batch = n_threads;
    cp.type_k = parse_kv_type(params.type_k);
    cp.type_v = parse_kv_type(params.type_v);
    cp.flash_attn_type = params.flash_attn == FlashAttn::on    ? LLAMA_FLASH_ATTN_TYPE_ENABLED
                         : params.flash_attn == FlashAttn::off ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                                                               : LLAMA_FLASH_ATTN_TYPE_AUTO;
    // One pool of KV cells for all sequences, so that copying a shared prefix only tags cells;
    // not for one sequence (kv_unified(): llama_batch_allocr::init was 27 % of a small model's
    // single-sequence decode time on the CPU with a pool).
    cp.kv_unified = kv_unified(params);
    cp.no_perf = true;
    if (cp.type_v != GGML_TYPE_F16 && params.flash_attn == FlashAttn::off) {
        throw UsageError(fmt::format("a quantized V cache ({}) needs flash attention; drop --flash-attn off",
                                     params.type_v));
    }
    im.ctx.reset();  // the old context's KV cache is freed before the new one is allocated
    im.threadpool.reset();
    take_log_error();
    im.ctx.reset(llama_init_from_model(im.model.get(), cp));
    if (!im.ctx) {
        const std::string why = take_log_error();
        throw RuntimeFailure(fmt::format("{}: llama.cpp could not create a context (ctx {}, batch {}, KV {}/{}): {}",
                                         params.model_path, params.n_ctx, params.n_batch, params.type_k,
                                         params.type_v,
                                         why.empty() ? "out of memory or an unsupported setting" : why));
    }
    im.n_threads = n_threads;
    im.threadpool = std::make_unique<CpuThreadPool>(n_threads);
    if (im.threadpool->get()) llama_attach_threadpool(im.ctx.get(), im.threadpool->get(), nullptr);
    im.params = params;
}

LlamaEngine::LlamaEngine(const EngineParams & params, PhaseObserver * observer) : impl_(std::make_unique<Impl>()) {
    set_phase_observer(observer);
    auto & im = *impl_;
    im.params = params;
    g_verbose = params.verbose;
    backend_init_once();

    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(params.model_path, ec)) {
        throw InputError(params.model_path, "model file not found");
    }
    if (params.n_ctx < 16 || params.n_batch < 1 || params.n_ubatch < 1 || params.n_seq_max < 1 ||
        params.n_seq_max > int(llama_max_parallel_sequences())) {
        throw UsageError(fmt::format("bad engine sizes: ctx {} batch {} ubatch {} sequences {} (max {})", params.n_ctx,
                                     params.n_batch, params.n_ubatch, params.n_seq_max,
                                     llama_max_parallel_sequences()));
    }

    std::vector<ggml_backend_dev_t> devices = placement_devices(params);
    std::vector<float> split(llama_max_devices(), 0.0f);
    if (!params.tensor_split.empty()) {
        if (params.tensor_split.size() > split.size()) {
            throw UsageError(fmt::format("--tensor-split names {} devices; this build supports {}",
                                         params.tensor_split.size(), split.size()));
        }
        std::copy(params.tensor_split.begin(), params.tensor_split.end(), split.begin());
    }

    phase(Phase::load);
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = params.n_gpu_layers;
    mp.main_gpu = params.main_gpu;
    mp.split_mode = params.split_mode == SplitMode::none     ? LLAMA_SPLIT_MODE_NONE
                    : params.split_mode == SplitMode::row    ? LLAMA_SPLIT_MODE_ROW
                    : params.split_mode == SplitMode::tensor ? LLAMA_SPLIT_MODE_TENSOR
                                                             : LLAMA_SPLIT_MODE_LAYER;
    if (!params.tensor_split.empty()) mp.tensor_split = split.data();
    if (!devices.empty()) {
        devices.push_back(nullptr);
        mp.devices = devices.data();
    }
    take_log_error();
    im.model.reset(llama_model_load_from_file(params.model_path.c_str(), mp));
    if (!im.model) {
        phase(Phase::idle);
        const std::string why = take_log_error();
        throw InputError(params.model_path,
                         fmt::format("llama.cpp could not load this model ({}); run with --verbose for llama.cpp's log",
                                     why.empty() ? "not a GGUF file, truncated, or an unsupported architecture" : why));
    }

    try {
        im.make_context(params);
    } catch (...) {
        phase(Phase::idle);
        throw;
    }
    im.vocab = llama_model_get_vocab(im.model.get());
    im.n_vocab = llama_vocab_n_tokens(im.vocab);
    im.add_bos = llama_vocab_get_add_bos(im.vocab);

    auto & info = im.info;
    info.path = params.model_path;
    info.arch = meta_string(im.model.get(), "general.architecture");
    info.name = meta_string(im.model.get(), "general.name");
    char desc[256];
    llama_model_desc(im.model.get(), desc, sizeof(desc));
    info.desc = desc;
    info.n_params = llama_model_n_params(im.model.get());
    info.size_bytes = llama_model_size(im.model.get());
    info.n_layer = llama_model_n_layer(im.model.get());
    info.n_embd = llama_model_n_embd(im.model.get());
    info.n_vocab = im.n_vocab;
    info.n_ctx_train = llama_model_n_ctx_train(im.model.get());
    info.synthetic = meta_string(im.model.get(), "joulebench.synthetic") == "true";
    auto gpus = llama_gpu_devices();
    im.on_gpu = !gpus.empty() && params.n_gpu_layers != 0;
    info.gpu_offload = im.on_gpu ? fmt::format("{}", fmt::join(gpus, "; ")) : "none";
    phase(Phase::idle);
}

LlamaEngine::~LlamaEngine() = default;

void LlamaEngine::reconfigure(const EngineParams & params) {
    auto & im = *impl_;
    if (!same_model_load(im.params, params)) {
        throw UsageError(fmt::format("{}: reconfigure changes how the model is loaded (file, offload or placement); "
                                     "make a new engine", im.params.model_path));
    }
    if (params.n_ctx < 16 || params.n_batch < 1 || params.n_ubatch < 1 || params.n_seq_max < 1 ||
        params.n_seq_max > int(llama_max_parallel_sequences())) {
        throw UsageError(fmt::format("bad engine sizes: ctx {} batch {} ubatch {} sequences {} (max {})", params.n_ctx,
                                     params.n_batch, params.n_ubatch, params.n_seq_max,
                                     llama_max_parallel_sequences()));
    }
    g_verbose = params.verbose;
    phase(Phase::load);
    try {
        im.make_context(params);
    } catch (...) {
        phase(Phase::idle);
        throw;
    }
    phase(Phase::idle);
}

const ModelInfo & LlamaEngine::info() const { return impl_->info; }
const EngineParams & LlamaEngine::params() const { return impl_->params; }
std::string LlamaEngine::name() const { return impl_->info.path; }
LmCounters LlamaEngine::counters() const { return impl_->counters; }
void LlamaEngine::reset_counters() { impl_->counters = {}; }

std::vector<int32_t> LlamaEngine::tokenize(const std::string & text, bool add_bos) const {
    const auto * vocab = impl_->vocab;
    int n = -llama_tokenize(vocab, text.data(), int32_t(text.size()), nullptr, 0, add_bos, false);
    std::vector<int32_t> out(std::max(n, 0));
    if (n > 0) {
        int got = llama_tokenize(vocab, text.data(), int32_t(text.size()), out.data(), n, add_bos, false);
        out.resize(std::max(got, 0));
    }
    return out;
}

// --- log-likelihood ---------------------------------------------------------------------------
//
// Requests are tokenized as lm-evaluation-harness does: trailing spaces of the context move to
// the continuation, the continuation's tokens are those of tok(context + continuation) past
// len(tok(context)). Requests with the same context form a group: the context is decoded once
// into one sequence, copied (by reference, kv_unified) to the group's other sequences, and each
// continuation is decoded on its own sequence. The last context token's logits score every
// continuation's first token, so single-token continuations (MMLU's " A".." D") cost nothing
// beyond the context.

std::vector<LoglikResult> LlamaEngine::loglikelihood(std::span<const LoglikRequest> requests) {
    auto & im = *impl_;
    auto n_threads = [&] { return im.n_threads; };
    std::vector<LoglikResult> results(requests.size());
    if (requests.empty()) return results;

    struct Tokenized {
        std::vector<int32_t> ctx;
        std::vector<int32_t> cont;
    };
    std::vector<Tokenized> tok(requests.size());
    std::map<std::string, size_t> group_of_context;
    struct Group {
        std::vector<size_t> reqs;
        size_t need_cells = 0;
    };
    std::vector<Group> groups;
    const size_t max_cells = size_t(im.params.n_ctx);

    // A task sends an item's choices one after another with the same context: its tokens are
    // computed once for all of them.
    std::string last_context;
    std::vector<int32_t> last_context_tokens;
    for (size_t r = 0; r < requests.size(); ++r) {
        std::string context = requests[r].context;
        std::string continuation = requests[r].continuation;
        size_t n_spaces = 0;
        while (n_spaces < context.size() && context[context.size() - 1 - n_spaces] == ' ') ++n_spaces;
        if (n_spaces > 0) {
            continuation = context.substr(context.size() - n_spaces) + continuation;
            context.resize(context.size() - n_spaces);
        }
        auto whole = tokenize(context + continuation, im.add_bos);
        if (r == 0 || context != last_context) {
            last_context = context;
            last_context_tokens = tokenize(context, im.add_bos);
        }
        auto ctx_tokens = last_context_tokens;
        if (ctx_tokens.size() > whole.size()) ctx_tokens.resize(whole.size());
        std::vector<int32_t> cont(whole.begin() + ctx_tokens.size(), whole.end());
        if (cont.empty()) {
            throw InputError("request", long(r), "continuation", "tokenizes to nothing: '" + requests[r].continuation + "'");
        }
        if (ctx_tokens.empty()) {
            ctx_tokens.push_back(llama_vocab_bos(im.vocab) >= 0 ? llama_vocab_bos(im.vocab) : llama_vocab_eos(im.vocab));
        }
        // Left-truncate contexts that would not fit, as the harness does at max_length.
        if (ctx_tokens.size() + cont.size() > max_cells) {
            if (cont.size() + 1 > max_cells) {
                throw UsageError(fmt::format("a continuation of {} tokens does not fit --ctx-size {}", cont.size(),
                                             max_cells));
            }
            ctx_tokens.erase(ctx_tokens.begin(), ctx_tokens.end() - (max_cells - cont.size()));
        }
        auto [it, fresh] = group_of_context.try_emplace(requests[r].context, groups.size());
        if (fresh) {
            groups.emplace_back();
            groups.back().need_cells = ctx_tokens.size();
        }
        Group & g = groups[it->second];
        // A group that outgrows the cache or the sequence budget starts a new group.
        if (g.reqs.size() == size_t(im.params.n_seq_max) || g.need_cells + cont.size() - 1 > max_cells) {
            it->second = groups.size();
            groups.emplace_back();
            groups.back().need_cells = ctx_tokens.size();
        }
        Group & g2 = groups[it->second];
        g2.reqs.push_back(r);
        g2.need_cells += cont.size() - 1;
        results[r].n_tokens = int(cont.size());
        results[r].tokens = cont;
        results[r].token_logprobs.assign(cont.size(), 0.0f);
        tok[r] = {std::move(ctx_tokens), std::move(cont)};
    }

    // Each output row writes only its own token slots (rows are scored in parallel); sums
    // and the greedy flag are taken after the last wave.
    std::vector<std::vector<uint8_t>> token_greedy(requests.size());
    for (size_t r = 0; r < requests.size(); ++r) token_greedy[r].assign(tok[r].cont.size(), 1);
    auto score = [&](size_t r, size_t j, const float * logits) {
        auto [lp, greedy] = token_logprob(logits, im.n_vocab, tok[r].cont[j]);
        results[r].token_logprobs[j] = float(lp);
        token_greedy[r][j] = greedy;
    };

    // Output tags: which request(s) a logits row scores. The last context token's row scores
    // token 0 of every request in the group; a continuation token's row scores its next token.
    std::vector<std::pair<size_t, size_t>> tag_targets;  // (request, token index) or (group, SIZE_MAX)
    const size_t group_tag = SIZE_MAX;
    size_t widest_group = 1;
    for (const auto & g : groups) widest_group = std::max(widest_group, g.reqs.size());
    BatchRunner runner(im.ctx.get(), im.params.n_batch, [&](int64_t tag, const float * logits) {
        auto [a, j] = tag_targets[size_t(tag)];
        if (j == group_tag) {
            for (size_t r : groups[a].reqs) score(r, 0, logits);
        } else {
            score(a, j + 1, logits);
        }
    }, n_threads(), int(widest_group));

    // A wave: the groups evaluated together, in one KV pool that is cleared between waves. Every
    // token attends over the cells in use (the others' masked), so a wave's cells cost every one
    // of its tokens; a GPU wants many tokens per call, a CPU is as fast with a few hundred, and
    // larger waves only add masked attention there (bench/eval_throughput.sh). So the wave holds
    // about one batch of cells on a GPU and kLoglikCpuWaveCells on the CPU, and always at least
    // one whole group.
    const size_t wave_cells =
        std::min({max_cells, size_t(std::max(im.params.n_batch, 1)), im.on_gpu ? max_cells : kLoglikCpuWaveCells});
    phase(Phase::prefill);
    const auto t0 = Clock::now();
    int64_t n_tokens = 0;
    size_t g0 = 0;
    std::vector<int32_t> ctx_seqs;
    while (g0 < groups.size()) {
        size_t g1 = g0, cells = 0, seqs = 0;
        while (g1 < groups.size() && cells + groups[g1].need_cells <= max_cells &&
               (g1 == g0 || cells + groups[g1].need_cells <= wave_cells) &&
               seqs + groups[g1].reqs.size() <= size_t(im.params.n_seq_max)) {
            cells += groups[g1].need_cells;
            seqs += groups[g1].reqs.size();
            ++g1;
        }
        im.clear_cells();
        tag_targets.clear();

        // Each group's context goes in once, on the sequences of all its requests that continue
        // past one token (one cell each, seen by all of them, as llama-perplexity shares a common
        // prefix), then each such continuation on its own sequence: one decode call per wave.
        int32_t seq = 0;
        for (size_t g = g0; g < g1; ++g) {
            const int32_t base = seq;
            ctx_seqs.assign(1, base);
            for (size_t k = 1; k < groups[g].reqs.size(); ++k) {
                if (tok[groups[g].reqs[k]].cont.size() > 1) ctx_seqs.push_back(base + int32_t(k));
            }
            const auto & ctx_tokens = tok[groups[g].reqs[0]].ctx;
            for (size_t i = 0; i < ctx_tokens.size(); ++i) {
                const bool last = i + 1 == ctx_tokens.size();
                if (last) tag_targets.emplace_back(g, group_tag);
                runner.add(ctx_tokens[i], int32_t(i), ctx_seqs, last, last ? int64_t(tag_targets.size() - 1) : -1);
            }
            n_tokens += int64_t(ctx_tokens.size());
            for (size_t k = 0; k < groups[g].reqs.size(); ++k) {
                const size_t r = groups[g].reqs[k];
                const auto & cont = tok[r].cont;
                const int32_t pos0 = int32_t(tok[r].ctx.size());
                for (size_t j = 0; j + 1 < cont.size(); ++j) {
                    tag_targets.emplace_back(r, j);
                    runner.add(cont[j], pos0 + int32_t(j), base + int32_t(k), true, int64_t(tag_targets.size() - 1));
                }
                n_tokens += int64_t(cont.size() > 0 ? cont.size() - 1 : 0);
            }
            seq += int32_t(groups[g].reqs.size());
        }
        runner.flush();
        g0 = g1;
    }
    llama_memory_clear(im.memory(), true);
    for (size_t r = 0; r < requests.size(); ++r) {
        results[r].logprob = 0.0;
        for (float lp : results[r].token_logprobs) results[r].logprob += double(lp);
        results[r].is_greedy = std::all_of(token_greedy[r].begin(), token_greedy[r].end(), [](uint8_t g) { return g; });
    }
    im.counters.prefill_s += seconds_since(t0);
    im.counters.prefill_tokens += n_tokens;
    im.counters.n_decode_calls += runner.n_decode_calls;
    phase(Phase::idle);
    return results;
}

// --- generation -------------------------------------------------------------------------------
//
// Greedy decoding of several prompts side by side, one sequence each: all prompts of a wave
// are prefilled first, then decoded in lock-step, so the meter sees clean prefill and decode
// phases.

std::vector<GenResult> LlamaEngine::generate(std::span<const GenRequest> requests) {
    auto & im = *impl_;
    std::vector<GenResult> results(requests.size());
    if (requests.empty()) return results;

    struct Seq {
        size_t req;
        std::vector<int32_t> prompt;
        int32_t pos = 0;
        int32_t next = -1;
        bool done = false;
        size_t stop_scan_from = 0;
    };
    std::vector<Seq> all(requests.size());
    const int max_cells = im.params.n_ctx;
    for (size_t r = 0; r < requests.size(); ++r) {
        if (requests[r].max_tokens < 1) throw UsageError("generation needs max_tokens >= 1");
        all[r].req = r;
        all[r].prompt = tokenize(requests[r].context, im.add_bos);
        if (all[r].prompt.empty()) all[r].prompt.push_back(llama_vocab_bos(im.vocab));
        const int budget = max_cells - requests[r].max_tokens;
        if (budget < 1) throw UsageError(fmt::format("max_tokens {} does not fit --ctx-size {}", requests[r].max_tokens, max_cells));
        if (int(all[r].prompt.size()) > budget) all[r].prompt.erase(all[r].prompt.begin(), all[r].prompt.end() - budget);
    }

    std::vector<Seq *> wave;
    BatchRunner runner(im.ctx.get(), im.params.n_batch, [&](int64_t tag, const float * logits) {
        wave[size_t(tag)]->next = argmax_token(logits, im.n_vocab);
    });
    const auto t_start = Clock::now();
    bool first_token_seen = im.counters.first_token_s >= 0;

    auto piece = [&](int32_t token) {
        char buf[256];
        int n = llama_token_to_piece(im.vocab, token, buf, sizeof(buf), 0, false);
        return n > 0 ? std::string(buf, size_t(n)) : std::string();
    };

    // Appends the token's text; returns true when the sequence is finished.
    auto accept = [&](Seq & s) {
        const auto & req = requests[s.req];
        auto & res = results[s.req];
        res.n_tokens++;
        if (llama_vocab_is_eog(im.vocab, s.next)) return true;
        res.text += piece(s.next);
        for (const auto & stop : req.stop) {
            if (stop.empty()) continue;
            size_t from = s.stop_scan_from > stop.size() ? s.stop_scan_from - stop.size() : 0;
            size_t at = res.text.find(stop, from);
            if (at != std::string::npos) {
                res.text.resize(at);
                return true;
            }
        }
        s.stop_scan_from = res.text.size();
        return res.n_tokens >= req.max_tokens;
    };

    size_t r0 = 0;
    while (r0 < all.size()) {
        wave.clear();
        int cells = 0;
        while (r0 < all.size() && int(wave.size()) < im.params.n_seq_max &&
               cells + int(all[r0].prompt.size()) + requests[r0].max_tokens <= max_cells) {
            cells += int(all[r0].prompt.size()) + requests[r0].max_tokens;
            wave.push_back(&all[r0++]);
        }
        im.clear_cells();

        phase(Phase::prefill);
        const auto t_pre = Clock::now();
        for (size_t k = 0; k < wave.size(); ++k) {
            auto & s = *wave[k];
            for (size_t i = 0; i < s.prompt.size(); ++i) {
                runner.add(s.prompt[i], int32_t(i), int32_t(k), i + 1 == s.prompt.size(), int64_t(k));
            }
            s.pos = int32_t(s.prompt.size());
            im.counters.prefill_tokens += int64_t(s.prompt.size());
        }
        runner.flush();
        im.counters.prefill_s += seconds_since(t_pre);
        if (!first_token_seen) {
            im.counters.first_token_s = seconds_since(t_start);
            first_token_seen = true;
        }

        phase(Phase::decode);
        const auto t_dec = Clock::now();
        for (auto * s : wave) s->done = accept(*s);
        for (;;) {
            bool any = false;
            for (size_t k = 0; k < wave.size(); ++k) {
                auto & s = *wave[k];
                if (s.done) continue;
                any = true;
                runner.add(s.next, s.pos++, int32_t(k), true, int64_t(k));
            }
            if (!any) break;
            runner.flush();
            for (auto * s : wave) {
                if (!s->done) {
                    s->done = accept(*s);
                    im.counters.decode_tokens++;
                }
            }
        }
        im.counters.decode_s += seconds_since(t_dec);
    }
    // The first token of each sequence comes from the prefill's logits; count it as decoded.
    im.counters.decode_tokens += int64_t(requests.size());
    im.counters.n_decode_calls += runner.n_decode_calls;
    llama_memory_clear(im.memory(), true);
    phase(Phase::idle);
    return results;
}

// --- full distributions (fidelity) --------------------------------------------------------------

LogprobMatrix LlamaEngine::token_distributions(const std::vector<int32_t> & tokens, int chunk) {
    auto & im = *impl_;
    if (chunk < 2 || chunk > im.params.n_ctx) {
        throw UsageError(fmt::format("chunk of {} tokens does not fit --ctx-size {}", chunk, im.params.n_ctx));
    }
    LogprobMatrix out;
    out.n_vocab = im.n_vocab;
    for (size_t start = 0; start + 1 < tokens.size(); start += size_t(chunk)) {
        const size_t end = std::min(tokens.size(), start + size_t(chunk));
        for (size_t i = start + 1; i < end; ++i) out.targets.push_back(tokens[i]);
    }
    out.n_rows = int(out.targets.size());
    out.data.resize(size_t(out.n_rows) * size_t(out.n_vocab));

    size_t row0 = 0;
    BatchRunner runner(im.ctx.get(), im.params.n_batch, [&](int64_t tag, const float * logits) {
        float * dst = out.data.data() + size_t(tag) * size_t(im.n_vocab);
        const float max_l = *std::max_element(logits, logits + im.n_vocab);
        double sum = 0.0;
        for (int v = 0; v < im.n_vocab; ++v) sum += double(std::exp(logits[v] - max_l));
        const float lse = max_l + float(std::log(sum));
        for (int v = 0; v < im.n_vocab; ++v) dst[v] = logits[v] - lse;
    }, im.n_threads);
    phase(Phase::prefill);
    const auto t0 = Clock::now();
    for (size_t start = 0; start + 1 < tokens.size(); start += size_t(chunk)) {
        const size_t end = std::min(tokens.size(), start + size_t(chunk));
        im.clear_cells();
        for (size_t i = start; i + 1 < end; ++i) {
            runner.add(tokens[i], int32_t(i - start), 0, true, int64_t(row0 + (i - start)));
        }
        runner.flush();
        row0 += end - start - 1;
        im.counters.prefill_tokens += int64_t(end - start - 1);
    }
    llama_memory_clear(im.memory(), true);
    im.counters.prefill_s += seconds_since(t0);
    phase(Phase::idle);
    return out;
}

// --- synthetic workloads (llama-bench) ---------------------------------------------------------

namespace {
std::vector<int32_t> random_tokens(int n, int n_vocab, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
    std::vector<int32_t> out(size_t(std::max(n, 0)));
    for (auto & t : out) t = dist(rng);
    return out;
}
}  // namespace

void LlamaEngine::warmup() {
    auto & im = *impl_;
    llama_memory_clear(im.memory(), true);
    BatchRunner runner(im.ctx.get(), im.params.n_batch, [](int64_t, const float *) {});
    int32_t bos = llama_vocab_bos(im.vocab);
    runner.add(bos >= 0 ? bos : 0, 0, 0, true, 0);
    runner.flush();
    llama_synchronize(im.ctx.get());
    llama_memory_clear(im.memory(), true);
}

BenchResult LlamaEngine::bench_prefill(int n_prompt, int n_seq) {
    auto & im = *impl_;
    if (n_prompt < 1 || n_seq < 1 || n_seq > im.params.n_seq_max || n_prompt * n_seq > im.params.n_ctx) {
        throw UsageError(fmt::format("prefill of {} tokens on {} sequences does not fit (ctx {}, sequences {})",
                                     n_prompt, n_seq, im.params.n_ctx, im.params.n_seq_max));
    }
    llama_memory_clear(im.memory(), true);
    BatchRunner runner(im.ctx.get(), im.params.n_batch, [](int64_t, const float *) {});
    auto tokens = random_tokens(n_prompt * n_seq, im.n_vocab, 42);
    phase(Phase::prefill);
    const auto t0 = Clock::now();
    for (int s = 0; s < n_seq; ++s) {
        for (int i = 0; i < n_prompt; ++i) runner.add(tokens[size_t(s * n_prompt + i)], i, s, i + 1 == n_prompt, 0);
    }
    runner.flush();
    llama_synchronize(im.ctx.get());
    BenchResult r;
    r.n_prompt = n_prompt;
    r.n_seq = n_seq;
    r.prefill_s = seconds_since(t0);
    r.prefill_tokens = int64_t(n_prompt) * n_seq;
    phase(Phase::idle);
    im.counters.prefill_s += r.prefill_s;
    im.counters.prefill_tokens += r.prefill_tokens;
    llama_memory_clear(im.memory(), true);
    return r;
}

BenchResult LlamaEngine::bench_decode(int n_gen, int n_seq) {
    auto & im = *impl_;
    if (n_gen < 1 || n_seq < 1 || n_seq > im.params.n_seq_max || (n_gen + 1) * n_seq > im.params.n_ctx) {
        throw UsageError(fmt::format("decode of {} tokens on {} sequences does not fit (ctx {}, sequences {})", n_gen,
                                     n_seq, im.params.n_ctx, im.params.n_seq_max));
    }
    llama_memory_clear(im.memory(), true);
    BatchRunner runner(im.ctx.get(), im.params.n_batch, [](int64_t, const float *) {});
    // llama-bench's tg test: a single start token per sequence, then n_gen steps that each feed
    // one (random) token per sequence. Sampling is not timed there either.
    auto tokens = random_tokens(n_gen * n_seq + n_seq, im.n_vocab, 43);
    phase(Phase::decode);
    const auto t0 = Clock::now();
    size_t t = 0;
    for (int step = 0; step < n_gen; ++step) {
        for (int s = 0; s < n_seq; ++s) runner.add(tokens[t++], step, s, true, 0);
        runner.flush();
    }
    llama_synchronize(im.ctx.get());
    BenchResult r;
    r.n_gen = n_gen;
    r.n_seq = n_seq;
    r.decode_s = seconds_since(t0);
    r.decode_tokens = int64_t(n_gen) * n_seq;
    phase(Phase::idle);
    im.counters.decode_s += r.decode_s;
    im.counters.decode_tokens += r.decode_tokens;
    llama_memory_clear(im.memory(), true);
    return r;
}

// --- free functions ---------------------------------------------------------------------------

bool gguf_is_synthetic(const std::string & path) {
    install_llama_log();  // ggml's log goes through our callback: no log lines for a bad file
    gguf_init_params p{/*no_alloc =*/true, /*ctx =*/nullptr};
    GgufPtr g(gguf_init_from_file(path.c_str(), p));
    if (!g) throw InputError(path, "not a readable GGUF file");
    int64_t key = gguf_find_key(g.get(), "joulebench.synthetic");
    return key >= 0 && gguf_get_kv_type(g.get(), key) == GGUF_TYPE_BOOL && gguf_get_val_bool(g.get(), key);
}

std::string llama_build_commit() { return JOULEBENCH_LLAMA_COMMIT; }

std::string llama_system_info() {
    backend_init_once();
    return llama_print_system_info();
}

std::vector<std::string> llama_gpu_devices() {
    std::vector<std::string> out;
    for (ggml_backend_dev_t dev : gpu_backend_devices()) {
        size_t free_b = 0, total_b = 0;
        ggml_backend_dev_memory(dev, &free_b, &total_b);
        out.push_back(fmt::format("{} ({}, {:.1f} GiB)", ggml_backend_dev_name(dev), ggml_backend_dev_description(dev),
                                  double(total_b) / (1024.0 * 1024 * 1024)));
    }
    return out;
}

}  // namespace jb
