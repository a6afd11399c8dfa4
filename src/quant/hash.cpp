#include "quant/hash.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace jb {

namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t P3 = 0x165667B19E3779F9ULL;
constexpr uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t P5 = 0x27D4EB2F165667C5ULL;

inline uint64_t rotl(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

inline uint64_t read64(const unsigned char * p) {
    uint64_t v;
    std::memcpy(&v, p, 8);  // little-endian hosts only (x86-64, aarch64), as GGUF itself
    return v;
}

inline uint32_t read32(const unsigned char * p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

inline uint64_t xxh_round(uint64_t acc, uint64_t input) {
    acc += input * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

inline uint64_t merge_round(uint64_t acc, uint64_t val) {
    acc ^= xxh_round(0, val);
    return acc * P1 + P4;
}

}  // namespace

Xxh64::Xxh64(uint64_t seed) : seed_(seed) {
    v_[0] = seed + P1 + P2;
    v_[1] = seed + P2;
    v_[2] = seed;
    v_[3] = seed - P1;
}

void Xxh64::update(const void * data, size_t n_bytes) {
    const auto * p = static_cast<const unsigned char *>(data);
    const unsigned char * end = p + n_bytes;
    total_bytes_ += n_bytes;

    if (buf_bytes_ + n_bytes < 32) {
        std::memcpy(buf_ + buf_bytes_, p, n_bytes);
        buf_bytes_ += n_bytes;
        return;
    }
    if (buf_bytes_ > 0) {
        const size_t fill = 32 - buf_bytes_;
        std::memcpy(buf_ + buf_bytes_, p, fill);
        for (int i = 0; i < 4; ++i) {
            v_[i] = xxh_round(v_[i], read64(buf_ + 8 * i));
        }
        p += fill;
        buf_bytes_ = 0;
    }
    while (end - p >= 32) {
        v_[0] = xxh_round(v_[0], read64(p));
        v_[1] = xxh_round(v_[1], read64(p + 8));
        v_[2] = xxh_round(v_[2], read64(p + 16));
        v_[3] = xxh_round(v_[3], read64(p + 24));
        p += 32;
    }
    buf_bytes_ = (size_t) (end - p);
    std::memcpy(buf_, p, buf_bytes_);
}

uint64_t Xxh64::digest() const {
    uint64_t h;
    if (total_bytes_ >= 32) {
        h = rotl(v_[0], 1) + rotl(v_[1], 7) + rotl(v_[2], 12) + rotl(v_[3], 18);
        for (int i = 0; i < 4; ++i) {
            h = merge_round(h, v_[i]);
        }
    } else {
        h = seed_ + P5;
    }
    h += total_bytes_;

    const unsigned char * p = buf_;
    size_t n = buf_bytes_;
    while (n >= 8) {
        h ^= xxh_round(0, read64(p));
        h = rotl(h, 27) * P1 + P4;
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        h ^= (uint64_t) read32(p) * P1;
        h = rotl(h, 23) * P2 + P3;
        p += 4;
        n -= 4;
    }
    while (n > 0) {
        h ^= (*p) * P5;
        h = rotl(h, 11) * P1;
        ++p;
        --n;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t xxh64(const void * data, size_t n_bytes, uint64_t seed) {
    Xxh64 h(seed);
    h.update(data, n_bytes);
    return h.digest();
}

uint64_t xxh64(const std::string & s, uint64_t seed) {
    return xxh64(s.data(), s.size(), seed);
}

uint64_t xxh64_file(const std::string & path) {
    std::FILE * f = std::fopen(path.c_str(), "rb");
    if (!f) {
        throw InputError(path, fmt::format("cannot open: {}", std::strerror(errno)));
    }
    Xxh64 h;
    std::vector<unsigned char> buf(4 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        h.update(buf.data(), n);
    }
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) {
        throw InputError(path, "read error while hashing");
    }
    return h.digest();
}

std::string hex64(uint64_t v) {
    return fmt::format("{:016x}", v);
}

uint64_t xxh64_file_memo(const std::string & path, const std::string & memo_dir) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw InputError(path, fmt::format("cannot stat: {}", std::strerror(errno)));
    }
    std::error_code ec;
    std::string key_path = std::filesystem::weakly_canonical(path, ec).string();
    if (ec) {
        key_path = path;
    }
    const std::string stamp = fmt::format("{} {} {} {}", (long long) st.st_size,
                                          (long long) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                                          (unsigned long long) st.st_ino, (unsigned long long) st.st_dev);
    const std::string memo = (std::filesystem::path(memo_dir) / (hex64(xxh64(key_path)) + ".xxh64")).string();

    // memo file: "<path>\n<size> <mtime_ns> <ino> <dev>\n<hash>\n"
    {
        std::ifstream in(memo);
        std::string memo_path, memo_stamp, memo_hash;
        if (in && std::getline(in, memo_path) && std::getline(in, memo_stamp) && std::getline(in, memo_hash) &&
            memo_path == key_path && memo_stamp == stamp && memo_hash.size() == 16) {
            try {
                return std::stoull(memo_hash, nullptr, 16);
            } catch (const std::exception &) {
                // fall through: rehash
            }
        }
    }

    const uint64_t h = xxh64_file(path);

    std::filesystem::create_directories(memo_dir, ec);
    static std::atomic<unsigned> n_tmp{0};  // unique per process and call: threads may race here
    const std::string tmp = memo + fmt::format(".{}.{}.tmp", (long) ::getpid(), n_tmp++);
    {
        std::ofstream out(tmp);
        out << key_path << "\n" << stamp << "\n" << hex64(h) << "\n";
    }
    std::filesystem::rename(tmp, memo, ec);  // a failed memo only costs a rehash next time
    if (ec) {
        std::filesystem::remove(tmp, ec);
    }
    return h;
}

}  // namespace jb
