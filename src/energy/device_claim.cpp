#include "energy/device_claim.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace jb::energy {

namespace fs = std::filesystem;

namespace {

std::string now_iso() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

std::string device_key(const Sensor & sensor) {
    const Domain d = sensor.domain();
    if (d.kind == DomainKind::gpu) {
        for (const auto & [k, v] : sensor.provenance().details) {
            if (k == "uuid" && !v.empty()) return "gpu-" + v;
        }
    }
    return d.str();
}

std::string describe_other_meters(const std::vector<OtherMeter> & others) {
    std::string out;
    for (const auto & o : others) {
        out += fmt::format("{}pid {} ({}, since {}) on {}", out.empty() ? "" : "; ", o.pid, o.what, o.since,
                           fmt::join(o.devices, ", "));
    }
    return out;
}

std::string default_claim_dir() {
    if (const char * v = std::getenv("JOULEBENCH_CLAIM_DIR"); v && *v) return v;
    return "/tmp/joulebench-meters";
}

DeviceClaim::DeviceClaim(const SensorList & sensors, const std::string & what, const std::string & dir) : dir_(dir) {
    for (const auto & s : sensors) {
        const std::string key = device_key(*s);
        if (std::find(devices_.begin(), devices_.end(), key) == devices_.end()) devices_.push_back(key);
    }
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) {
        fs::create_directories(dir_, ec);
        // Shared by every user of the host, like /tmp itself.
        if (!ec) ::chmod(dir_.c_str(), 01777);
    }
    path_ = (fs::path(dir_) / fmt::format("{}.json", getpid())).string();
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        error_ = fmt::format("{}: {}", path_, std::strerror(errno));
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        return;
    }
    text_ = nlohmann::json{{"pid", long(getpid())}, {"what", what}, {"since", now_iso()}, {"devices", devices_}}.dump();
    if (::write(fd_, text_.data(), text_.size()) != ssize_t(text_.size())) error_ = path_ + ": short write";
    others();  // leaves a notice with every run already metering these devices
}

DeviceClaim::~DeviceClaim() {
    if (fd_ < 0) return;
    notices();
    ::unlink(path_.c_str());
    ::close(fd_);
}

namespace {

// "<pid>.notice-<from pid>": left by process `from` for process `pid`.
std::string notice_prefix(long pid) { return fmt::format("{}.notice-", pid); }

std::optional<OtherMeter> parse_meter(const std::string & text, const std::vector<std::string> & mine) {
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("devices") || !j["devices"].is_array()) return std::nullopt;  // being written
    OtherMeter o;
    o.pid = j.value("pid", 0L);
    o.what = j.value("what", std::string());
    o.since = j.value("since", std::string());
    for (const auto & d : j["devices"]) {
        if (d.is_string() && std::find(mine.begin(), mine.end(), d.get<std::string>()) != mine.end()) {
            o.devices.push_back(d.get<std::string>());
        }
    }
    if (o.devices.empty()) return std::nullopt;
    return o;
}

std::string read_all(int fd) {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) text.append(buf, size_t(n));
    return text;
}

}  // namespace

std::vector<OtherMeter> DeviceClaim::notices() const {
    std::vector<OtherMeter> out;
    if (fd_ < 0) return out;
    const std::string prefix = notice_prefix(getpid());
    std::error_code ec;
    for (const auto & entry : fs::directory_iterator(dir_, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        const std::string text = read_all(fd);
        ::close(fd);
        ::unlink(entry.path().c_str());
        if (auto o = parse_meter(text, devices_)) out.push_back(std::move(*o));
    }
    return out;
}

std::vector<OtherMeter> DeviceClaim::others() const {
    std::vector<OtherMeter> out;
    if (fd_ < 0) return out;
    std::error_code ec;
    for (const auto & entry : fs::directory_iterator(dir_, ec)) {
        const std::string p = entry.path().string();
        if (p == path_ || entry.path().extension() != ".json") continue;  // also skips notices
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
            // Nobody holds it: its process is gone, with any notices left for it.
            ::unlink(p.c_str());
            ::close(fd);
            const std::string dead = notice_prefix(std::atol(entry.path().stem().c_str()));
            for (const auto & n : fs::directory_iterator(dir_, ec)) {
                if (n.path().filename().string().rfind(dead, 0) == 0) fs::remove(n.path(), ec);
            }
            continue;
        }
        const std::string text = read_all(fd);
        ::close(fd);
        auto o = parse_meter(text, devices_);
        if (!o) continue;
        // Written beside, then renamed: the other process never reads half a notice.
        const fs::path notice = fs::path(dir_) / (notice_prefix(o->pid) + std::to_string(getpid()));
        const std::string tmp = notice.string() + ".tmp";
        if (std::ofstream(tmp) << text_) ::rename(tmp.c_str(), notice.c_str());
        out.push_back(std::move(*o));
    }
    std::sort(out.begin(), out.end(), [](const OtherMeter & a, const OtherMeter & b) { return a.pid < b.pid; });
    return out;
}

std::vector<OtherMeter> MeterOverlapWatch::end() {
    std::vector<OtherMeter> all = at_begin_;
    std::vector<OtherMeter> seen = claim_.others();
    for (auto & o : claim_.notices()) seen.push_back(std::move(o));
    for (auto & o : seen) {
        if (std::none_of(all.begin(), all.end(), [&](const OtherMeter & a) { return a.pid == o.pid; })) {
            all.push_back(std::move(o));
        }
    }
    at_begin_.clear();
    return all;
}

}  // namespace jb::energy
