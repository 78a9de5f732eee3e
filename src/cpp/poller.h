// What the native engine's I/O thread waits on: the sockets libcurl asks it
// to watch. epoll on Linux; poll() elsewhere, and on Linux when built with
// ABOTO3_PORTABLE, so the code macOS and the BSDs run is tested here too.
#pragma once

#include <memory>
#include <vector>

namespace aboto3 {

class Poller {
public:
    enum Flags : int { kIn = 1, kOut = 2, kError = 4 };
    struct Ready {
        int fd;
        int flags;  // Flags that hold for fd
    };

    // The backend this build uses; throws std::system_error if it cannot start.
    static std::unique_ptr<Poller> create();
    // "epoll" or "poll".
    static const char* backend();

    virtual ~Poller() = default;
    // Watch fd for kIn and/or kOut; a second call for the same fd changes
    // them. `known`: fd is watched already (a hint that saves epoll a call).
    virtual void watch(int fd, int flags, bool known) = 0;
    virtual void forget(int fd) = 0;
    // Waits up to timeout_ms (-1: no limit) and fills `ready`, which stays
    // valid while watch()/forget() run. False on an unexpected error.
    virtual bool wait(int timeout_ms, std::vector<Ready>& ready) = 0;
};

}  // namespace aboto3
