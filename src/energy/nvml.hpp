#pragma once
// NVIDIA GPUs through NVML, opened at run time with dlopen("libnvidia-ml.so.1"): no
// build-time dependency, and a binary that runs (and says why there is no GPU) without a
// driver. Per device: the energy counter nvmlDeviceGetTotalEnergyConsumption (preferred),
// power samples from the driver's buffer (nvmlDeviceGetSamples, about 50 Hz on an H100),
// or nvmlDeviceGetPowerUsage polling as the fallback; the processes on each GPU
// (nvmlDeviceGetComputeRunningProcesses) for telling a shared GPU. Read-only: no NVML setter is called.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "energy/clock.hpp"
#include "energy/sensor.hpp"

namespace jb::energy {

// The part of nvml.h that joulebench uses (values from NVML API version 12). C enums are
// passed as int, which is their ABI on every platform NVML supports.
namespace nvml {
using Return = int;  // nvmlReturn_t
struct DeviceSt;
using Device = DeviceSt *;  // nvmlDevice_t

inline constexpr Return SUCCESS = 0;
inline constexpr Return ERROR_NOT_SUPPORTED = 3;
inline constexpr Return ERROR_NO_PERMISSION = 4;
inline constexpr Return ERROR_NOT_FOUND = 6;
inline constexpr Return ERROR_INSUFFICIENT_SIZE = 7;
inline constexpr Return ERROR_DRIVER_NOT_LOADED = 9;
inline constexpr Return ERROR_FUNCTION_NOT_FOUND = 13;
inline constexpr Return ERROR_UNKNOWN = 999;

inline constexpr int TOTAL_POWER_SAMPLES = 0;  // nvmlSamplingType_t
inline constexpr int CLOCK_SM = 1;             // nvmlClockType_t
inline constexpr int CLOCK_MEM = 2;
inline constexpr int TEMPERATURE_GPU = 0;  // nvmlTemperatureSensors_t

// nvmlValueType_t
inline constexpr int VALUE_TYPE_DOUBLE = 0;
inline constexpr int VALUE_TYPE_UNSIGNED_INT = 1;
inline constexpr int VALUE_TYPE_UNSIGNED_LONG = 2;
inline constexpr int VALUE_TYPE_UNSIGNED_LONG_LONG = 3;
inline constexpr int VALUE_TYPE_SIGNED_LONG_LONG = 4;
inline constexpr int VALUE_TYPE_SIGNED_INT = 5;
inline constexpr int VALUE_TYPE_UNSIGNED_SHORT = 6;

union Value {  // nvmlValue_t
    double dVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    signed long long sllVal;
    int siVal;
    unsigned short usVal;
};

struct Sample {                    // nvmlSample_t
    unsigned long long timeStamp;  // CPU wall-clock time, microseconds
    Value sampleValue;
};

struct Memory {  // nvmlMemory_t (v1)
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
};

struct Utilization {  // nvmlUtilization_t
    unsigned int gpu;
    unsigned int memory;
};

struct ProcessInfo {  // nvmlProcessInfo_t (= nvmlProcessInfo_v2_t, for the _v2 and _v3 process queries)
    unsigned int pid;
    unsigned long long usedGpuMemory;  // bytes; NVML_VALUE_NOT_AVAILABLE on some platforms
    unsigned int gpuInstanceId;        // MIG; 0xFFFFFFFF otherwise
    unsigned int computeInstanceId;
};

double value_as_double(int value_type, const Value & value);
}  // namespace nvml

// The NVML entry points used, as a table of function pointers: filled by dlsym, or by a
// test with fakes. Only the first four are required; a missing one is reported, not fatal.
struct NvmlApi {
    nvml::Return (*init)() = nullptr;                                                              // nvmlInit_v2
    nvml::Return (*shutdown)() = nullptr;                                                          // nvmlShutdown
    nvml::Return (*device_get_count)(unsigned int * count) = nullptr;                              // _v2
    nvml::Return (*device_get_handle_by_index)(unsigned int index, nvml::Device * dev) = nullptr;  // _v2

    const char * (*error_string)(nvml::Return code) = nullptr;
    nvml::Return (*system_get_driver_version)(char * out, unsigned int length) = nullptr;
    nvml::Return (*system_get_nvml_version)(char * out, unsigned int length) = nullptr;
    nvml::Return (*device_get_name)(nvml::Device dev, char * out, unsigned int length) = nullptr;
    nvml::Return (*device_get_uuid)(nvml::Device dev, char * out, unsigned int length) = nullptr;
    nvml::Return (*device_get_total_energy_consumption)(nvml::Device dev, unsigned long long * energy_mj) = nullptr;
    nvml::Return (*device_get_power_usage)(nvml::Device dev, unsigned int * power_mw) = nullptr;
    nvml::Return (*device_get_samples)(nvml::Device dev, int sampling_type, unsigned long long last_seen_us,
                                       int * value_type, unsigned int * count, nvml::Sample * samples) = nullptr;
    nvml::Return (*device_get_enforced_power_limit)(nvml::Device dev, unsigned int * limit_mw) = nullptr;
    nvml::Return (*device_get_memory_info)(nvml::Device dev, nvml::Memory * memory) = nullptr;
    nvml::Return (*device_get_utilization_rates)(nvml::Device dev, nvml::Utilization * utilization) = nullptr;
    nvml::Return (*device_get_clock_info)(nvml::Device dev, int clock_type, unsigned int * mhz) = nullptr;
    nvml::Return (*device_get_max_clock_info)(nvml::Device dev, int clock_type, unsigned int * mhz) = nullptr;
    nvml::Return (*device_get_temperature)(nvml::Device dev, int sensor, unsigned int * celsius) = nullptr;
    // nvmlDeviceGetComputeRunningProcesses_v3 (or _v2, same struct): who else uses the GPU.
    nvml::Return (*device_get_compute_running_processes)(nvml::Device dev, unsigned int * count,
                                                         nvml::ProcessInfo * infos) = nullptr;
};

// "NVML_ERROR_NO_PERMISSION (4): <text>": the one table of NVML return codes. The text is
// nvmlErrorString's when given, else the table's own.
std::string nvml_error_message(nvml::Return code, const char * (*error_string)(nvml::Return) = nullptr);

// An initialised NVML: dlopen handle + nvmlInit_v2, undone (nvmlShutdown, dlclose) by the
// destructor. Sensors share it.
class NvmlLibrary {
public:
    // Throws jb::RuntimeFailure: "libnvidia-ml.so.1 not found (no NVIDIA driver?): <dlerror>",
    // a required symbol missing, or nvmlInit_v2's error.
    static std::shared_ptr<NvmlLibrary> open(const std::string & library = "libnvidia-ml.so.1");
    // A given table of functions (tests); calls api.init. Throws like open().
    static std::shared_ptr<NvmlLibrary> from_api(const NvmlApi & api, std::string name = "NVML (given functions)");
    ~NvmlLibrary();
    NvmlLibrary(const NvmlLibrary &) = delete;
    NvmlLibrary & operator=(const NvmlLibrary &) = delete;

    const NvmlApi & api() const { return api_; }
    const std::string & name() const { return name_; }
    std::string error(nvml::Return code) const { return nvml_error_message(code, api_.error_string); }

private:
    struct DlClose {
        void operator()(void * handle) const;
    };
    NvmlLibrary(std::unique_ptr<void, DlClose> handle, const NvmlApi & api, std::string name);
    // Checks the required entry points and calls init.
    static std::shared_ptr<NvmlLibrary> make(std::unique_ptr<void, DlClose> handle, const NvmlApi & api,
                                             std::string name);

    std::unique_ptr<void, DlClose> handle_;
    NvmlApi api_;
    std::string name_;
};

// NVML indices of the devices CUDA may use, in CUDA's order. cuda_visible_devices is the
// variable's value (nullptr: unset, all devices). Entries are indices, GPU-UUIDs or unique
// UUID prefixes, as CUDA accepts; as in CUDA, an entry that matches no device (or repeats
// one) ends the list, and *note says so. MIG entries are not metered per instance: they end
// the list too. CUDA numbers devices fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID,
// NVML by PCI bus: joulebench's main() sets PCI_BUS_ID when the variable is unset.
std::vector<unsigned> cuda_visible_nvml_indices(const char * cuda_visible_devices,
                                                const std::vector<std::string> & uuids, std::string * note = nullptr);

// The ids of the processes with a compute context on `device` now (NVML reports them in the host's
// PID namespace), or nullopt when NVML cannot tell (*error says why: function missing, no
// permission, ...). Retries with a larger buffer while processes come and go.
std::optional<std::vector<unsigned>> nvml_compute_pids(const NvmlLibrary & lib, nvml::Device device,
                                                       std::string * error = nullptr);

// gpu:N's cumulative energy, nvmlDeviceGetTotalEnergyConsumption (mJ since driver load).
class NvmlEnergySensor : public Sensor {
public:
    NvmlEnergySensor(std::shared_ptr<NvmlLibrary> lib, nvml::Device device, unsigned index, Provenance provenance,
                     std::shared_ptr<Clock> clock = steady_clock());

    Domain domain() const override { return {DomainKind::gpu, static_cast<int>(index_)}; }
    SensorKind kind() const override { return SensorKind::energy_counter; }
    const Provenance & provenance() const override { return provenance_; }
    Reading read() override;
    // The H100's counter changes about every 100 ms (measured: 9.8 Hz) and each NVML call
    // costs ~1 ms of CPU; reading it at 20 Hz still sees every update within 50 ms.
    double min_poll_interval_s() const override { return 0.05; }
    std::optional<std::vector<unsigned>> device_pids() override { return nvml_compute_pids(*lib_, device_); }

private:
    std::shared_ptr<NvmlLibrary> lib_;
    nvml::Device device_;
    unsigned index_;
    Provenance provenance_;
    std::shared_ptr<Clock> clock_;
};

// gpu:N's power: the driver's own sample buffer (every sample it recorded since the last
// poll, stamped with its own time), or nvmlDeviceGetPowerUsage once per poll.
class NvmlPowerSensor : public Sensor {
public:
    enum class Source { samples, polling };

    NvmlPowerSensor(std::shared_ptr<NvmlLibrary> lib, nvml::Device device, unsigned index, Source source,
                    Provenance provenance, std::shared_ptr<Clock> clock = steady_clock());

    Domain domain() const override { return {DomainKind::gpu, static_cast<int>(index_)}; }
    SensorKind kind() const override { return SensorKind::power; }
    const Provenance & provenance() const override { return provenance_; }
    Source source() const { return source_; }
    // nvmlDeviceGetPowerUsage now (on Ampere and newer, a one-second average).
    Reading read() override;
    void poll(std::vector<Reading> & out) override;
    // The driver buffers its ~50 Hz samples with their own time stamps, so fetching the
    // buffer 5 times a second loses nothing; polling has no buffer and keeps the Meter's rate.
    double min_poll_interval_s() const override { return source_ == Source::samples ? 0.2 : 0.0; }
    std::optional<std::vector<unsigned>> device_pids() override { return nvml_compute_pids(*lib_, device_); }

private:
    std::shared_ptr<NvmlLibrary> lib_;
    nvml::Device device_;
    unsigned index_;
    Source source_;
    Provenance provenance_;
    std::shared_ptr<Clock> clock_;
    std::vector<nvml::Sample> buffer_;
    unsigned long long last_seen_us_ = 0;
};

// One energy counter and one power sensor per visible GPU, with the device's metadata
// (name, UUID, driver, power limit, memory, utilisation, clocks, temperature) in their
// provenance; whatever is missing becomes an Unavailable entry.
Discovery discover_nvml(const std::shared_ptr<NvmlLibrary> & lib, const char * cuda_visible_devices,
                        std::shared_ptr<Clock> clock = steady_clock());
// Opens the library first; a library that cannot be opened is one Unavailable entry.
Discovery discover_nvml(const std::string & library, const char * cuda_visible_devices,
                        std::shared_ptr<Clock> clock = steady_clock());

}  // namespace jb::energy
