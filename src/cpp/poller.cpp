#include "poller.h"

#include "wakeup.h"  // ABOTO3_USE_LINUX_APIS

#include <poll.h>
#include <unistd.h>
#ifdef ABOTO3_USE_LINUX_APIS
#include <sys/epoll.h>
#endif

#include <cerrno>
#include <system_error>
#include <unordered_map>

namespace aboto3 {

namespace {

#ifdef ABOTO3_USE_LINUX_APIS

// The kernel keeps the watch list; each wait returns only the ready sockets.
class EpollPoller final : public Poller {
public:
    EpollPoller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    }
    ~EpollPoller() override { ::close(fd_); }

    void watch(int fd, int flags, bool known) override {
        epoll_event event{};
        event.data.fd = fd;
        if (flags & kIn) event.events |= EPOLLIN;
        if (flags & kOut) event.events |= EPOLLOUT;
        if (known) {
            epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &event);
        } else if (epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &event) != 0 && errno == EEXIST) {
            epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &event);
        }
    }

    void forget(int fd) override { epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }

    bool wait(int timeout_ms, std::vector<Ready>& ready) override {
        ready.clear();
        const int n = epoll_wait(fd_, events_, kMaxEvents, timeout_ms);
        if (n < 0) return errno == EINTR;
        for (int i = 0; i < n; ++i) {
            int flags = 0;
            if (events_[i].events & EPOLLIN) flags |= kIn;
            if (events_[i].events & EPOLLOUT) flags |= kOut;
            if (events_[i].events & (EPOLLERR | EPOLLHUP)) flags |= kError;
            ready.push_back(Ready{events_[i].data.fd, flags});
        }
        return true;
    }

private:
    static constexpr int kMaxEvents = 256;
    int fd_;
    epoll_event events_[kMaxEvents];
};

#endif

// POSIX poll(): the watch list is ours and each wait scans all of it, which
// is fine for the connections one process keeps open.
class PollPoller final : public Poller {
public:
    void watch(int fd, int flags, bool) override {
        short events = 0;
        if (flags & kIn) events |= POLLIN;
        if (flags & kOut) events |= POLLOUT;
        auto found = index_.find(fd);
        if (found != index_.end()) {
            fds_[found->second].events = events;
        } else {
            index_.emplace(fd, fds_.size());
            fds_.push_back(pollfd{fd, events, 0});
        }
    }

    void forget(int fd) override {
        auto found = index_.find(fd);
        if (found == index_.end()) return;
        // Move the last entry into the hole.
        const std::size_t hole = found->second;
        index_.erase(found);
        if (hole + 1 != fds_.size()) {
            fds_[hole] = fds_.back();
            index_[fds_[hole].fd] = hole;
        }
        fds_.pop_back();
    }

    bool wait(int timeout_ms, std::vector<Ready>& ready) override {
        ready.clear();
        const int n = ::poll(fds_.data(), static_cast<nfds_t>(fds_.size()), timeout_ms);
        if (n < 0) return errno == EINTR;
        for (const pollfd& entry : fds_) {
            if (entry.revents == 0) continue;
            int flags = 0;
            if (entry.revents & POLLIN) flags |= kIn;
            if (entry.revents & POLLOUT) flags |= kOut;
            if (entry.revents & (POLLERR | POLLHUP | POLLNVAL)) flags |= kError;
            ready.push_back(Ready{entry.fd, flags});
            if (static_cast<int>(ready.size()) == n) break;
        }
        return true;
    }

private:
    std::vector<pollfd> fds_;
    std::unordered_map<int, std::size_t> index_;  // fd -> its entry in fds_
};

}  // namespace

std::unique_ptr<Poller> Poller::create() {
#ifdef ABOTO3_USE_LINUX_APIS
    return std::make_unique<EpollPoller>();
#else
    return std::make_unique<PollPoller>();
#endif
}

const char* Poller::backend() {
#ifdef ABOTO3_USE_LINUX_APIS
    return "epoll";
#else
    return "poll";
#endif
}

}  // namespace aboto3
