// The native engine's I/O thread: one libcurl multi handle driven by a Poller
// (epoll on Linux, poll() elsewhere), fed through a command queue, never
// touching Python or the GIL.
#pragma once

#include "poller.h"
#include "transfer.h"
#include "wakeup.h"

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace aboto3 {

class CurlEngine {
public:
    // The process-wide engine, its thread started on first use.
    static std::shared_ptr<CurlEngine> instance();
    // Stops the I/O thread (interpreter exit); transfers still running fail.
    static void shutdown_instance();
    static void abandon_after_fork();
    // Closes a dead session's pool on the I/O thread (or at once if none runs).
    static void dispose_share(CURLSH* share);

    CurlEngine();
    ~CurlEngine();
    CurlEngine(const CurlEngine&) = delete;
    CurlEngine& operator=(const CurlEngine&) = delete;

    // Any thread. Each wakes the I/O thread at most once per batch. With
    // `defer_wake` the I/O thread is left asleep until the caller's flush()
    // (an event loop flushes once per iteration: one wake for all the calls
    // it started in it, instead of one each), or until the batch's first
    // deferred command has waited max_deferral (see set_max_deferral).
    void submit(std::shared_ptr<Transfer> transfer, bool defer_wake = false);
    // Wakes the I/O thread if commands wait for it unannounced.
    void flush();
    // The longest a deferred command waits for its wake before the next one
    // deferred wakes the I/O thread (default 2 ms: a loop turn that resumes a
    // hundred calls lasts tens of milliseconds, while their connections idle).
    // Returns the previous limit.
    std::chrono::microseconds set_max_deferral(std::chrono::microseconds limit);
    void resume(std::shared_ptr<Transfer> transfer);
    // A finished streaming body was read to its end: its slot is free.
    void body_consumed(std::shared_ptr<Transfer> transfer);
    void cancel(std::shared_ptr<Transfer> transfer);
    // The transfer's read timeout changed: its idle clock starts again now.
    void retime(std::shared_ptr<Transfer> transfer);
    // Closes the session's idle connections (now, or when its calls end).
    void release_connections(std::shared_ptr<Session> session);

    std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
    // How many times the I/O thread was woken for commands.
    std::size_t wakes() const { return wakes_.load(std::memory_order_relaxed); }

private:
    enum class Kind { Submit, Resume, BodyConsumed, Cancel, Retime, Release, DisposeShare, Stop };
    struct Command {
        Kind kind;
        std::shared_ptr<Transfer> transfer;
        std::shared_ptr<Session> session;
        CURLSH* share = nullptr;
    };

    void post(Command command, bool defer_wake = false);
    void notify();
    void run();
    void run_commands();
    void start_or_queue(std::shared_ptr<Transfer> transfer);
    void start(std::shared_ptr<Transfer> transfer);
    void complete(Transfer* transfer, CURLcode code);
    // A transfer gives its slot back when it ends (a streaming one: when its
    // body has been read, or its reader stayed away for kReaderGrace); the
    // next queued transfer of its session may then start.
    void release_slot(Transfer& transfer);
    void watch_paused(Clock::time_point now);
    void watch_reader(Transfer& transfer);
    void release_share(Session& session);
    void release_share_if_idle(Session& session);
    void collect_finished();
    void expire_idle(Clock::time_point now);
    void watch_idle(const Transfer& transfer, Clock::time_point now);
    int wait_timeout_ms(Clock::time_point now) const;

    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_data);
    static int on_timer(CURLM* multi, long timeout_ms, void* self);

    CURLM* multi_ = nullptr;
    std::unique_ptr<Poller> poller_;
    Wakeup wake_;  // commands are waiting
    std::thread thread_;

    std::mutex commands_mutex_;
    std::vector<Command> commands_;
    bool notified_ = false;  // the I/O thread will wake for what commands_ holds
    Clock::time_point oldest_unannounced_;  // when commands_ got its first deferred one
    std::chrono::microseconds max_deferral_{2000};

    // I/O thread only.
    std::unordered_map<Transfer*, std::shared_ptr<Transfer>> running_;
    bool timer_armed_ = false;
    Clock::time_point timer_deadline_;
    Clock::time_point next_idle_check_ = Clock::time_point::max();
    bool stopping_ = false;
    // Reset easy handles kept for the next transfers: creating one costs more
    // than the rest of a small request's client-side work.
    std::vector<CURL*> spare_handles_;
    // Streaming transfers that paused for their reader during the last libcurl
    // call (see kReaderGrace).
    std::vector<Transfer*> paused_;
    // Finished streaming transfers whose bodies still wait for their readers:
    // they keep their slots (see kReaderGrace).
    std::unordered_map<Transfer*, std::shared_ptr<Transfer>> unread_;

    std::atomic<std::size_t> in_flight_{0};
    std::atomic<std::size_t> wakes_{0};
};

}  // namespace aboto3
