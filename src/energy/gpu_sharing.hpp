#pragma once
// Whether the devices being metered were shared with other processes. NVML's energy counter and
// power samples are per GPU, not per process: another program's kernels on the same GPU land in
// our cell's joules and nothing in the numbers shows it. So a sweep lists the processes on its
// metered devices when a cell starts and when it ends (Sensor::device_pids, NVML's compute
// processes) and marks a cell during which any process other than its own was seen.
//
// Limits: two snapshots, not a continuous watch (a job that starts and ends inside a cell goes
// unseen); NVML reports host PIDs, so inside a container without the host's PID namespace the
// sweep's own process may look foreign (docs/cluster.md).

#include <string>
#include <vector>

#include "energy/sensor.hpp"

namespace jb::energy {

struct SharedDevice {
    Domain domain;
    std::vector<unsigned> pids;  // other processes seen on it, sorted
    bool operator==(const SharedDevice &) const = default;
};

// The processes other than ours (this process, a server it started) on each device the sensors
// can list processes for (one entry per domain that has any; sensors of the same domain are asked
// once).
std::vector<SharedDevice> other_device_processes(const SensorList & sensors, const std::vector<unsigned> & ours);

// Snapshots at a cell's start and end; end() returns their union.
class SharingWatch {
public:
    SharingWatch(SensorList sensors, std::vector<unsigned> ours);
    void begin();
    std::vector<SharedDevice> end();

private:
    SensorList sensors_;
    std::vector<unsigned> ours_;
    std::vector<SharedDevice> at_begin_;
};

// "gpu:0 (pids 4242, 4300); gpu:1 (pid 77)"
std::string describe_shared(const std::vector<SharedDevice> & shared);

}  // namespace jb::energy
