// Small shims over CPython API differences between the versions we support.
#pragma once

#include <Python.h>

namespace aboto3 {

// True while it is still safe to take the GIL from a foreign thread.
inline bool interpreter_alive() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsInitialized() && !Py_IsFinalizing();
#else
    return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

}  // namespace aboto3
