#pragma once
// Two joulebench runs metering the same devices at once each count the other's load as their own:
// NVML and RAPL measure a device, not a process. A DeviceClaim registers this process as metering
// its sensors' devices in a directory every joulebench on the host shares (one small file per
// process, held with flock(2), so a process that died leaves nothing that counts), and lists the
// other live processes metering any of the same devices, so that a sweep can warn and mark the
// cells that overlapped (as energy/gpu_sharing.hpp does for foreign GPU processes).

#include <string>
#include <vector>

#include "energy/sensor.hpp"

namespace jb::energy {

// A device's identity across processes: a GPU by its UUID where NVML gives one, else "gpu:N";
// "cpu-package:N" and "dram:N" for the CPU domains (the CPU estimate is the whole package).
std::string device_key(const Sensor & sensor);

struct OtherMeter {
    long pid = 0;
    std::string what;   // "sweep results.db"
    std::string since;  // UTC, ISO 8601
    std::vector<std::string> devices;  // the devices it shares with this process
    bool operator==(const OtherMeter &) const = default;
};

// "pid 4242 (sweep a.db, since 2026-12-02T18:00:00Z) on gpu:0"
std::string describe_other_meters(const std::vector<OtherMeter> & others);

// $JOULEBENCH_CLAIM_DIR, else /tmp/joulebench-meters.
std::string default_claim_dir();

class DeviceClaim {
public:
    // Registers now; never throws for a directory it cannot use (then others() is always empty and
    // error() says why).
    DeviceClaim(const SensorList & sensors, const std::string & what, const std::string & dir = default_claim_dir());
    ~DeviceClaim();
    DeviceClaim(const DeviceClaim &) = delete;
    DeviceClaim & operator=(const DeviceClaim &) = delete;

    // The other live processes that meter any of this claim's devices now (stale files of dead
    // processes are removed on the way). Each of them is also left a notice that this process
    // meters the same devices, so that a run that starts and ends inside one of their cells is
    // still seen there (notices()).
    std::vector<OtherMeter> others() const;
    // The processes that found this one since the last call (and the notices' removal).
    std::vector<OtherMeter> notices() const;
    const std::string & error() const { return error_; }

private:
    std::string dir_;
    std::string path_;
    std::string text_;  // this claim's JSON, also what a notice to another process holds
    int fd_ = -1;
    std::vector<std::string> devices_;
    std::string error_;
};

// Snapshots at a cell's start and end, as SharingWatch, plus the notices left in between by runs
// that came and went: end() returns the union.
class MeterOverlapWatch {
public:
    explicit MeterOverlapWatch(const DeviceClaim & claim) : claim_(claim) {}
    void begin() {
        claim_.notices();  // those left before the cell concern earlier cells
        at_begin_ = claim_.others();
    }
    std::vector<OtherMeter> end();

private:
    const DeviceClaim & claim_;
    std::vector<OtherMeter> at_begin_;
};

}  // namespace jb::energy
