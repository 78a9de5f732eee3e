// Python bindings for the engine, and nothing else.
#include "completion_queue.h"
#include "process.h"
#include "sigv4.h"
#include "thread_pool.h"
#include "wakeup.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {

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

// ---- SigV4 signer ---------------------------------------------------------

// A str argument as UTF-8, or nothing when it is not a str (or not encodable).
std::optional<std::string_view> utf8_of(nb::handle value) {
    if (!PyUnicode_Check(value.ptr())) {
        return std::nullopt;
    }
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
    if (data == nullptr) {
        PyErr_Clear();
        return std::nullopt;
    }
    return std::string_view(data, static_cast<std::size_t>(size));
}

// botocore trims header values with str.split(), whose idea of whitespace
// goes beyond ASCII: a non-ASCII value is trimmed by Python itself.
std::optional<std::string> header_value(nb::handle value) {
    if (PyUnicode_Check(value.ptr()) && !PyUnicode_IS_ASCII(value.ptr())) {
        nb::object words = nb::steal(PyUnicode_Split(value.ptr(), nullptr, -1));
        nb::object joined;
        if (words.is_valid()) {
            joined = nb::steal(PyUnicode_Join(nb::str(" ").ptr(), words.ptr()));
        }
        if (!joined.is_valid()) {
            PyErr_Clear();
            return std::nullopt;
        }
        std::optional<std::string_view> text = utf8_of(joined);
        return text ? std::optional<std::string>(std::string(*text)) : std::nullopt;
    }
    std::optional<std::string_view> text = utf8_of(value);
    return text ? std::optional<std::string>(std::string(*text)) : std::nullopt;
}

// SigV4Signer.authorization: the Authorization value, or None for a request
// this signer leaves to botocore (a non-str part, an unusual URL or name).
nb::object sigv4_authorization(SigV4Signer& signer, nb::handle method, nb::handle url,
                               nb::handle canonical_query, nb::handle headers,
                               nb::handle payload_hash, nb::handle access_key,
                               nb::handle secret_key, nb::handle timestamp, nb::handle region,
                               nb::handle service, bool normalize_path) {
    SigningInput input;
    input.normalize_path = normalize_path;
    std::pair<nb::handle, std::string_view*> texts[] = {
        {method, &input.method},         {url, &input.url},
        {payload_hash, &input.payload_hash}, {access_key, &input.access_key},
        {secret_key, &input.secret_key}, {timestamp, &input.timestamp},
        {region, &input.region},         {service, &input.service}};
    for (auto& [value, target] : texts) {
        std::optional<std::string_view> text = utf8_of(value);
        if (!text) {
            return nb::none();
        }
        *target = *text;
    }
    if (!canonical_query.is_none()) {
        input.canonical_query = utf8_of(canonical_query);
        if (!input.canonical_query) {
            return nb::none();
        }
    }
    nb::object items = nb::steal(PySequence_Fast(headers.ptr(), "headers must be a sequence"));
    if (!items.is_valid()) {
        throw nb::python_error();
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items.ptr());
    PyObject** item = PySequence_Fast_ITEMS(items.ptr());
    input.headers.reserve(static_cast<std::size_t>(count));
    for (Py_ssize_t i = 0; i < count; ++i) {
        if (!PyTuple_Check(item[i]) || PyTuple_GET_SIZE(item[i]) != 2) {
            return nb::none();
        }
        std::optional<std::string_view> name = utf8_of(PyTuple_GET_ITEM(item[i], 0));
        std::optional<std::string> value = header_value(PyTuple_GET_ITEM(item[i], 1));
        if (!name || !value) {
            return nb::none();
        }
        input.headers.push_back({std::string(*name), std::move(*value)});
    }
    std::optional<std::string> authorization = signer.authorization(input);
    if (!authorization) {
        return nb::none();
    }
    return nb::str(authorization->data(), authorization->size());
}

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

    nb::class_<SigV4Signer>(m, "SigV4Signer",
        "AWS Signature Version 4 in headers, as botocore's SigV4Auth/S3SigV4Auth sign.")
        .def(nb::init<std::vector<std::string>>(), "unsigned_headers"_a,
            "unsigned_headers: lowercase header names SigV4 leaves out.")
        .def("authorization", &sigv4_authorization, "method"_a, "url"_a,
            "canonical_query"_a.none(), "headers"_a, "payload_hash"_a, "access_key"_a,
            "secret_key"_a, "timestamp"_a, "region"_a, "service"_a, "normalize_path"_a,
            "The Authorization header value, or None for a request botocore must sign.");
    m.def("sha256_hex",
        [](nb::bytes data) {
            const std::string hex = to_hex(sha256(std::string_view(data.c_str(), data.size())));
            return nb::str(hex.data(), hex.size());
        },
        "data"_a, "hashlib.sha256(data).hexdigest(), without hashlib's per-call set-up.");

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
