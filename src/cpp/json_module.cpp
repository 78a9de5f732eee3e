// Python binding for the JSON reader: json.loads in C++, for tests and for
// loading botocore's models.
#include "json_python.h"

#include <nanobind/nanobind.h>

#include <chrono>
#include <thread>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {

namespace {

// Lets a thread waiting for the GIL (an event loop's) take it. Releasing and
// at once re-taking it is not enough: the release wakes the waiter, which
// finds the GIL taken again and restarts the 5 ms wait after which it may ask
// for it, so releases every few ms would starve it for the whole parse. A
// woken thread runs well within 100 us.
void share_gil() {
    nb::gil_scoped_release released;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
}

}  // namespace

void bind_json(nb::module_& m) {
    m.def("json_loads",
        [](nb::bytes data, nb::handle mapping_type, nb::handle pause, bool share) -> nb::object {
            json::Reader reader(static_cast<const char*>(data.data()), data.size());
            json::KeyCache keys;
            json::ValueOptions options;
            options.mapping_type = mapping_type.is_none() ? nullptr : mapping_type.ptr();
            json::Pacer pacer;
            if (!pause.is_none() || share) {
                pacer = json::Pacer(
                    [pause, share] {
                        if (!pause.is_none()) {
                            nb::borrow(pause)();
                        }
                        if (share) {
                            share_gil();
                        }
                    },
                    3'000'000);
                options.pacer = &pacer;
            }
            try {
                nb::object value = json::read_value(reader, keys, options);
                reader.finish();
                return value;
            } catch (const json::Error& error) {
                if (error.kind() == json::Error::Kind::Limit) {
                    return nb::borrow(Py_NotImplemented);
                }
                throw nb::value_error(error.what());
            }
        },
        "data"_a, "mapping_type"_a.none() = nb::none(), "pause"_a.none() = nb::none(),
        "share_gil"_a = false,
        "json.loads(data.decode('utf-8')) for JSON bytes, each object made by calling "
        "mapping_type() and setting its items (as object_pairs_hook=mapping_type does) "
        "when it is given, pause() called every 3 ms of work when given, and with "
        "share_gil=True the GIL given up for 0.1 ms every 3 ms of work, so that a thread "
        "waiting for it (an event loop's) runs during a long parse. Raises "
        "ValueError where json.loads raises one (UnicodeDecodeError included); returns "
        "NotImplemented where the reader does not vouch for the input (nested over 512 "
        "deep, an integer of over 600 digits): json.loads decides those.");
}

}  // namespace aboto3
