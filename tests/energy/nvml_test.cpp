#include "energy/nvml.hpp"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "energy/meter.hpp"
#include "joulebench/error.hpp"

using namespace jb::energy;

TEST(Nvml, absent_library_is_a_clean_report) {
    EXPECT_THROW(NvmlLibrary::open("libnvidia-ml-does-not-exist.so.1"), jb::RuntimeFailure);
    Discovery d = discover_nvml("libnvidia-ml-does-not-exist.so.1", nullptr);
    EXPECT_TRUE(d.sensors.empty());
    ASSERT_EQ(d.unavailable.size(), 1u);
    EXPECT_EQ(d.unavailable[0].what, "gpu (NVML)");
    EXPECT_EQ(
        d.unavailable[0].reason.rfind("libnvidia-ml-does-not-exist.so.1 not found (no NVIDIA driver installed?): ", 0),
        0u)
        << d.unavailable[0].reason;
}

TEST(Nvml, a_library_that_is_not_nvml_is_refused) {
    // libm is on every Linux system and exports no nvml* symbol.
    try {
        NvmlLibrary::open("libm.so.6");
        FAIL() << "no error";
    } catch (const jb::RuntimeFailure & e) {
        EXPECT_STREQ(e.what(), "libm.so.6: does not export nvmlInit_v2 (not an NVML library?)");
    }
}

TEST(Nvml, error_codes_come_from_one_table) {
    EXPECT_EQ(nvml_error_message(4),
              "NVML_ERROR_NO_PERMISSION (4): the current user does not have permission for this operation");
    EXPECT_EQ(nvml_error_message(9), "NVML_ERROR_DRIVER_NOT_LOADED (9): the NVIDIA driver is not loaded");
    EXPECT_EQ(nvml_error_message(999), "NVML_ERROR_UNKNOWN (999): an internal driver error occurred");
    EXPECT_EQ(nvml_error_message(12345), "NVML_ERROR (12345): unknown NVML return code");
    auto driver_text = [](nvml::Return) -> const char * { return "Not Supported"; };
    EXPECT_EQ(nvml_error_message(3, driver_text), "NVML_ERROR_NOT_SUPPORTED (3): Not Supported");
}

TEST(Nvml, cuda_visible_devices_selects_by_index_and_uuid) {
    std::vector<std::string> uuids = {"GPU-aaaa-1111", "GPU-bbbb-2222", "GPU-abcd-3333"};
    std::string note;
    EXPECT_EQ(cuda_visible_nvml_indices(nullptr, uuids), (std::vector<unsigned>{0, 1, 2}));
    EXPECT_EQ(cuda_visible_nvml_indices("2,0", uuids), (std::vector<unsigned>{2, 0}));
    EXPECT_EQ(cuda_visible_nvml_indices(" 1 ", uuids), (std::vector<unsigned>{1}));
    EXPECT_EQ(cuda_visible_nvml_indices("GPU-bbbb-2222", uuids), (std::vector<unsigned>{1}));
    EXPECT_EQ(cuda_visible_nvml_indices("GPU-bbbb", uuids), (std::vector<unsigned>{1}));
    EXPECT_EQ(cuda_visible_nvml_indices("abcd,0", uuids), (std::vector<unsigned>{2, 0}));
    EXPECT_EQ(cuda_visible_nvml_indices("", uuids), (std::vector<unsigned>{}));

    EXPECT_EQ(cuda_visible_nvml_indices("1,7,0", uuids, &note), (std::vector<unsigned>{1}));
    EXPECT_EQ(note,
              "CUDA_VISIBLE_DEVICES entry '7' ignored (there are 3 GPUs); as in CUDA, the entries after it are too");
    EXPECT_EQ(cuda_visible_nvml_indices("a", uuids, &note), (std::vector<unsigned>{}));
    EXPECT_EQ(note,
              "CUDA_VISIBLE_DEVICES entry 'a' ignored (the UUID prefix matches several GPUs); as in CUDA, the "
              "entries after it are too");
    EXPECT_EQ(cuda_visible_nvml_indices("0,0", uuids, &note), (std::vector<unsigned>{0}));
    EXPECT_NE(note.find("repeats an earlier entry"), std::string::npos);
    EXPECT_EQ(cuda_visible_nvml_indices("MIG-1234", uuids, &note), (std::vector<unsigned>{}));
    EXPECT_NE(note.find("MIG instances"), std::string::npos);
}

// A fake NVML: device 0 is an H100 with an energy counter and a power sample buffer;
// device 1 is an old GPU with neither (power only by polling).
namespace fake {

struct Gpu {
    unsigned long long energy_mj = 0;
    unsigned int power_mw = 0;
    std::vector<nvml::Sample> samples;  // the driver's buffer
    bool modern = true;
};
Gpu gpus[2];
int inits = 0, shutdowns = 0;
nvml::Return init_result = nvml::SUCCESS;

nvml::Device handle(unsigned i) {
    return reinterpret_cast<nvml::Device>(&gpus[i]);
}
Gpu & gpu(nvml::Device d) {
    return *reinterpret_cast<Gpu *>(d);
}
nvml::Return copy(const std::string & s, char * out, unsigned int n) {
    if (s.size() + 1 > n) return nvml::ERROR_INSUFFICIENT_SIZE;
    std::memcpy(out, s.c_str(), s.size() + 1);
    return nvml::SUCCESS;
}

NvmlApi api() {
    NvmlApi a;
    a.init = [] {
        ++inits;
        return init_result;
    };
    a.shutdown = [] {
        ++shutdowns;
        return nvml::SUCCESS;
    };
    a.device_get_count = [](unsigned int * n) {
        *n = 2;
        return nvml::SUCCESS;
    };
    a.device_get_handle_by_index = [](unsigned int i, nvml::Device * d) {
        if (i >= 2) return 2;
        *d = handle(i);
        return nvml::SUCCESS;
    };
    a.system_get_driver_version = [](char * out, unsigned int n) { return copy("550.54.15", out, n); };
    a.device_get_name = [](nvml::Device d, char * out, unsigned int n) {
        return copy(gpu(d).modern ? "NVIDIA H100 80GB HBM3" : "Tesla K80", out, n);
    };
    a.device_get_uuid = [](nvml::Device d, char * out, unsigned int n) {
        return copy(&gpu(d) == &gpus[0] ? "GPU-aaaa-1111" : "GPU-bbbb-2222", out, n);
    };
    a.device_get_enforced_power_limit = [](nvml::Device, unsigned int * mw) {
        *mw = 700000;
        return nvml::SUCCESS;
    };
    a.device_get_total_energy_consumption = [](nvml::Device d, unsigned long long * mj) {
        if (!gpu(d).modern) return nvml::ERROR_NOT_SUPPORTED;
        *mj = gpu(d).energy_mj;
        return nvml::SUCCESS;
    };
    a.device_get_power_usage = [](nvml::Device d, unsigned int * mw) {
        *mw = gpu(d).power_mw;
        return nvml::SUCCESS;
    };
    a.device_get_samples = [](nvml::Device d, int type, unsigned long long last_seen, int * value_type,
                              unsigned int * count, nvml::Sample * out) {
        if (!gpu(d).modern || type != nvml::TOTAL_POWER_SAMPLES) return nvml::ERROR_NOT_SUPPORTED;
        std::vector<nvml::Sample> fresh;
        for (const auto & s : gpu(d).samples) {
            if (s.timeStamp > last_seen) fresh.push_back(s);
        }
        *value_type = nvml::VALUE_TYPE_UNSIGNED_INT;
        if (!out) {
            *count = static_cast<unsigned int>(gpu(d).samples.size());
            return nvml::SUCCESS;
        }
        if (fresh.empty()) return nvml::ERROR_NOT_FOUND;
        if (*count < fresh.size()) return nvml::ERROR_INSUFFICIENT_SIZE;
        std::copy(fresh.begin(), fresh.end(), out);
        *count = static_cast<unsigned int>(fresh.size());
        return nvml::SUCCESS;
    };
    return a;
}

// A power sample at monotonic time t_s, stamped the way NVML does: wall-clock microseconds.
void add_sample(Gpu & g, const ManualClock & clock, double t_s, unsigned int mw) {
    nvml::Sample s{};
    s.timeStamp = static_cast<unsigned long long>((t_s + (clock.wall_s() - clock.now_s())) * 1e6 + 0.5);
    s.sampleValue.uiVal = mw;
    g.samples.push_back(s);
}

void reset() {
    gpus[0] = Gpu{};
    gpus[1] = Gpu{};
    gpus[1].modern = false;
    inits = shutdowns = 0;
    init_result = nvml::SUCCESS;
}

}  // namespace fake

TEST(Nvml, failed_init_is_reported_with_its_code) {
    fake::reset();
    fake::init_result = nvml::ERROR_DRIVER_NOT_LOADED;
    try {
        NvmlLibrary::from_api(fake::api(), "fake-nvml");
        FAIL() << "no error";
    } catch (const jb::RuntimeFailure & e) {
        EXPECT_STREQ(
            e.what(),
            "fake-nvml: nvmlInit_v2 failed: NVML_ERROR_DRIVER_NOT_LOADED (9): the NVIDIA driver is not loaded");
    }
    EXPECT_EQ(fake::shutdowns, 0);  // no shutdown for an init that failed
}

TEST(Nvml, discovers_counter_samples_and_polling_fallback) {
    fake::reset();
    auto clock = std::make_shared<ManualClock>(100.0);
    for (int i = 0; i < 5; ++i) fake::add_sample(fake::gpus[0], *clock, 99.90 + 0.02 * i, 300000);  // 50 Hz
    {
        auto lib = NvmlLibrary::from_api(fake::api(), "fake-nvml");
        Discovery d = discover_nvml(lib, nullptr, clock);
        ASSERT_EQ(d.sensors.size(), 3u);
        auto & counter = *d.sensors[0];
        auto & samples = dynamic_cast<NvmlPowerSensor &>(*d.sensors[1]);
        auto & polled = dynamic_cast<NvmlPowerSensor &>(*d.sensors[2]);
        EXPECT_EQ(counter.domain().str(), "gpu:0");
        EXPECT_EQ(counter.kind(), SensorKind::energy_counter);
        EXPECT_EQ(counter.provenance().name, "NVML nvmlDeviceGetTotalEnergyConsumption");
        EXPECT_EQ(counter.provenance().driver, "NVIDIA driver 550.54.15 (NVML ?)");
        EXPECT_EQ(samples.source(), NvmlPowerSensor::Source::samples);
        EXPECT_NEAR(samples.provenance().update_hz, 50.0, 1e-6);
        EXPECT_EQ(polled.domain().str(), "gpu:1");
        EXPECT_EQ(polled.source(), NvmlPowerSensor::Source::polling);

        auto detail = [](const Sensor & s, const std::string & key) {
            for (const auto & [k, v] : s.provenance().details) {
                if (k == key) return v;
            }
            return std::string();
        };
        EXPECT_EQ(detail(counter, "device"), "NVIDIA H100 80GB HBM3");
        EXPECT_EQ(detail(counter, "uuid"), "GPU-aaaa-1111");
        EXPECT_EQ(detail(counter, "power_limit_w"), "700");

        ASSERT_EQ(d.unavailable.size(), 1u);
        EXPECT_EQ(d.unavailable[0].what, "gpu:1 energy counter");
        EXPECT_EQ(d.unavailable[0].reason,
                  "nvmlDeviceGetTotalEnergyConsumption: NVML_ERROR_NOT_SUPPORTED (3): not supported on this device "
                  "(needs a Volta or newer GPU)");

        // Counter: millijoules to joules.
        fake::gpus[0].energy_mj = 123456789;
        EXPECT_DOUBLE_EQ(counter.read().value, 123456.789);
        // Samples: milliwatts to watts, wall-clock microseconds to the monotonic base, each once.
        std::vector<Reading> got;
        samples.poll(got);
        ASSERT_EQ(got.size(), 5u);
        EXPECT_DOUBLE_EQ(got[0].value, 300.0);
        EXPECT_NEAR(got[0].t_s, 99.90, 1e-5);
        EXPECT_NEAR(got[4].t_s, 99.98, 1e-5);
        got.clear();
        samples.poll(got);
        EXPECT_TRUE(got.empty());
        fake::add_sample(fake::gpus[0], *clock, 100.00, 450000);
        samples.poll(got);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_DOUBLE_EQ(got[0].value, 450.0);
        // Polling fallback.
        fake::gpus[1].power_mw = 61500;
        got.clear();
        polled.poll(got);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_DOUBLE_EQ(got[0].value, 61.5);
        EXPECT_DOUBLE_EQ(got[0].t_s, 100.0);
        EXPECT_EQ(fake::shutdowns, 0);  // the sensors keep the library open
    }
    EXPECT_EQ(fake::inits, 1);
    EXPECT_EQ(fake::shutdowns, 1);
}

TEST(Nvml, honours_cuda_visible_devices) {
    fake::reset();
    auto lib = NvmlLibrary::from_api(fake::api(), "fake-nvml");
    Discovery d = discover_nvml(lib, "GPU-bbbb", std::make_shared<ManualClock>());
    ASSERT_EQ(d.sensors.size(), 1u);
    EXPECT_EQ(d.sensors[0]->domain().str(), "gpu:1");

    d = discover_nvml(lib, "", std::make_shared<ManualClock>());
    EXPECT_TRUE(d.sensors.empty());
    ASSERT_EQ(d.unavailable.size(), 1u);
    EXPECT_EQ(d.unavailable[0].reason, "CUDA_VISIBLE_DEVICES='' hides all 2 GPUs");
}

TEST(Nvml, meter_reports_counter_and_sample_energy_for_a_gpu) {
    fake::reset();
    auto clock = std::make_shared<ManualClock>(10.0);
    auto lib = NvmlLibrary::from_api(fake::api(), "fake-nvml");
    Discovery d = discover_nvml(lib, "0", clock);
    ASSERT_EQ(d.sensors.size(), 2u);
    MeterParams p;
    p.thread = false;
    p.interval_s = 0.1;
    Meter m(d.sensors, p, clock);
    fake::gpus[0].energy_mj = 5000000;  // 5 kJ since driver load
    m.start();
    // 2 s at 400 W: the counter gains 800 J; the driver records a 400 W sample every 20 ms.
    for (int k = 1; k <= 20; ++k) {
        for (int j = 0; j < 5; ++j) fake::add_sample(fake::gpus[0], *clock, 10.0 + 0.1 * (k - 1) + 0.02 * j, 400000);
        clock->set(10.0 + 0.1 * k);
        fake::gpus[0].energy_mj = 5000000 + 40000ull * k;
        m.tick();
    }
    Measurement r = m.stop();
    ASSERT_EQ(r.domains.size(), 1u);
    const DomainEnergy & e = r.domains[0];
    EXPECT_EQ(e.method, Method::counter);
    EXPECT_NEAR(*e.counter_j, 800.0, 1e-6);
    EXPECT_NEAR(*e.samples_j, 800.0, 1e-3);
    EXPECT_NEAR(e.gross_j, 800.0, 1e-6);
    EXPECT_NEAR(e.peak_w, 400.0, 1e-9);
    EXPECT_NEAR(e.counter_update_hz, 10.0, 1e-9);
}
