// A file descriptor that one thread makes readable to wake another: an eventfd
// on Linux, a self-pipe elsewhere (and on Linux when built with
// ABOTO3_PORTABLE, so the portable path is tested code).
#pragma once

namespace aboto3 {

#if defined(__linux__) && !defined(ABOTO3_PORTABLE)
#define ABOTO3_USE_LINUX_APIS 1  // eventfd here, epoll in the native engine
#endif

class Wakeup {
public:
    Wakeup();  // throws std::system_error if the descriptors cannot be made
    ~Wakeup();
    Wakeup(const Wakeup&) = delete;
    Wakeup& operator=(const Wakeup&) = delete;

    // The descriptor to watch for readability.
    int fd() const { return read_fd_; }
    // Any thread: make fd() readable (a no-op if it already is).
    void notify();
    // The watching thread: make fd() unreadable again, before taking the work.
    void clear();
    // "eventfd" or "pipe".
    static const char* kind();

private:
    int read_fd_ = -1;
    int write_fd_ = -1;  // the same as read_fd_ for an eventfd
};

}  // namespace aboto3
