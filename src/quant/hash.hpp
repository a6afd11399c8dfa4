#pragma once
// XXH64 (xxHash, 64-bit) of buffers and whole files: the quantized-file cache keys a source
// model by the XXH64 of its full content. Same value as `xxhsum -H1 FILE` (Debian: xxhash),
// so a user can check a key by hand. Fast (several GB/s), so hashing a 15 GB model costs
// about what reading it does; a memo keyed by (path, size, mtime, inode) skips even that.

#include <cstddef>
#include <cstdint>
#include <string>

namespace jb {

class Xxh64 {
public:
    explicit Xxh64(uint64_t seed = 0);
    void update(const void * data, size_t n_bytes);
    uint64_t digest() const;

private:
    uint64_t v_[4];
    uint64_t seed_;
    uint64_t total_bytes_ = 0;
    unsigned char buf_[32];
    size_t buf_bytes_ = 0;
};

uint64_t xxh64(const void * data, size_t n_bytes, uint64_t seed = 0);
uint64_t xxh64(const std::string & s, uint64_t seed = 0);

// XXH64 of a file's full content; throws jb::InputError if it cannot be read.
uint64_t xxh64_file(const std::string & path);

// xxh64_file() with a memo in memo_dir (one small file per source path), reused while the
// source's size, mtime and inode are unchanged. Creates memo_dir if needed.
uint64_t xxh64_file_memo(const std::string & path, const std::string & memo_dir);

// 16 lower-case hex digits.
std::string hex64(uint64_t v);

}  // namespace jb
