#include "thread_pool.h"

#include "python_compat.h"

#include <pthread.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace aboto3 {

namespace {

// Live pools, so interpreter exit and fork can reach every one of them.
std::mutex registry_mutex;
std::vector<ThreadPool*>& registry() {
    static std::vector<ThreadPool*> pools;
    return pools;
}

void install_fork_handlers() {
    static std::once_flag once;
    std::call_once(once, [] {
        pthread_atfork([] { registry_mutex.lock(); },
                       [] { registry_mutex.unlock(); },
                       [] {
                           registry_mutex.unlock();
                           ThreadPool::reset_all_after_fork();
                       });
    });
}

// The pool whose worker is running on this thread, if any.
thread_local const void* current_worker_pool = nullptr;

PyObject* interned(const char* name) {
    return PyUnicode_InternFromString(name);
}

}  // namespace

ThreadPool::ThreadPool(std::size_t max_workers)
    : max_workers_(max_workers), state_(std::make_shared<State>()) {
    install_fork_handlers();
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry().push_back(this);
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(registry_mutex);
        auto& pools = registry();
        pools.erase(std::remove(pools.begin(), pools.end(), this), pools.end());
    }
    // Workers hold their own reference to the state and finish queued calls.
    shutdown(false);
}

void ThreadPool::submit(CompletionQueuePtr queue, nb::object future, nb::object context,
                        nb::object fn, nb::object args, nb::object kwargs) {
    bool start_worker = false;
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        if (state_->stopping) {
            throw std::runtime_error("cannot schedule new calls after the thread pool was shut down");
        }
        state_->jobs.push_back(Job{std::move(queue), std::move(future), std::move(context),
                                   std::move(fn), std::move(args), std::move(kwargs)});
        // Threads start lazily: only when no idle worker can take this call.
        if (state_->idle < state_->jobs.size() && state_->live < max_workers_) {
            ++state_->live;
            start_worker = true;
        }
    }
    if (start_worker) {
        std::lock_guard<std::mutex> lock(state_->mutex);
        try {
            state_->threads.emplace_back(worker_main, state_);
        } catch (...) {
            --state_->live;
            throw;
        }
    } else {
        state_->work_ready.notify_one();
    }
}

void ThreadPool::worker_main(std::shared_ptr<State> state) {
    // One thread state for the worker's whole life, not one per call.
    current_worker_pool = state.get();
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
        PyEval_RestoreThread(tstate);
        for (;;) {
            run_job(job);
            job = Job{};  // drop the call's references while the GIL is held
            // Under load, go straight on to the next queued call: handing the
            // GIL to another thread and taking it back costs two switches.
            std::unique_lock<std::mutex> lock(state->mutex, std::try_to_lock);
            if (!lock.owns_lock() || state->jobs.empty()) break;
            job = std::move(state->jobs.front());
            state->jobs.pop_front();
        }
        tstate = PyEval_SaveThread();
    }
    PyEval_RestoreThread(tstate);
    PyGILState_Release(gil);

    CompletionQueuePtr exit_queue;
    std::unique_ptr<Completion> on_exit;
    {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (--state->live == 0) {
            exit_queue = std::move(state->exit_queue);
            on_exit = std::move(state->on_exit);
        }
    }
    state->all_exited.notify_all();
    if (exit_queue && on_exit) {
        exit_queue->push(std::move(on_exit));
    }
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

ThreadPool::State::~State() {
    // Nobody waited for these workers; they finish on their own.
    for (std::thread& thread : threads) {
        if (thread.joinable()) thread.detach();
    }
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
            state_->exit_queue = queue;
            state_->on_exit = std::move(done);
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

std::size_t ThreadPool::queued() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->jobs.size();
}

bool ThreadPool::is_shutdown() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->stopping;
}

void ThreadPool::shutdown_all() {
    std::vector<std::shared_ptr<State>> states;
    {
        std::lock_guard<std::mutex> lock(registry_mutex);
        for (ThreadPool* pool : registry()) {
            states.push_back(pool->state_);
        }
    }
    for (auto& state : states) {
        stop(*state);
    }
    for (auto& state : states) {
        wait_for_exit(state);
    }
}

void ThreadPool::reset_all_after_fork() {
    // Only the forking thread exists in the child: the old workers are gone
    // and their state (mutexes included) may be mid-update. Abandon it.
    static std::vector<std::shared_ptr<State>>* abandoned =
        std::make_unique<std::vector<std::shared_ptr<State>>>().release();
    for (ThreadPool* pool : registry()) {
        abandoned->push_back(std::move(pool->state_));
        pool->state_ = std::make_shared<State>();
    }
}

}  // namespace aboto3
