// Python bindings for the engine, and nothing else.
#include "completion_queue.h"
#include "process.h"
#include "thread_pool.h"
#include "wakeup.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {

// sigv4_module.cpp: the SigV4 signer's bindings.
void bind_sigv4(nb::module_& m);
// json_module.cpp: the JSON reader (json_loads).
void bind_json(nb::module_& m);
// parsers_module.cpp: botocore's response parsers.
void bind_parsers(nb::module_& m);
// serialize_module.cpp: botocore's JSON request bodies (JsonBodyPlan).
void bind_serializers(nb::module_& m);

#ifdef ABOTO3_NATIVE_ENGINE
// native_module.cpp: the libcurl engine's bindings, built only with libcurl.
void bind_native_engine(nb::module_& m);
const char* native_io_backend();
#endif

namespace {

// Settles an asyncio.Future from a concurrent.futures.Future that a
// user-supplied executor finished; runs on the loop thread in drain().
class ConcurrentOutcome final : public Completion {
public:
    ConcurrentOutcome(nb::object future, nb::object concurrent)
        : future_(std::move(future)), concurrent_(std::move(concurrent)) {}

    void resolve() override {
        try {
            if (nb::cast<bool>(future_.attr("done")())) {
                return;
            }
            if (nb::cast<bool>(concurrent_.attr("cancelled")())) {
                future_.attr("cancel")();
                return;
            }
            nb::object error = concurrent_.attr("exception")();
            if (!error.is_none()) {
                settle_future(future_, error, true);
            } else {
                settle_future(future_, concurrent_.attr("result")(), false);
            }
        } catch (nb::python_error& e) {
            e.restore();
            PyErr_WriteUnraisable(future_.ptr());
        } catch (std::exception& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
            PyErr_WriteUnraisable(future_.ptr());
        }
    }

private:
    nb::object future_;
    nb::object concurrent_;
};

std::map<std::string, std::string> build_features() {
    std::map<std::string, std::string> features;
    features["wakeup"] = Wakeup::kind();
#ifdef ABOTO3_NATIVE_ENGINE
    features["native_io"] = native_io_backend();
#else
    features["native_io"] = "";
#endif
    return features;
}

}  // namespace
}  // namespace aboto3

NB_MODULE(_core, m) {
    using namespace aboto3;
    m.doc() = "aboto3's C++ engine: worker pool, completion bridge and (with libcurl) HTTP transport.";
    // Clients kept in globals are still alive when the interpreter exits;
    // that is normal use, not a reference leak worth a warning.
    nb::set_leak_warnings(false);
    fork_generation();  // installs the fork handler before any thread exists

    bind_sigv4(m);
    bind_json(m);
    bind_parsers(m);
    bind_serializers(m);

    nb::class_<CompletionBridge>(m, "CompletionBridge",
        "Delivers finished calls to one event loop: one wake-up per batch.")
        .def(nb::init<>())
        .def_prop_ro("fd", [](const CompletionBridge& b) { return b.queue->fd(); },
            "The descriptor the event loop watches with add_reader().")
        .def_prop_ro("signals", [](const CompletionBridge& b) { return b.queue->signals(); },
            "How many times the loop was signalled: once per batch of completions.")
        .def("drain", [](CompletionBridge& b) { return b.queue->drain(); },
            "Settle every finished call queued so far; returns how many.")
        .def("push_concurrent",
            [](CompletionBridge& b, nb::object future, nb::object concurrent) {
                b.queue->push(std::make_unique<ConcurrentOutcome>(std::move(future),
                                                                  std::move(concurrent)));
            },
            "future"_a, "concurrent_future"_a,
            "Done-callback target for a concurrent.futures.Future; any thread.");

    nb::class_<ThreadPool>(m, "ThreadPool",
        "Native worker threads that run synchronous callables for the event loop.")
        .def(nb::init<std::size_t>(), "max_workers"_a)
        .def("submit",
            [](ThreadPool& pool, CompletionBridge& bridge, nb::object future, nb::object context,
               nb::object fn, nb::tuple args, nb::object kwargs) {
                pool.submit(bridge.queue, std::move(future), std::move(context), std::move(fn),
                            std::move(args), std::move(kwargs));
            },
            "bridge"_a, "future"_a, "context"_a, "fn"_a, "args"_a, "kwargs"_a.none())
        .def("shutdown", &ThreadPool::shutdown, "wait"_a = true)
        .def("shutdown_notify",
            [](ThreadPool& pool, CompletionBridge& bridge, nb::object future) {
                pool.shutdown_notify(bridge.queue, std::move(future));
            },
            "bridge"_a, "future"_a)
        .def_prop_ro("max_workers", &ThreadPool::max_workers)
        .def_prop_ro("thread_count", &ThreadPool::thread_count);

    m.def("shutdown_all_pools", &ThreadPool::shutdown_all,
          "Stop every pool and wait for its workers; run at interpreter exit.");

#ifdef ABOTO3_NATIVE_ENGINE
    bind_native_engine(m);
#endif
    m.def("build_features", &build_features,
          "What this build of the extension has: wakeup (eventfd or pipe) and native_io "
          "(epoll, poll, or '' when built without libcurl).");
}
