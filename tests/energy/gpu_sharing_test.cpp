// A cell is marked when another process used a metered GPU: the pid lists from the sensors
// (a fake sensor here; NVML's process query through a fake NVML table below), our own pid left
// out, the start and end snapshots joined.

#include "energy/gpu_sharing.hpp"

#include <gtest/gtest.h>

#include "energy/nvml.hpp"
#include "joulebench/error.hpp"

using namespace jb::energy;

namespace {

// A sensor whose device reports the given processes (nullopt: cannot tell), changeable between
// snapshots, as processes come and go.
class FakeSensor : public Sensor {
public:
    FakeSensor(Domain d, std::optional<std::vector<unsigned>> pids) : domain_(d), pids_(std::move(pids)) {}
    Domain domain() const override { return domain_; }
    SensorKind kind() const override { return SensorKind::power; }
    const Provenance & provenance() const override { return provenance_; }
    Reading read() override { return {0.0, 0.0}; }
    std::optional<std::vector<unsigned>> device_pids() override {
        ++asked;
        if (throws) throw jb::RuntimeFailure("gone");
        return pids_;
    }
    void set(std::optional<std::vector<unsigned>> pids) { pids_ = std::move(pids); }
    int asked = 0;
    bool throws = false;

private:
    Domain domain_;
    std::optional<std::vector<unsigned>> pids_;
    Provenance provenance_;
};

const Domain gpu0{DomainKind::gpu, 0}, gpu1{DomainKind::gpu, 1}, cpu{DomainKind::cpu_package, 0};

}  // namespace

TEST(GpuSharing, only_other_processes_count_and_each_device_is_asked_once) {
    auto counter0 = std::make_shared<FakeSensor>(gpu0, std::vector<unsigned>{100, 4242, 100});
    auto power0 = std::make_shared<FakeSensor>(gpu0, std::vector<unsigned>{100, 4242});
    auto g1 = std::make_shared<FakeSensor>(gpu1, std::vector<unsigned>{100});
    auto rapl = std::make_shared<FakeSensor>(cpu, std::nullopt);
    const auto shared = other_device_processes({counter0, power0, g1, rapl}, {100});
    ASSERT_EQ(shared.size(), 1u);
    EXPECT_EQ(shared[0], (SharedDevice{gpu0, {4242}}));
    EXPECT_EQ(power0->asked, 0) << "gpu:0 was answered by its first sensor";
    EXPECT_EQ(describe_shared(shared), "gpu:0 (pid 4242)");

    // Alone on every GPU: nothing to mark.
    counter0->set(std::vector<unsigned>{100});
    EXPECT_TRUE(other_device_processes({counter0, g1, rapl}, {100}).empty());
    // A server we started is ours too (serve: the server and joulebench itself).
    counter0->set(std::vector<unsigned>{100, 300, 4242});
    EXPECT_EQ(other_device_processes({counter0, g1, rapl}, {300, 100}), (std::vector<SharedDevice>{{gpu0, {4242}}}));
}

TEST(GpuSharing, a_failing_sensor_defers_to_another_of_its_domain) {
    auto bad = std::make_shared<FakeSensor>(gpu0, std::vector<unsigned>{1});
    bad->throws = true;
    auto good = std::make_shared<FakeSensor>(gpu0, std::vector<unsigned>{7, 9});
    EXPECT_EQ(other_device_processes({bad, good}, {9}), (std::vector<SharedDevice>{{gpu0, {7}}}));
}

TEST(GpuSharing, watch_joins_what_was_seen_at_the_start_and_the_end) {
    auto g0 = std::make_shared<FakeSensor>(gpu0, std::vector<unsigned>{100, 5000});
    auto g1 = std::make_shared<FakeSensor>(gpu1, std::vector<unsigned>{});
    SharingWatch watch({g0, g1}, {100});
    watch.begin();
    g0->set(std::vector<unsigned>{100});         // 5000 left during the cell
    g1->set(std::vector<unsigned>{6000, 6001});  // two started
    const auto seen = watch.end();
    EXPECT_EQ(seen, (std::vector<SharedDevice>{{gpu0, {5000}}, {gpu1, {6000, 6001}}}));
    EXPECT_EQ(describe_shared(seen), "gpu:0 (pid 5000); gpu:1 (pids 6000, 6001)");

    // The next cell starts afresh.
    g1->set(std::vector<unsigned>{100});
    watch.begin();
    EXPECT_TRUE(watch.end().empty());
}

// NVML's process query through a fake function table: the buffer grows when NVML says
// INSUFFICIENT_SIZE, a failure is "cannot tell", never an empty list.
namespace fake_nvml {
unsigned n_procs = 0;
nvml::Return fail = nvml::SUCCESS;
int calls = 0;
nvml::Return init() {
    return nvml::SUCCESS;
}
nvml::Return shutdown() {
    return nvml::SUCCESS;
}
nvml::Return count(unsigned * c) {
    *c = 1;
    return nvml::SUCCESS;
}
nvml::Return handle(unsigned, nvml::Device * d) {
    *d = nullptr;
    return nvml::SUCCESS;
}
nvml::Return procs(nvml::Device, unsigned * count, nvml::ProcessInfo * infos) {
    ++calls;
    if (fail != nvml::SUCCESS) return fail;
    if (*count < n_procs) {
        *count = n_procs;
        return nvml::ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned i = 0; i < n_procs; ++i) infos[i] = {1000 + (n_procs - i), 1u << 20, 0xFFFFFFFFu, 0xFFFFFFFFu};
    *count = n_procs;
    return nvml::SUCCESS;
}
}  // namespace fake_nvml

TEST(GpuSharing, nvml_lists_compute_processes_growing_its_buffer) {
    NvmlApi api;
    api.init = fake_nvml::init;
    api.shutdown = fake_nvml::shutdown;
    api.device_get_count = fake_nvml::count;
    api.device_get_handle_by_index = fake_nvml::handle;
    auto lib = NvmlLibrary::from_api(api);
    std::string error;
    EXPECT_EQ(nvml_compute_pids(*lib, nullptr, &error), std::nullopt);
    EXPECT_NE(error.find("not exported"), std::string::npos) << error;

    api.device_get_compute_running_processes = fake_nvml::procs;
    lib = NvmlLibrary::from_api(api);
    fake_nvml::n_procs = 40;  // more than the first buffer holds
    fake_nvml::calls = 0;
    const auto pids = nvml_compute_pids(*lib, nullptr);
    ASSERT_TRUE(pids.has_value());
    ASSERT_EQ(pids->size(), 40u);
    EXPECT_EQ(pids->front(), 1001u);
    EXPECT_EQ(pids->back(), 1040u);
    EXPECT_EQ(fake_nvml::calls, 2);

    fake_nvml::n_procs = 0;
    EXPECT_EQ(nvml_compute_pids(*lib, nullptr), std::vector<unsigned>{});
    fake_nvml::fail = nvml::ERROR_NO_PERMISSION;
    EXPECT_EQ(nvml_compute_pids(*lib, nullptr, &error), std::nullopt);
    EXPECT_NE(error.find("NVML_ERROR_NO_PERMISSION"), std::string::npos) << error;
    fake_nvml::fail = nvml::SUCCESS;
}
