#include "store/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "joulebench/error.hpp"
#include "joulebench/store.hpp"

namespace jb {

namespace {

LockHolder read_holder(int fd) {
    std::string text;
    char buf[4096];
    ::lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) text.append(buf, size_t(n));
    LockHolder h;
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
        h.pid = j.value("pid", 0L);
        h.host = j.value("host", std::string());
        h.since = j.value("since", std::string());
        h.what = j.value("what", std::string());
    }
    return h;
}

std::string hostname() {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
}

}  // namespace

std::string describe_holder(const LockHolder & h) {
    if (h.pid == 0) return "another process (its details are being written)";
    return fmt::format("pid {} on {} since {}{}", h.pid, h.host, h.since, h.what.empty() ? "" : " (" + h.what + ")");
}

StoreLock StoreLock::acquire(const std::string & db, const std::string & what, bool wait,
                             const std::function<void(const LockHolder &)> & on_wait) {
    const std::string path = db + ".lock";
    // O_CLOEXEC: a server or command this process starts must not inherit the lock.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw InputError(path, fmt::format("cannot create the database's lock file: {}", std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err != EWOULDBLOCK) {
            ::close(fd);
            throw InputError(path, fmt::format("cannot lock: {}", std::strerror(err)));
        }
        const LockHolder h = read_holder(fd);
        if (!wait) {
            ::close(fd);
            throw Error(fmt::format("{} is in use by {}; one sweep writes a database at a time: wait for it, give "
                                    "another --db, or add --wait",
                                    db, describe_holder(h)));
        }
        if (on_wait) on_wait(h);
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                const int e = errno;
                ::close(fd);
                throw InputError(path, fmt::format("cannot lock: {}", std::strerror(e)));
            }
        }
    }
    const std::string text = nlohmann::json{{"pid", long(getpid())},
                                            {"host", hostname()},
                                            {"since", utc_now_iso()},
                                            {"what", what}}
                                 .dump();
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != ssize_t(text.size())) {
        ::close(fd);
        throw InputError(path, "cannot write the lock file");
    }
    return StoreLock(path, fd);
}

StoreLock::StoreLock(StoreLock && other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

StoreLock & StoreLock::operator=(StoreLock && other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        path_ = std::move(other.path_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

StoreLock::~StoreLock() {
    if (fd_ < 0) return;
    // The file stays (removing it would race with a process about to lock it); emptied, it names
    // nobody.
    if (::ftruncate(fd_, 0) != 0) {
    }
    ::close(fd_);
}

}  // namespace jb
