#include "wakeup.h"

#include <fcntl.h>
#include <unistd.h>
#ifdef ABOTO3_USE_LINUX_APIS
#include <sys/eventfd.h>
#endif

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace aboto3 {

namespace {

[[noreturn]] void fail(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

#ifndef ABOTO3_USE_LINUX_APIS
void make_nonblocking_cloexec(int fd) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        fail("fcntl");
    }
}
#endif

}  // namespace

Wakeup::Wakeup() {
#ifdef ABOTO3_USE_LINUX_APIS
    read_fd_ = write_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0) fail("eventfd");
#else
    int fds[2];
    if (pipe(fds) != 0) fail("pipe");
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    try {
        make_nonblocking_cloexec(read_fd_);
        make_nonblocking_cloexec(write_fd_);
    } catch (...) {
        ::close(read_fd_);
        ::close(write_fd_);
        throw;
    }
#endif
}

Wakeup::~Wakeup() {
    if (write_fd_ != read_fd_) ::close(write_fd_);
    ::close(read_fd_);
}

void Wakeup::notify() {
    // EAGAIN means the counter is already non-zero (or the pipe is full): the
    // watcher will wake either way.
#ifdef ABOTO3_USE_LINUX_APIS
    const std::uint64_t one = 1;
#else
    const unsigned char one = 1;
#endif
    ssize_t rc;
    do {
        rc = ::write(write_fd_, &one, sizeof one);
    } while (rc < 0 && errno == EINTR);
}

void Wakeup::clear() {
#ifdef ABOTO3_USE_LINUX_APIS
    std::uint64_t counter;
    while (::read(read_fd_, &counter, sizeof counter) < 0 && errno == EINTR) {
    }
#else
    // Several notifies may have landed before this: empty the pipe.
    unsigned char buffer[64];
    for (;;) {
        const ssize_t rc = ::read(read_fd_, buffer, sizeof buffer);
        if (rc > 0) continue;
        if (rc < 0 && errno == EINTR) continue;
        break;  // empty (EAGAIN), or closed
    }
#endif
}

const char* Wakeup::kind() {
#ifdef ABOTO3_USE_LINUX_APIS
    return "eventfd";
#else
    return "pipe";
#endif
}

}  // namespace aboto3
