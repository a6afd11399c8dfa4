#pragma once
// RAPL energy counters through Linux powercap (/sys/class/powercap/intel-rapl*): one
// counter per CPU package and per DRAM domain. Intel and AMD (Zen, same powercap tree)
// both appear here. energy_uj wraps at max_energy_range_uj, and is root-only on kernels
// since 5.10 (CVE-2020-8694); both are handled and reported.

#include <functional>
#include <memory>
#include <string>

#include "energy/clock.hpp"
#include "energy/sensor.hpp"

namespace jb::energy {

// Opens a file read-only: a file descriptor >= 0, or -errno. Injectable so that tests can
// simulate an unreadable file (chmod 000 does not stop root).
using OpenFn = std::function<int(const std::string & path)>;
int open_readonly(const std::string & path);

// Parses the text of energy_uj / max_energy_range_uj (a decimal integer of microjoules,
// trailing newline allowed). Throws jb::InputError naming the file.
double parse_microjoules(const std::string & text, const std::string & path);

struct RaplZone {
    std::string dir;         // ".../intel-rapl:0" or ".../intel-rapl:0:2"
    std::string name;        // contents of `name`: "package-0", "dram", ...
    Domain domain;           // cpu-package:N or dram:N
    double max_range_j = 0;  // max_energy_range_uj / 1e6; 0 if unknown
};

class RaplSensor : public Sensor {
public:
    // Takes ownership of fd, an open descriptor of zone.dir + "/energy_uj".
    RaplSensor(RaplZone zone, int fd, std::shared_ptr<Clock> clock = steady_clock());
    ~RaplSensor() override;
    RaplSensor(const RaplSensor &) = delete;
    RaplSensor & operator=(const RaplSensor &) = delete;

    Domain domain() const override { return zone_.domain; }
    SensorKind kind() const override { return SensorKind::energy_counter; }
    const Provenance & provenance() const override { return provenance_; }
    // Joules as the counter shows them (wrapping at wrap_j()); throws jb::RuntimeFailure.
    Reading read() override;
    double wrap_j() const override { return zone_.max_range_j; }

private:
    RaplZone zone_;
    int fd_;
    std::shared_ptr<Clock> clock_;
    Provenance provenance_;
};

// Finds package and DRAM zones under root (normally /sys/class/powercap). Zones that exist
// but cannot be read become Unavailable entries that say how to grant access.
Discovery discover_rapl(const std::string & root = "/sys/class/powercap", std::shared_ptr<Clock> clock = steady_clock(),
                        const OpenFn & open_file = open_readonly);

}  // namespace jb::energy
