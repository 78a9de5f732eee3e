#include "thread_pool.h"

#include "process.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>

namespace aboto3 {

namespace {

// Every pool state with workers that may still be running, so the exit hook
// can stop and join them even when their ThreadPool object is long gone.
std::mutex registry_mutex;
std::vector<std::weak_ptr<void>>& registry() {
    static std::vector<std::weak_ptr<void>> states;
    return states;
}

// The pool whose worker is running on this thread, if any.
thread_local const void* current_worker_pool = nullptr;

// Workers beyond the first start only when calls are queued, no worker is
// idle, and the GIL has room for another thread:
//  - no call finished during the last tick: every worker is blocked (on the
//    network, typically), so the pool doubles, up to max_workers;
//  - or, over a longer window, the process used under kBusy of a core: the
//    workers wait more than they compute, so one more is started.
// CPU-bound calls thus keep few threads, which hand the GIL over less often
// and get more done, while calls waiting on the network soon get them all.
constexpr auto kTick = std::chrono::milliseconds(5);
constexpr int kTicksPerWindow = 4;
constexpr double kBusy = 0.75;

struct Injector {
    std::mutex mutex;
    std::condition_variable wake;
    std::vector<std::weak_ptr<void>> watched;  // pools with calls waiting for a worker
    std::unique_ptr<std::thread> thread;
    bool stopping = false;
};

// Replaced, never destroyed, in a forked child: its thread is gone there, and
// a condition variable that had waiters must not be used again.
Injector* injector = std::make_unique<Injector>().release();

PyObject* interned(const char* name) {
    return PyUnicode_InternFromString(name);
}

// State made before a fork() lives on in the child with no threads behind
// it and possibly a locked mutex: it is set aside, never touched again.
void abandon(std::shared_ptr<void> state) {
    static std::vector<std::shared_ptr<void>>* abandoned =
        std::make_unique<std::vector<std::shared_ptr<void>>>().release();
    abandoned->push_back(std::move(state));
}

}  // namespace

std::shared_ptr<ThreadPool::State> ThreadPool::new_state(std::size_t max_workers) {
    static std::once_flag once;
    std::call_once(once, [] {
        // No fork() may catch the registry half-updated.
        pthread_atfork(
            [] {
                registry_mutex.lock();
                injector->mutex.lock();
            },
            [] {
                injector->mutex.unlock();
                registry_mutex.unlock();
            },
            [] {
                injector = std::make_unique<Injector>().release();
                registry_mutex.unlock();
            });
    });
    auto state = std::make_shared<State>(max_workers);
    state->generation = fork_generation();
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto& states = registry();
    states.erase(std::remove_if(states.begin(), states.end(),
                                [](const std::weak_ptr<void>& s) { return s.expired(); }),
                 states.end());
    states.push_back(state);
    return state;
}

ThreadPool::ThreadPool(std::size_t max_workers)
    : max_workers_(max_workers), state_(new_state(max_workers)) {}

ThreadPool::~ThreadPool() {
    // Workers hold their own reference to the state and finish queued calls;
    // the registry keeps them joinable at interpreter exit.
    if (state_->generation == fork_generation()) {
        shutdown(false);
    } else {
        abandon(std::move(state_));
    }
}

ThreadPool::State::~State() {
    // Nobody waited for these workers; they finish on their own.
    for (std::thread& thread : threads) {
        if (thread.joinable()) thread.detach();
    }
}

void ThreadPool::submit(CompletionQueuePtr queue, nb::object future, nb::object context,
                        nb::object fn, nb::object args, nb::object kwargs) {
    if (state_->generation != fork_generation()) {
        abandon(std::move(state_));  // a forked child: the workers are the parent's
        state_ = new_state(max_workers_);
    }
    bool needs_watching = false;
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        if (state_->stopping) {
            throw std::runtime_error("cannot schedule new calls after the thread pool was shut down");
        }
        state_->jobs.push_back(Job{std::move(queue), std::move(future), std::move(context),
                                   std::move(fn), std::move(args), std::move(kwargs)});
        if (state_->live == 0) {
            try {
                start_worker(state_);
            } catch (...) {
                state_->jobs.pop_back();  // no thread will ever run it: refuse the call
                throw;
            }
        } else if (state_->idle != 0) {
            state_->work_ready.notify_one();
        } else if (state_->live < state_->max_workers && !state_->watched) {
            state_->watched = needs_watching = true;
        }
    }
    if (needs_watching) watch(state_);
}

void ThreadPool::start_worker(const std::shared_ptr<State>& state) {
    state->threads.emplace_back(worker_main, state);
    ++state->live;
}

void ThreadPool::watch(const std::shared_ptr<State>& state) {
    Injector& self = *injector;
    std::lock_guard<std::mutex> lock(self.mutex);
    if (self.stopping) return;
    if (!self.thread) self.thread = std::make_unique<std::thread>(injector_main, &self);
    {
        std::lock_guard<std::mutex> state_lock(state->mutex);
        state->completed_seen = state->completed;
    }
    self.watched.push_back(state);
    self.wake.notify_one();
}

namespace {

double process_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

void ThreadPool::injector_main(void* injector_state) {
    Injector& self = *static_cast<Injector*>(injector_state);
    name_this_thread("aboto3-grow");
    std::unique_lock<std::mutex> lock(self.mutex);
    auto window_start = std::chrono::steady_clock::now();
    double window_cpu = process_cpu_seconds();
    int ticks = 0;
    while (!self.stopping) {
        if (self.watched.empty()) {
            self.wake.wait(lock);
            window_start = std::chrono::steady_clock::now();
            window_cpu = process_cpu_seconds();
            ticks = 0;
            continue;
        }
        if (self.wake.wait_for(lock, kTick) == std::cv_status::no_timeout) {
            continue;  // a new pool to watch: judge it after a whole tick
        }
        bool room = false;  // the GIL idle enough over the window for one more thread
        if (++ticks == kTicksPerWindow) {
            const auto now = std::chrono::steady_clock::now();
            const double cpu = process_cpu_seconds();
            room = cpu - window_cpu < kBusy * std::chrono::duration<double>(now - window_start).count();
            window_start = now;
            window_cpu = cpu;
            ticks = 0;
        }

        std::vector<std::weak_ptr<void>> watched;
        watched.swap(self.watched);
        lock.unlock();
        std::vector<std::weak_ptr<void>> still;
        for (auto& weak : watched) {
            auto state = std::static_pointer_cast<State>(weak.lock());
            if (!state) continue;
            std::lock_guard<std::mutex> state_lock(state->mutex);
            const bool starved = !state->stopping && state->idle < state->jobs.size() &&
                                 state->live < state->max_workers;
            if (!starved) {
                state->watched = false;
                continue;
            }
            const bool stuck = state->completed == state->completed_seen;
            state->completed_seen = state->completed;
            std::size_t more = stuck ? state->live : (room ? 1 : 0);
            more = std::min({more, state->max_workers - state->live, state->jobs.size() - state->idle});
            try {
                while (more-- != 0) start_worker(state);
            } catch (...) {
                // No more threads to be had: the running ones carry on.
            }
            still.push_back(std::move(weak));
        }
        lock.lock();
        for (auto& weak : still) self.watched.push_back(std::move(weak));
    }
}

void ThreadPool::stop_injector() {
    Injector& self = *injector;
    std::unique_ptr<std::thread> thread;
    {
        std::lock_guard<std::mutex> lock(self.mutex);
        self.stopping = true;
        thread = std::move(self.thread);
    }
    self.wake.notify_all();
    if (thread && thread->joinable()) {
        nb::gil_scoped_release release;
        thread->join();
    }
}

void ThreadPool::worker_main(std::shared_ptr<State> state) {
    // One thread state for the worker's whole life, not one per call.
    current_worker_pool = state.get();
    name_this_thread("aboto3-worker");
    PyGILState_STATE gil = PyGILState_Ensure();
    PyThreadState* tstate = PyEval_SaveThread();
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(state->mutex);
            ++state->idle;
            state->work_ready.wait(lock, [&] { return state->stopping || !state->jobs.empty(); });
            --state->idle;
            if (state->jobs.empty()) {
                break;  // stopping, and nothing left to run
            }
            job = std::move(state->jobs.front());
            state->jobs.pop_front();
        }
        restore_thread(tstate);
        for (;;) {
            run_job(job);
            job = Job{};  // drop the call's references while the GIL is held
            // Under load, go straight on to the next queued call: handing the
            // GIL to another thread and taking it back costs two switches.
            // (No thread ever waits for the GIL while holding this mutex.)
            std::lock_guard<std::mutex> lock(state->mutex);
            ++state->completed;
            if (state->jobs.empty()) break;
            job = std::move(state->jobs.front());
            state->jobs.pop_front();
        }
        tstate = PyEval_SaveThread();
    }
    restore_thread(tstate);
    PyGILState_Release(gil);

    std::vector<std::pair<CompletionQueuePtr, std::unique_ptr<Completion>>> on_exit;
    {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (--state->live == 0) on_exit.swap(state->on_exit);
    }
    state->all_exited.notify_all();
    for (auto& [queue, done] : on_exit) queue->push(std::move(done));
}

void ThreadPool::run_job(Job& job) {
    static PyObject* cancelled_name = interned("cancelled");
    // A call whose awaiting task was cancelled before it started never runs.
    PyObject* cancelled = PyObject_CallMethodNoArgs(job.future.ptr(), cancelled_name);
    if (cancelled == nullptr) {
        PyErr_WriteUnraisable(job.future.ptr());
        return;
    }
    const bool skip = (cancelled == Py_True);
    Py_DECREF(cancelled);
    if (skip) {
        return;
    }

    PyObject* result = nullptr;
    if (PyContext_Enter(job.context.ptr()) == 0) {
        result = PyObject_Call(job.fn.ptr(), job.args.ptr(),
                               job.kwargs.is_valid() && !job.kwargs.is_none() ? job.kwargs.ptr()
                                                                               : nullptr);
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyContext_Exit(job.context.ptr()) != 0) {
            PyErr_WriteUnraisable(job.context.ptr());
        }
        PyErr_Restore(type, value, tb);
    }
    if (result != nullptr) {
        job.queue->push(std::make_unique<FutureOutcome>(std::move(job.future), nb::steal(result), false));
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != nullptr) {
        PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    job.queue->push(std::make_unique<FutureOutcome>(std::move(job.future), nb::steal(value), true));
}

void ThreadPool::stop(State& state) {
    {
        std::lock_guard<std::mutex> lock(state.mutex);
        state.stopping = true;
    }
    state.work_ready.notify_all();
}

void ThreadPool::wait_for_exit(const std::shared_ptr<State>& state) {
    nb::gil_scoped_release release;
    std::vector<std::thread> exited;
    {
        std::unique_lock<std::mutex> lock(state->mutex);
        state->all_exited.wait(lock, [&] { return state->live == 0; });
        exited.swap(state->threads);
    }
    // Every worker is past its last step; joining makes sure the OS threads are gone.
    for (std::thread& thread : exited) thread.join();
}

void ThreadPool::shutdown(bool wait) {
    if (wait && current_worker_pool == state_.get()) {
        throw std::runtime_error("a thread pool cannot wait for itself from one of its own workers");
    }
    stop(*state_);
    if (wait) {
        wait_for_exit(state_);
    }
}

void ThreadPool::shutdown_notify(CompletionQueuePtr queue, nb::object future) {
    auto done = std::make_unique<FutureOutcome>(std::move(future), nb::none(), false);
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->stopping = true;
        if (state_->live != 0) {
            state_->on_exit.emplace_back(queue, std::move(done));
        }
    }
    state_->work_ready.notify_all();
    if (done) {
        queue->push(std::move(done));  // no worker was running
    }
}

std::size_t ThreadPool::thread_count() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->live;
}

void ThreadPool::shutdown_all() {
    stop_injector();
    std::vector<std::shared_ptr<State>> states;
    {
        std::lock_guard<std::mutex> lock(registry_mutex);
        for (auto& weak : registry()) {
            if (auto state = std::static_pointer_cast<State>(weak.lock())) {
                if (state->generation == fork_generation()) states.push_back(std::move(state));
            }
        }
    }
    for (auto& state : states) stop(*state);
    for (auto& state : states) wait_for_exit(state);
}

}  // namespace aboto3
