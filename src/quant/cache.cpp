#include "quant/cache.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "quant/hash.hpp"
#include "joulebench/error.hpp"

namespace fs = std::filesystem;

namespace jb {

std::string default_cache_dir() {
    if (const char * xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
        return (fs::path(xdg) / "joulebench" / "quant").string();
    }
    if (const char * home = std::getenv("HOME"); home && *home) {
        return (fs::path(home) / ".cache" / "joulebench" / "quant").string();
    }
    return (fs::path(".joulebench-cache") / "quant").string();
}

CacheLock::CacheLock(CacheLock && other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
}

CacheLock & CacheLock::operator=(CacheLock && other) noexcept {
    if (this != &other) {
        release();
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

CacheLock::~CacheLock() {
    release();
}

void CacheLock::release() {
    if (fd_ >= 0) {
        ::flock(fd_, LOCK_UN);
        ::close(fd_);
        fd_ = -1;
    }
}

QuantCache::QuantCache(std::string dir) : dir_(std::move(dir)) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec || !fs::is_directory(dir_)) {
        throw InputError(dir_, fmt::format("cannot create cache directory: {}", ec ? ec.message() : "not a directory"));
    }
}

std::string QuantCache::sources_dir() const {
    return (fs::path(dir_) / "sources").string();
}

CacheEntry QuantCache::entry(const std::string & label, const std::string & key) const {
    std::string safe;
    for (char c : label) {
        safe += (std::isalnum((unsigned char) c) || c == '-' || c == '_' || c == '.' || c == '+') ? c : '_';
    }
    if (safe.size() > 80) {
        safe.resize(80);
    }
    const std::string base = (fs::path(dir_) / (safe + "." + hex64(xxh64(key)))).string();
    CacheEntry e;
    e.key = key;
    e.path = base + ".gguf";
    e.part_path = e.path + ".part";
    e.meta_path = e.path + ".json";
    e.lock_path = base + ".lock";
    return e;
}

bool QuantCache::contains(const CacheEntry & e) const {
    std::error_code ec;
    return fs::is_regular_file(e.path, ec);
}

static int open_lock_file(const std::string & path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw InputError(path, fmt::format("cannot open lock file: {}", std::strerror(errno)));
    }
    return fd;
}

CacheLock QuantCache::lock(const CacheEntry & e, bool * waited) const {
    CacheLock l;
    l.fd_ = open_lock_file(e.lock_path);
    bool did_wait = false;
    if (::flock(l.fd_, LOCK_EX | LOCK_NB) != 0) {
        did_wait = true;
        while (::flock(l.fd_, LOCK_EX) != 0) {
            if (errno != EINTR) {
                throw InputError(e.lock_path, fmt::format("cannot lock: {}", std::strerror(errno)));
            }
        }
    }
    if (waited) {
        *waited = did_wait;
    }
    return l;
}

CacheLock QuantCache::try_lock(const CacheEntry & e) const {
    CacheLock l;
    l.fd_ = open_lock_file(e.lock_path);
    if (::flock(l.fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(l.fd_);
        l.fd_ = -1;
    }
    return l;
}

int QuantCache::remove_stale_parts() const {
    int n_removed = 0;
    std::error_code ec;
    for (const auto & de : fs::directory_iterator(dir_, ec)) {
        const std::string p = de.path().string();
        if (p.size() < 10 || p.compare(p.size() - 10, 10, ".gguf.part") != 0) {
            continue;
        }
        CacheEntry e;
        e.part_path = p;
        e.lock_path = p.substr(0, p.size() - 10) + ".lock";
        CacheLock l = try_lock(e);
        if (l.held()) {
            std::error_code rm_ec;
            if (fs::remove(p, rm_ec)) {
                ++n_removed;
            }
        }
    }
    return n_removed;
}

void write_file_atomic(const std::string & path, const std::string & text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) {
            throw InputError(tmp, "cannot write");
        }
    }
    fs::rename(tmp, path);
}

}  // namespace jb
