#pragma once
// The directory of quantized files. A file is named for what decides its bytes: the source's
// content hash, the scheme's weights_key(), the imatrix's hash and llama.cpp's version.
//
//   <dir>/<stem>.<scheme>.<key hash>.gguf        the quantized model (exists => complete)
//   <dir>/<stem>.<scheme>.<key hash>.gguf.json   what it is: key, scheme, source, fallbacks
//   <dir>/<stem>.<scheme>.<key hash>.gguf.part   being written (renamed into place when done)
//   <dir>/<stem>.<scheme>.<key hash>.lock        flock(2) held while one process writes it
//   <dir>/sources/                               memo of source hashes (path, size, mtime)
//
// Writers hold the lock, write .part, then rename: a reader never sees a half-written file,
// and a .part left by a killed process is stale once nobody holds its lock.

#include <string>

namespace jb {

// $XDG_CACHE_HOME/joulebench/quant, else $HOME/.cache/joulebench/quant, else ./.joulebench-cache/quant.
std::string default_cache_dir();

struct CacheEntry {
    std::string key;        // the full key string (hashed into the file name)
    std::string path;       // final .gguf
    std::string part_path;  // path + ".part"
    std::string meta_path;  // path + ".json"
    std::string lock_path;
};

// An exclusive flock(2) on an entry's lock file, released on destruction.
class CacheLock {
public:
    CacheLock() = default;
    CacheLock(CacheLock && other) noexcept;
    CacheLock & operator=(CacheLock && other) noexcept;
    CacheLock(const CacheLock &) = delete;
    CacheLock & operator=(const CacheLock &) = delete;
    ~CacheLock();

    bool held() const { return fd_ >= 0; }
    void release();

private:
    friend class QuantCache;
    int fd_ = -1;
};

class QuantCache {
public:
    // Creates the directory if needed; throws jb::InputError if it cannot.
    explicit QuantCache(std::string dir);

    const std::string & dir() const { return dir_; }
    std::string sources_dir() const;

    // `label` is a readable part of the file name (model stem and scheme name); only `key` decides identity.
    CacheEntry entry(const std::string & label, const std::string & key) const;

    // True if the entry's final file exists (it is only ever created complete, by rename).
    bool contains(const CacheEntry & e) const;

    // Blocks until this process holds the entry's lock. `waited` (optional) tells whether
    // another holder made it wait.
    CacheLock lock(const CacheEntry & e, bool * waited = nullptr) const;
    // Returns an unheld lock if someone else holds it.
    CacheLock try_lock(const CacheEntry & e) const;

    // Deletes .part files whose lock nobody holds (left by killed processes); returns how many.
    int remove_stale_parts() const;

private:
    std::string dir_;
};

// Writes a cache side file (metadata, search results) through path + ".tmp" and a rename, so a
// reader sees the old text or the new, never half; jb::InputError naming the file if it fails.
void write_file_atomic(const std::string & path, const std::string & text);

}  // namespace jb
