#pragma once
// One writer per result database: a sweep (or serve, or tune) holds "<db>.lock" beside the file
// with flock(2) while it runs, so a second one on the same database stops with who holds it, or
// waits. The kernel drops the lock of a process that dies, so a stale file never blocks; the file
// keeps the holder's pid, host, start time and command line for the message.

#include <functional>
#include <string>

namespace jb {

struct LockHolder {
    long pid = 0;
    std::string host;
    std::string since;  // UTC, ISO 8601
    std::string what;   // the holder's command line
};

// "pid 4242 on node1 since 2026-12-02T18:00:00Z (joulebench sweep ...)"
std::string describe_holder(const LockHolder & h);

class StoreLock {
public:
    // Takes the lock of `db`. When another live process holds it: with wait, calls on_wait once
    // with the holder and blocks until it is free; without, throws jb::Error naming the database
    // and the holder. `what` is recorded for others' messages.
    static StoreLock acquire(const std::string & db, const std::string & what, bool wait,
                             const std::function<void(const LockHolder &)> & on_wait = {});
    StoreLock(StoreLock && other) noexcept;
    StoreLock & operator=(StoreLock && other) noexcept;
    ~StoreLock();

    const std::string & path() const { return path_; }

private:
    StoreLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
    std::string path_;
    int fd_ = -1;
};

}  // namespace jb
