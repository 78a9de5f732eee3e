// The completion bridge: finished work from any thread reaches the event loop
// through one queue and one wake-up descriptor, signalled once per batch.
#pragma once

#include "wakeup.h"

#include <nanobind/nanobind.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace aboto3 {

namespace nb = nanobind;

// One finished piece of work. resolve() runs on the loop thread with the GIL.
class Completion {
public:
    virtual ~Completion() = default;
    virtual void resolve() = 0;
};

// A Python outcome for an asyncio.Future: a value or an exception instance.
// Built and destroyed only while the GIL is held.
class FutureOutcome final : public Completion {
public:
    FutureOutcome(nb::object future, nb::object value, bool failed)
        : future_(std::move(future)), value_(std::move(value)), failed_(failed) {}
    void resolve() override;

private:
    nb::object future_;
    nb::object value_;
    bool failed_;
};

// Sets an asyncio.Future unless its task was cancelled meanwhile; the
// discarded outcome of a cancelled call is dropped quietly.
void settle_future(const nb::handle& future, const nb::handle& value, bool failed);

class CompletionQueue {
public:
    CompletionQueue();
    ~CompletionQueue();
    CompletionQueue(const CompletionQueue&) = delete;
    CompletionQueue& operator=(const CompletionQueue&) = delete;

    // Any thread, with or without the GIL. Wakes the loop only when the queue
    // goes from empty to non-empty, so a burst of completions costs one wake-up.
    void push(std::unique_ptr<Completion> completion);

    // Loop thread, GIL held: resolves everything queued so far in one pass.
    std::size_t drain();

    int fd() const { return wakeup_.fd(); }
    std::size_t signals() const { return signals_.load(std::memory_order_relaxed); }

private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<Completion>> pending_;
    std::vector<std::unique_ptr<Completion>> draining_;
    Wakeup wakeup_;
    std::atomic<std::size_t> signals_{0};  // wake-ups: one per batch
};

// Passed across threads: whoever drops the last reference may not hold the
// GIL, so the queue's destructor takes care of that itself.
using CompletionQueuePtr = std::shared_ptr<CompletionQueue>;

// The Python face of a completion queue (aboto3._core.CompletionBridge); C++
// threads share the queue itself.
struct CompletionBridge {
    CompletionQueuePtr queue = std::make_shared<CompletionQueue>();
};

}  // namespace aboto3
