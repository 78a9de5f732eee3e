#include "completion_queue.h"

#include "process.h"


namespace aboto3 {

namespace {

// Method names looked up once; interned so attribute lookups hit the fast path.
struct FutureMethods {
    nb::object done = nb::steal(PyUnicode_InternFromString("done"));
    nb::object set_result = nb::steal(PyUnicode_InternFromString("set_result"));
    nb::object set_exception = nb::steal(PyUnicode_InternFromString("set_exception"));
};

FutureMethods& future_methods() {
    // Leaked on purpose: it must outlive every queue, even during finalization.
    static FutureMethods* methods = std::make_unique<FutureMethods>().release();
    return *methods;
}

}  // namespace

void settle_future(const nb::handle& future, const nb::handle& value, bool failed) {
    FutureMethods& m = future_methods();
    PyObject* done = PyObject_CallMethodNoArgs(future.ptr(), m.done.ptr());
    if (done == nullptr) {
        PyErr_WriteUnraisable(future.ptr());
        return;
    }
    const bool already_done = (done == Py_True);
    Py_DECREF(done);
    if (already_done) {
        return;
    }
    PyObject* setter = failed ? m.set_exception.ptr() : m.set_result.ptr();
    PyObject* out = PyObject_CallMethodOneArg(future.ptr(), setter, value.ptr());
    if (out == nullptr) {
        // The future refused the outcome (e.g. StopIteration, which a Future
        // cannot hold): fail it with the reason rather than leave it pending.
        PyObject *type, *reason, *tb;
        PyErr_Fetch(&type, &reason, &tb);
        PyErr_NormalizeException(&type, &reason, &tb);
        if (tb != nullptr) PyException_SetTraceback(reason, tb);
        out = PyObject_CallMethodOneArg(future.ptr(), m.set_exception.ptr(), reason);
        Py_XDECREF(type);
        Py_XDECREF(reason);
        Py_XDECREF(tb);
        if (out == nullptr) {
            PyErr_WriteUnraisable(future.ptr());
            return;
        }
    }
    Py_DECREF(out);
}

void FutureOutcome::resolve() { settle_future(future_, value_, failed_); }

CompletionQueue::CompletionQueue() = default;

CompletionQueue::~CompletionQueue() {
    if (pending_.empty() && draining_.empty()) {
        return;
    }
    // Completions hold Python references; drop them under the GIL, or leak
    // them if the interpreter is already gone.
    if (interpreter_alive()) {
        PyGILState_STATE gil = PyGILState_Ensure();
        pending_.clear();
        draining_.clear();
        PyGILState_Release(gil);
    } else {
        for (auto& c : pending_) (void)c.release();
        for (auto& c : draining_) (void)c.release();
    }
}

void CompletionQueue::push(std::unique_ptr<Completion> completion) {
    bool was_empty;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        was_empty = pending_.empty();
        pending_.push_back(std::move(completion));
    }
    if (was_empty) {
        signals_.fetch_add(1, std::memory_order_relaxed);
        wakeup_.notify();
    }
}

std::size_t CompletionQueue::drain() {
    // Reset the wake-up before taking the batch: a push that lands after the
    // swap finds the queue empty and signals again, so nothing is missed.
    wakeup_.clear();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        draining_.swap(pending_);
    }
    const std::size_t n = draining_.size();
    // resolve() may run Python code that pushes again; it goes to pending_.
    for (auto& completion : draining_) {
        completion->resolve();
        completion.reset();
    }
    draining_.clear();
    return n;
}

}  // namespace aboto3
