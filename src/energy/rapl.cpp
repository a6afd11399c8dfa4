#include "energy/rapl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace fs = std::filesystem;

namespace jb::energy {

int open_readonly(const std::string & path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

double parse_microjoules(const std::string & text, const std::string & path) {
    size_t end = text.find_last_not_of(" \t\r\n");
    std::string_view digits(text.data(), end == std::string::npos ? 0 : end + 1);
    uint64_t uj = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), uj);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
        throw InputError(path, fmt::format("not a microjoule count: '{}'", digits));
    }
    return static_cast<double>(uj) * 1e-6;
}

static std::string permission_hint(const std::string & path) {
    return fmt::format(
        "{}: not readable (permission denied; energy_uj is root-only since Linux 5.10): run as root, or grant read "
        "access with `sudo chmod o+r /sys/class/powercap/intel-rapl*/energy_uj` (see docs/energy.md)",
        path);
}

RaplSensor::RaplSensor(RaplZone zone, int fd, std::shared_ptr<Clock> clock)
    : zone_(std::move(zone)), fd_(fd), clock_(std::move(clock)) {
    provenance_.name = fmt::format("RAPL {} ({})", fs::path(zone_.dir).filename().string(), zone_.name);
    provenance_.driver = "Linux powercap intel-rapl";
    // The RAPL MSRs update about every millisecond (Intel SDM vol. 3B, 15.10).
    provenance_.update_hz = 1000.0;
    provenance_.details.emplace_back("path", zone_.dir + "/energy_uj");
    provenance_.details.emplace_back("max_energy_range_j",
                                     zone_.max_range_j > 0 ? fmt::format("{:.1f}", zone_.max_range_j) : "unknown");
}

RaplSensor::~RaplSensor() {
    if (fd_ >= 0) ::close(fd_);
}

Reading RaplSensor::read() {
    // pread on a descriptor kept open: a sysfs attribute is regenerated on each read from
    // offset 0, and this keeps the 100 Hz poll to one system call.
    char buf[64];
    ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
    double t = clock_->now_s();
    std::string path = zone_.dir + "/energy_uj";
    if (n < 0) {
        int err = errno;
        if (err == EACCES || err == EPERM) throw RuntimeFailure(permission_hint(path));
        throw RuntimeFailure(fmt::format("{}: read failed: {}", path, std::strerror(err)));
    }
    try {
        return {parse_microjoules(std::string(buf, static_cast<size_t>(n)), path), t};
    } catch (const InputError & e) {
        throw RuntimeFailure(e.what());
    }
}

static bool read_text(const std::string & path, std::string & out) {
    std::ifstream in(path);
    if (!in) return false;
    std::getline(in, out);
    return !in.bad();
}

// "package-3" -> 3; -1 if not a package name.
static int package_index(const std::string & name) {
    static const std::string prefix = "package-";
    if (name.rfind(prefix, 0) != 0) return -1;
    int idx = -1;
    auto [ptr, ec] = std::from_chars(name.data() + prefix.size(), name.data() + name.size(), idx);
    return ec == std::errc() && ptr == name.data() + name.size() ? idx : -1;
}

Discovery discover_rapl(const std::string & root, std::shared_ptr<Clock> clock, const OpenFn & open_file) {
    Discovery out;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
        out.unavailable.push_back(
            {"cpu-package (RAPL)",
             fmt::format(
                 "no RAPL on this machine: {} does not exist (no powercap driver; common in VMs and containers)",
                 root)});
        return out;
    }

    // Zones are flat entries: intel-rapl:<pkg> and intel-rapl:<pkg>:<sub>; on some client
    // CPUs intel-rapl-mmio:<pkg> duplicates the package counter through MMIO.
    static const std::regex zone_re(R"(^(intel-rapl|intel-rapl-mmio):(\d+)(?::(\d+))?$)");
    struct Entry {
        std::string file;
        bool mmio;
        bool sub;
    };
    std::vector<Entry> entries;
    for (const auto & de : fs::directory_iterator(root, ec)) {
        std::string file = de.path().filename().string();
        std::smatch m;
        if (std::regex_match(file, m, zone_re)) entries.push_back({file, m[1] == "intel-rapl-mmio", m[3].matched});
    }
    // MSR zones before MMIO ones, so that an MMIO duplicate of a package is the one skipped.
    std::sort(entries.begin(), entries.end(),
              [](const Entry & a, const Entry & b) { return a.mmio != b.mmio ? !a.mmio : a.file < b.file; });
    if (entries.empty()) {
        out.unavailable.push_back(
            {"cpu-package (RAPL)", fmt::format("no RAPL on this machine: no intel-rapl* zones under {}", root)});
        return out;
    }

    std::vector<Domain> found;
    bool dram_zone_seen = false;
    bool package_zone_seen = false;
    for (const Entry & e : entries) {
        RaplZone zone;
        zone.dir = root + "/" + e.file;
        if (!read_text(zone.dir + "/name", zone.name)) continue;
        if (!e.sub) {
            int pkg = package_index(zone.name);
            if (pkg < 0) continue;  // psys (whole platform) overlaps the packages
            zone.domain = {DomainKind::cpu_package, pkg};
            package_zone_seen = true;
        } else {
            if (zone.name != "dram") continue;  // core and uncore are parts of their package
            dram_zone_seen = true;
            std::string parent = e.file.substr(0, e.file.rfind(':'));
            std::string parent_name;
            int pkg = read_text(root + "/" + parent + "/name", parent_name) ? package_index(parent_name) : -1;
            if (pkg < 0) pkg = std::stoi(parent.substr(parent.rfind(':') + 1));
            zone.domain = {DomainKind::dram, pkg};
        }
        if (std::find(found.begin(), found.end(), zone.domain) != found.end()) continue;

        std::string range_text;
        if (read_text(zone.dir + "/max_energy_range_uj", range_text)) {
            try {
                zone.max_range_j = parse_microjoules(range_text, zone.dir + "/max_energy_range_uj");
            } catch (const InputError &) {
                zone.max_range_j = 0.0;
            }
        }

        std::string path = zone.dir + "/energy_uj";
        std::string what = zone.domain.str() + " (RAPL)";
        int fd = open_file(path);
        if (fd < 0) {
            int err = -fd;
            std::string reason = err == EACCES || err == EPERM
                                     ? permission_hint(path)
                                     : fmt::format("{}: cannot open: {}", path, std::strerror(err));
            out.unavailable.push_back({what, reason});
            continue;
        }
        auto sensor = std::make_shared<RaplSensor>(zone, fd, clock);
        try {
            sensor->read();
        } catch (const RuntimeFailure & ex) {
            out.unavailable.push_back({what, ex.what()});
            continue;
        }
        found.push_back(zone.domain);
        out.sensors.push_back(std::move(sensor));
    }
    if (!package_zone_seen) {
        out.unavailable.push_back(
            {"cpu-package (RAPL)", fmt::format("no RAPL package zone under {} (only platform or sub-zones)", root)});
    }
    if (package_zone_seen && !dram_zone_seen) {
        out.unavailable.push_back(
            {"dram (RAPL)", "no RAPL dram zone (AMD CPUs and most desktop Intel CPUs expose none)"});
    }
    return out;
}

}  // namespace jb::energy
