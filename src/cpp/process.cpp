#include "process.h"

#include <pthread.h>
#include <unistd.h>

#include <mutex>

namespace aboto3 {

namespace {

std::atomic<unsigned> generation{0};

}  // namespace

unsigned fork_generation() {
    static std::once_flag once;
    std::call_once(once, [] {
        pthread_atfork(nullptr, nullptr, [] { generation.fetch_add(1); });
    });
    return generation.load(std::memory_order_relaxed);
}

void name_this_thread(const char* name) {
    // Best effort: a name is only a label, and each platform spells it differently.
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name);
#elif defined(__APPLE__)
    pthread_setname_np(name);
#else
    (void)name;
#endif
}

void restore_thread(PyThreadState* tstate) {
    if (!interpreter_alive()) {
        for (;;) pause();
    }
    PyEval_RestoreThread(tstate);
}

}  // namespace aboto3
