#include "energy/nvml.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb::energy {

namespace nvml {
double value_as_double(int value_type, const Value & v) {
    switch (value_type) {
        case VALUE_TYPE_DOUBLE:
            return v.dVal;
        case VALUE_TYPE_UNSIGNED_INT:
            return v.uiVal;
        case VALUE_TYPE_UNSIGNED_LONG:
            return static_cast<double>(v.ulVal);
        case VALUE_TYPE_UNSIGNED_LONG_LONG:
            return static_cast<double>(v.ullVal);
        case VALUE_TYPE_SIGNED_LONG_LONG:
            return static_cast<double>(v.sllVal);
        case VALUE_TYPE_SIGNED_INT:
            return v.siVal;
        case VALUE_TYPE_UNSIGNED_SHORT:
            return v.usVal;
        default:
            return v.uiVal;  // power samples are unsigned int milliwatts
    }
}
}  // namespace nvml

// nvmlReturn_t -> name and what to tell the user (values and wording after nvml.h).
struct NvmlErrorEntry {
    nvml::Return code;
    const char * name;
    const char * text;
};

static constexpr NvmlErrorEntry k_nvml_errors[] = {
    {0, "NVML_SUCCESS", "success"},
    {1, "NVML_ERROR_UNINITIALIZED", "NVML was not initialised"},
    {2, "NVML_ERROR_INVALID_ARGUMENT", "a supplied argument is invalid"},
    {3, "NVML_ERROR_NOT_SUPPORTED", "not supported on this device"},
    {4, "NVML_ERROR_NO_PERMISSION", "the current user does not have permission for this operation"},
    {5, "NVML_ERROR_ALREADY_INITIALIZED", "NVML is already initialised"},
    {6, "NVML_ERROR_NOT_FOUND", "a query to find an object was unsuccessful"},
    {7, "NVML_ERROR_INSUFFICIENT_SIZE", "an input argument is not large enough"},
    {8, "NVML_ERROR_INSUFFICIENT_POWER", "a device's external power cables are not properly attached"},
    {9, "NVML_ERROR_DRIVER_NOT_LOADED", "the NVIDIA driver is not loaded"},
    {10, "NVML_ERROR_TIMEOUT", "timeout"},
    {11, "NVML_ERROR_IRQ_ISSUE", "the NVIDIA kernel driver detected an interrupt issue with a GPU"},
    {12, "NVML_ERROR_LIBRARY_NOT_FOUND", "the NVML shared library could not be found or loaded"},
    {13, "NVML_ERROR_FUNCTION_NOT_FOUND", "this NVML version does not implement the function"},
    {14, "NVML_ERROR_CORRUPTED_INFOROM", "the GPU's infoROM is corrupted"},
    {15, "NVML_ERROR_GPU_IS_LOST", "the GPU has fallen off the bus or is otherwise inaccessible"},
    {16, "NVML_ERROR_RESET_REQUIRED", "the GPU needs a reset before it can be used again"},
    {17, "NVML_ERROR_OPERATING_SYSTEM", "the operating system (or a cgroup) blocked the GPU control device"},
    {18, "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
     "NVML library and kernel driver versions differ (reload the driver or reboot after an upgrade)"},
    {19, "NVML_ERROR_IN_USE", "the GPU is in use"},
    {20, "NVML_ERROR_MEMORY", "insufficient memory"},
    {21, "NVML_ERROR_NO_DATA", "no data"},
    {22, "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED", "not available on a vGPU with ECC enabled"},
    {23, "NVML_ERROR_INSUFFICIENT_RESOURCES", "ran out of critical resources other than memory"},
    {24, "NVML_ERROR_FREQ_NOT_SUPPORTED", "frequency not supported"},
    {25, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", "the structure version is invalid or unsupported"},
    {26, "NVML_ERROR_DEPRECATED", "the function is deprecated"},
    {27, "NVML_ERROR_NOT_READY", "the system is not ready for the request"},
    {28, "NVML_ERROR_GPU_NOT_FOUND", "no GPUs were found"},
    {29, "NVML_ERROR_INVALID_STATE", "the resource is not in a state that allows the operation"},
    {999, "NVML_ERROR_UNKNOWN", "an internal driver error occurred"},
};

std::string nvml_error_message(nvml::Return code, const char * (*error_string)(nvml::Return)) {
    const NvmlErrorEntry * entry = nullptr;
    for (const auto & e : k_nvml_errors) {
        if (e.code == code) entry = &e;
    }
    const char * text = error_string ? error_string(code) : nullptr;
    if (!text || !*text) text = entry ? entry->text : "unknown NVML return code";
    return fmt::format("{} ({}): {}", entry ? entry->name : "NVML_ERROR", code, text);
}

void NvmlLibrary::DlClose::operator()(void * handle) const {
    if (handle) dlclose(handle);
}

NvmlLibrary::NvmlLibrary(std::unique_ptr<void, DlClose> handle, const NvmlApi & api, std::string name)
    : handle_(std::move(handle)), api_(api), name_(std::move(name)) {}

NvmlLibrary::~NvmlLibrary() {
    if (api_.shutdown) api_.shutdown();
    // handle_ closes the library after the shutdown above.
}

template <typename Fn>
static void load_symbol(void * handle, Fn & fn, const char * name, const char * fallback = nullptr) {
    void * sym = dlsym(handle, name);
    if (!sym && fallback) sym = dlsym(handle, fallback);
    fn = reinterpret_cast<Fn>(sym);
}

std::shared_ptr<NvmlLibrary> NvmlLibrary::open(const std::string & library) {
    dlerror();
    std::unique_ptr<void, DlClose> handle(dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL));
    if (!handle) {
        const char * err = dlerror();
        throw RuntimeFailure(
            fmt::format("{} not found (no NVIDIA driver installed?): {}", library, err ? err : "dlopen failed"));
    }
    void * h = handle.get();
    NvmlApi api;
    // The _v2 entry points are what nvml.h maps the plain names to since NVML 5.319.
    load_symbol(h, api.init, "nvmlInit_v2", "nvmlInit");
    load_symbol(h, api.shutdown, "nvmlShutdown");
    load_symbol(h, api.device_get_count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    load_symbol(h, api.device_get_handle_by_index, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    load_symbol(h, api.error_string, "nvmlErrorString");
    load_symbol(h, api.system_get_driver_version, "nvmlSystemGetDriverVersion");
    load_symbol(h, api.system_get_nvml_version, "nvmlSystemGetNVMLVersion");
    load_symbol(h, api.device_get_name, "nvmlDeviceGetName");
    load_symbol(h, api.device_get_uuid, "nvmlDeviceGetUUID");
    load_symbol(h, api.device_get_total_energy_consumption, "nvmlDeviceGetTotalEnergyConsumption");
    load_symbol(h, api.device_get_power_usage, "nvmlDeviceGetPowerUsage");
    load_symbol(h, api.device_get_samples, "nvmlDeviceGetSamples");
    load_symbol(h, api.device_get_enforced_power_limit, "nvmlDeviceGetEnforcedPowerLimit");
    load_symbol(h, api.device_get_memory_info, "nvmlDeviceGetMemoryInfo");
    load_symbol(h, api.device_get_utilization_rates, "nvmlDeviceGetUtilizationRates");
    load_symbol(h, api.device_get_clock_info, "nvmlDeviceGetClockInfo");
    load_symbol(h, api.device_get_max_clock_info, "nvmlDeviceGetMaxClockInfo");
    load_symbol(h, api.device_get_temperature, "nvmlDeviceGetTemperature");
    load_symbol(h, api.device_get_compute_running_processes, "nvmlDeviceGetComputeRunningProcesses_v3",
                "nvmlDeviceGetComputeRunningProcesses_v2");
    return make(std::move(handle), api, library);
}

std::shared_ptr<NvmlLibrary> NvmlLibrary::from_api(const NvmlApi & api, std::string name) {
    return make(nullptr, api, std::move(name));
}

std::shared_ptr<NvmlLibrary> NvmlLibrary::make(std::unique_ptr<void, DlClose> handle, const NvmlApi & api,
                                               std::string name) {
    const char * missing = !api.init                         ? "nvmlInit_v2"
                           : !api.shutdown                   ? "nvmlShutdown"
                           : !api.device_get_count           ? "nvmlDeviceGetCount_v2"
                           : !api.device_get_handle_by_index ? "nvmlDeviceGetHandleByIndex_v2"
                                                             : nullptr;
    if (missing) throw RuntimeFailure(fmt::format("{}: does not export {} (not an NVML library?)", name, missing));
    nvml::Return rc = api.init();
    if (rc != nvml::SUCCESS) {
        throw RuntimeFailure(fmt::format("{}: nvmlInit_v2 failed: {}", name, nvml_error_message(rc, api.error_string)));
    }
    // From here the destructor pairs the successful init with nvmlShutdown.
    return std::shared_ptr<NvmlLibrary>(new NvmlLibrary(std::move(handle), api, std::move(name)));
}

static std::string trim(const std::string & s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<unsigned> cuda_visible_nvml_indices(const char * cuda_visible_devices,
                                                const std::vector<std::string> & uuids, std::string * note) {
    std::vector<unsigned> out;
    if (!cuda_visible_devices) {
        for (unsigned i = 0; i < uuids.size(); ++i) out.push_back(i);
        return out;
    }
    std::string list = cuda_visible_devices;
    size_t pos = 0;
    while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        std::string entry = trim(list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
        pos = comma == std::string::npos ? list.size() + 1 : comma + 1;
        if (entry.empty() && out.empty() && pos > list.size()) break;  // CUDA_VISIBLE_DEVICES="": no device

        long match = -1;
        std::string why;
        if (!entry.empty() &&
            std::all_of(entry.begin(), entry.end(), [](unsigned char c) { return std::isdigit(c); })) {
            unsigned idx = 0;
            auto [p, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), idx);
            if (ec == std::errc() && idx < uuids.size())
                match = idx;
            else
                why = fmt::format("there are {} GPUs", uuids.size());
        } else if (entry.rfind("MIG-", 0) == 0) {
            why = "MIG instances are not metered separately (NVML reports energy per physical GPU)";
        } else if (!entry.empty()) {
            // A GPU-UUID or a unique prefix of one ("GPU-8a1f" or "8a1f"), as CUDA accepts.
            std::string want = entry.rfind("GPU-", 0) == 0 ? entry : "GPU-" + entry;
            for (unsigned i = 0; i < uuids.size(); ++i) {
                if (uuids[i].rfind(want, 0) != 0) continue;
                if (match >= 0) {
                    why = "the UUID prefix matches several GPUs";
                    match = -1;
                    break;
                }
                match = i;
            }
            if (match < 0 && why.empty()) why = "no GPU has that UUID";
        } else {
            why = "empty entry";
        }
        if (match >= 0 && std::find(out.begin(), out.end(), static_cast<unsigned>(match)) != out.end()) {
            match = -1;
            why = "repeats an earlier entry";
        }
        if (match < 0) {
            if (note) {
                *note = fmt::format(
                    "CUDA_VISIBLE_DEVICES entry '{}' ignored ({}); as in CUDA, the entries after it are too", entry,
                    why);
            }
            break;
        }
        out.push_back(static_cast<unsigned>(match));
    }
    return out;
}

std::optional<std::vector<unsigned>> nvml_compute_pids(const NvmlLibrary & lib, nvml::Device device,
                                                       std::string * error) {
    auto fn = lib.api().device_get_compute_running_processes;
    if (!fn) {
        if (error) *error = "nvmlDeviceGetComputeRunningProcesses_v3: not exported by this NVML";
        return std::nullopt;
    }
    std::vector<nvml::ProcessInfo> infos(16);
    for (int attempt = 0; attempt < 4; ++attempt) {
        unsigned int count = static_cast<unsigned int>(infos.size());
        nvml::Return rc = fn(device, &count, infos.data());
        if (rc == nvml::ERROR_INSUFFICIENT_SIZE) {
            // count now says how many there are; more may start before the next call.
            infos.resize(std::max<size_t>(count + 8, infos.size() * 2));
            continue;
        }
        if (rc != nvml::SUCCESS) {
            if (error) *error = "nvmlDeviceGetComputeRunningProcesses_v3: " + lib.error(rc);
            return std::nullopt;
        }
        std::vector<unsigned> pids;
        for (unsigned int i = 0; i < std::min<size_t>(count, infos.size()); ++i) pids.push_back(infos[i].pid);
        std::sort(pids.begin(), pids.end());
        pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
        return pids;
    }
    if (error) *error = "nvmlDeviceGetComputeRunningProcesses_v3: the process list kept growing";
    return std::nullopt;
}

NvmlEnergySensor::NvmlEnergySensor(std::shared_ptr<NvmlLibrary> lib, nvml::Device device, unsigned index,
                                   Provenance provenance, std::shared_ptr<Clock> clock)
    : lib_(std::move(lib)),
      device_(device),
      index_(index),
      provenance_(std::move(provenance)),
      clock_(std::move(clock)) {}

Reading NvmlEnergySensor::read() {
    unsigned long long energy_mj = 0;
    nvml::Return rc = lib_->api().device_get_total_energy_consumption(device_, &energy_mj);
    double t = clock_->now_s();
    if (rc != nvml::SUCCESS) {
        throw RuntimeFailure(fmt::format("gpu:{}: nvmlDeviceGetTotalEnergyConsumption: {}", index_, lib_->error(rc)));
    }
    return {static_cast<double>(energy_mj) * 1e-3, t};
}

NvmlPowerSensor::NvmlPowerSensor(std::shared_ptr<NvmlLibrary> lib, nvml::Device device, unsigned index, Source source,
                                 Provenance provenance, std::shared_ptr<Clock> clock)
    : lib_(std::move(lib)),
      device_(device),
      index_(index),
      source_(source),
      provenance_(std::move(provenance)),
      clock_(std::move(clock)) {
    buffer_.resize(256);
}

Reading NvmlPowerSensor::read() {
    unsigned int power_mw = 0;
    nvml::Return rc = lib_->api().device_get_power_usage ? lib_->api().device_get_power_usage(device_, &power_mw)
                                                         : nvml::ERROR_FUNCTION_NOT_FOUND;
    double t = clock_->now_s();
    if (rc != nvml::SUCCESS) {
        throw RuntimeFailure(fmt::format("gpu:{}: nvmlDeviceGetPowerUsage: {}", index_, lib_->error(rc)));
    }
    return {power_mw * 1e-3, t};
}

void NvmlPowerSensor::poll(std::vector<Reading> & out) {
    if (source_ == Source::polling) {
        out.push_back(read());
        return;
    }
    const NvmlApi & api = lib_->api();
    int value_type = nvml::VALUE_TYPE_UNSIGNED_INT;
    unsigned int count = static_cast<unsigned int>(buffer_.size());
    nvml::Return rc =
        api.device_get_samples(device_, nvml::TOTAL_POWER_SAMPLES, last_seen_us_, &value_type, &count, buffer_.data());
    if (rc == nvml::ERROR_INSUFFICIENT_SIZE) {
        // The driver's buffer grew past ours: ask for its size (samples = NULL) and retry.
        unsigned int needed = 0;
        rc = api.device_get_samples(device_, nvml::TOTAL_POWER_SAMPLES, last_seen_us_, &value_type, &needed, nullptr);
        if (rc == nvml::SUCCESS) {
            buffer_.resize(std::max<size_t>(needed, buffer_.size() * 2));
            count = static_cast<unsigned int>(buffer_.size());
            rc = api.device_get_samples(device_, nvml::TOTAL_POWER_SAMPLES, last_seen_us_, &value_type, &count,
                                        buffer_.data());
        }
    }
    if (rc == nvml::ERROR_NOT_FOUND) return;  // no sample since last_seen_us_
    if (rc != nvml::SUCCESS) {
        throw RuntimeFailure(fmt::format("gpu:{}: nvmlDeviceGetSamples: {}", index_, lib_->error(rc)));
    }
    // Samples carry CPU wall-clock microseconds; move them onto the monotonic time base
    // with the offset between the two clocks now.
    double wall_minus_mono_s = clock_->wall_s() - clock_->now_s();
    size_t first = out.size();
    count = std::min<unsigned int>(count, static_cast<unsigned int>(buffer_.size()));
    for (unsigned int i = 0; i < count; ++i) {
        const nvml::Sample & s = buffer_[i];
        if (s.timeStamp <= last_seen_us_) continue;
        double power_w = nvml::value_as_double(value_type, s.sampleValue) * 1e-3;
        out.push_back({power_w, static_cast<double>(s.timeStamp) * 1e-6 - wall_minus_mono_s});
    }
    for (unsigned int i = 0; i < count; ++i) last_seen_us_ = std::max(last_seen_us_, buffer_[i].timeStamp);
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
              [](const Reading & a, const Reading & b) { return a.t_s < b.t_s; });
}

static std::string get_string(nvml::Return (*fn)(char *, unsigned int)) {
    char buf[256] = {};
    if (!fn || fn(buf, sizeof(buf)) != nvml::SUCCESS) return "";
    return buf;
}

static std::string get_device_string(nvml::Return (*fn)(nvml::Device, char *, unsigned int), nvml::Device dev) {
    char buf[256] = {};
    if (!fn || fn(dev, buf, sizeof(buf)) != nvml::SUCCESS) return "";
    return buf;
}

// Native rate of the driver's power samples, from the spacing of those in its buffer now.
static double sample_rate_hz(const std::vector<nvml::Sample> & samples) {
    if (samples.size() < 3) return 0.0;
    double span_s = static_cast<double>(samples.back().timeStamp - samples.front().timeStamp) * 1e-6;
    return span_s > 0 ? static_cast<double>(samples.size() - 1) / span_s : 0.0;
}

Discovery discover_nvml(const std::shared_ptr<NvmlLibrary> & lib, const char * cuda_visible_devices,
                        std::shared_ptr<Clock> clock) {
    Discovery out;
    const NvmlApi & api = lib->api();
    unsigned int count = 0;
    nvml::Return rc = api.device_get_count(&count);
    if (rc != nvml::SUCCESS) {
        out.unavailable.push_back({"gpu (NVML)", "nvmlDeviceGetCount_v2: " + lib->error(rc)});
        return out;
    }
    if (count == 0) {
        out.unavailable.push_back({"gpu (NVML)", "NVML reports no NVIDIA GPU"});
        return out;
    }

    std::string driver = get_string(api.system_get_driver_version);
    std::string nvml_version = get_string(api.system_get_nvml_version);
    std::string driver_text = fmt::format("NVIDIA driver {} (NVML {})", driver.empty() ? "?" : driver,
                                          nvml_version.empty() ? "?" : nvml_version);

    std::vector<nvml::Device> handles(count, nullptr);
    std::vector<std::string> uuids(count);
    for (unsigned i = 0; i < count; ++i) {
        rc = api.device_get_handle_by_index(i, &handles[i]);
        if (rc != nvml::SUCCESS) {
            handles[i] = nullptr;
            out.unavailable.push_back({fmt::format("gpu:{}", i), "nvmlDeviceGetHandleByIndex_v2: " + lib->error(rc)});
            continue;
        }
        uuids[i] = get_device_string(api.device_get_uuid, handles[i]);
    }

    std::string note;
    std::vector<unsigned> visible = cuda_visible_nvml_indices(cuda_visible_devices, uuids, &note);
    if (!note.empty()) out.unavailable.push_back({"gpu (CUDA_VISIBLE_DEVICES)", note});
    if (visible.empty()) {
        out.unavailable.push_back({"gpu (NVML)", fmt::format("CUDA_VISIBLE_DEVICES='{}' hides all {} GPUs",
                                                             cuda_visible_devices ? cuda_visible_devices : "", count)});
        return out;
    }

    for (unsigned i : visible) {
        nvml::Device dev = handles[i];
        if (!dev) continue;
        std::string what = fmt::format("gpu:{}", i);

        Provenance base;
        base.driver = driver_text;
        base.details.emplace_back("device", get_device_string(api.device_get_name, dev));
        base.details.emplace_back("uuid", uuids[i]);
        unsigned int v = 0;
        if (api.device_get_enforced_power_limit && api.device_get_enforced_power_limit(dev, &v) == nvml::SUCCESS) {
            base.details.emplace_back("power_limit_w", fmt::format("{:.0f}", v * 1e-3));
        }
        nvml::Memory mem{};
        if (api.device_get_memory_info && api.device_get_memory_info(dev, &mem) == nvml::SUCCESS) {
            base.details.emplace_back("memory_gib", fmt::format("{:.1f}", static_cast<double>(mem.total) / (1u << 30)));
        }
        nvml::Utilization util{};
        if (api.device_get_utilization_rates && api.device_get_utilization_rates(dev, &util) == nvml::SUCCESS) {
            base.details.emplace_back("utilization_pct", fmt::format("gpu {} mem {}", util.gpu, util.memory));
        }
        if (api.device_get_clock_info && api.device_get_clock_info(dev, nvml::CLOCK_SM, &v) == nvml::SUCCESS) {
            base.details.emplace_back("sm_clock_mhz", std::to_string(v));
        }
        if (api.device_get_max_clock_info && api.device_get_max_clock_info(dev, nvml::CLOCK_SM, &v) == nvml::SUCCESS) {
            base.details.emplace_back("sm_clock_max_mhz", std::to_string(v));
        }
        if (api.device_get_clock_info && api.device_get_clock_info(dev, nvml::CLOCK_MEM, &v) == nvml::SUCCESS) {
            base.details.emplace_back("mem_clock_mhz", std::to_string(v));
        }
        if (api.device_get_temperature && api.device_get_temperature(dev, nvml::TEMPERATURE_GPU, &v) == nvml::SUCCESS) {
            base.details.emplace_back("temperature_c", std::to_string(v));
        }

        // Energy counter (Volta and newer).
        unsigned long long energy_mj = 0;
        rc = api.device_get_total_energy_consumption ? api.device_get_total_energy_consumption(dev, &energy_mj)
                                                     : nvml::ERROR_FUNCTION_NOT_FOUND;
        if (rc == nvml::SUCCESS) {
            Provenance p = base;
            p.name = "NVML nvmlDeviceGetTotalEnergyConsumption";
            out.sensors.push_back(std::make_shared<NvmlEnergySensor>(lib, dev, i, std::move(p), clock));
        } else {
            out.unavailable.push_back({what + " energy counter",
                                       "nvmlDeviceGetTotalEnergyConsumption: " + lib->error(rc) +
                                           (rc == nvml::ERROR_NOT_SUPPORTED ? " (needs a Volta or newer GPU)" : "")});
        }

        // Power: the driver's sample buffer if it has one, else polling.
        std::vector<nvml::Sample> probe;
        rc = nvml::ERROR_FUNCTION_NOT_FOUND;
        if (api.device_get_samples) {
            int value_type = 0;
            unsigned int n = 0;
            rc = api.device_get_samples(dev, nvml::TOTAL_POWER_SAMPLES, 0, &value_type, &n, nullptr);
            if (rc == nvml::SUCCESS && n > 0) {
                probe.resize(n);
                rc = api.device_get_samples(dev, nvml::TOTAL_POWER_SAMPLES, 0, &value_type, &n, probe.data());
                probe.resize(rc == nvml::SUCCESS ? std::min<size_t>(n, probe.size()) : 0);
            }
        }
        if (rc == nvml::SUCCESS || rc == nvml::ERROR_NOT_FOUND) {
            Provenance p = base;
            p.name = "NVML nvmlDeviceGetSamples(NVML_TOTAL_POWER_SAMPLES)";
            p.update_hz = sample_rate_hz(probe);
            out.sensors.push_back(
                std::make_shared<NvmlPowerSensor>(lib, dev, i, NvmlPowerSensor::Source::samples, std::move(p), clock));
            continue;
        }
        std::string samples_error = lib->error(rc);
        unsigned int power_mw = 0;
        rc = api.device_get_power_usage ? api.device_get_power_usage(dev, &power_mw) : nvml::ERROR_FUNCTION_NOT_FOUND;
        if (rc == nvml::SUCCESS) {
            Provenance p = base;
            p.name = "NVML nvmlDeviceGetPowerUsage (polled)";
            p.details.emplace_back(
                "note", "no sample buffer (" + samples_error + "); polled power is a 1 s average on Ampere and newer");
            out.sensors.push_back(
                std::make_shared<NvmlPowerSensor>(lib, dev, i, NvmlPowerSensor::Source::polling, std::move(p), clock));
        } else {
            out.unavailable.push_back({what + " power", "nvmlDeviceGetSamples: " + samples_error +
                                                            "; nvmlDeviceGetPowerUsage: " + lib->error(rc)});
        }
    }
    return out;
}

Discovery discover_nvml(const std::string & library, const char * cuda_visible_devices, std::shared_ptr<Clock> clock) {
    std::shared_ptr<NvmlLibrary> lib;
    try {
        lib = NvmlLibrary::open(library);
    } catch (const RuntimeFailure & e) {
        Discovery out;
        out.unavailable.push_back({"gpu (NVML)", e.what()});
        return out;
    }
    return discover_nvml(lib, cuda_visible_devices, std::move(clock));
}

}  // namespace jb::energy
