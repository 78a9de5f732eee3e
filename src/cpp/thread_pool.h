// The thread engine's worker pool: native threads that run synchronous Python
// callables and hand their outcomes to the completion bridge.
#pragma once

#include "completion_queue.h"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace aboto3 {

class ThreadPool {
public:
    explicit ThreadPool(std::size_t max_workers);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // GIL held. Queues fn(*args, **kwargs), to run inside `context`; its
    // outcome settles `future` through `queue`. Starts a worker if none is idle.
    void submit(CompletionQueuePtr queue, nb::object future, nb::object context,
                nb::object fn, nb::object args, nb::object kwargs);

    // Stops taking new work; calls already queued still run. `wait` blocks,
    // with the GIL released, until every worker has exited.
    void shutdown(bool wait);

    // Like shutdown(false), and settles `future` with None through `queue`
    // once the last worker has exited, so an event loop can await it.
    void shutdown_notify(CompletionQueuePtr queue, nb::object future);

    std::size_t max_workers() const { return max_workers_; }
    std::size_t thread_count() const;

    // Stops every pool's workers and waits for them: the interpreter-exit
    // hook, which must run before CPython starts finalizing.
    static void shutdown_all();

private:
    struct Job {
        CompletionQueuePtr queue;
        nb::object future, context, fn, args, kwargs;
    };
    // Shared with the workers, which may outlive the Python-facing object.
    struct State {
        explicit State(std::size_t max) : max_workers(max) {}
        ~State();
        const std::size_t max_workers;
        mutable std::mutex mutex;
        std::condition_variable work_ready;
        std::condition_variable all_exited;
        std::deque<Job> jobs;
        std::vector<std::thread> threads;  // joined by wait_for_exit, else detached
        std::size_t live = 0;
        std::size_t idle = 0;
        bool stopping = false;
        // Settled (through their queues) when the last worker has exited.
        std::vector<std::pair<CompletionQueuePtr, std::unique_ptr<Completion>>> on_exit;
        unsigned generation = 0;  // the fork generation the workers belong to
        bool watched = false;  // the injector is looking after this pool
        std::size_t completed = 0;       // calls finished, ever
        std::size_t completed_seen = 0;  // ...as of the injector's last look
    };

    static std::shared_ptr<State> new_state(std::size_t max_workers);
    static void start_worker(const std::shared_ptr<State>& state);  // state mutex held
    static void watch(const std::shared_ptr<State>& state);
    static void injector_main(void* injector_state);
    static void stop_injector();
    static void worker_main(std::shared_ptr<State> state);
    static void run_job(Job& job);
    static void stop(State& state);
    static void wait_for_exit(const std::shared_ptr<State>& state);

    const std::size_t max_workers_;
    std::shared_ptr<State> state_;
};

}  // namespace aboto3
