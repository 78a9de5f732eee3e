// Process-level facts the engine's threads depend on: whether the
// interpreter can still be entered, and which side of a fork() this is.
#pragma once

#include <Python.h>

#include <atomic>

namespace aboto3 {

// True while it is still safe to take the GIL from a foreign thread.
inline bool interpreter_alive() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsInitialized() && !Py_IsFinalizing();
#else
    return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

// Bumped in a forked child: state made before the fork (threads, sockets,
// counts of work in flight) belongs to the parent and must not be reused.
unsigned fork_generation();

// Takes the GIL back after a blocking wait. If the interpreter is finalizing,
// taking it would make CPython end this thread with a forced unwind through
// C++ frames; park the thread instead, as CPython 3.14 does for daemon threads.
void restore_thread(PyThreadState* tstate);

// Names the calling thread as ps, top and /proc/<pid>/task/*/comm show it
// (at most 15 characters): "aboto3-worker" runs calls, "aboto3-grow" grows
// pools, "aboto3-io" drives libcurl; the last two start once per process.
void name_this_thread(const char* name);

}  // namespace aboto3
