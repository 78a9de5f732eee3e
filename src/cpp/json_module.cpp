// Python binding for the JSON reader: json.loads in C++, for tests and for
// loading botocore's models.
#include "json_python.h"

#include <nanobind/nanobind.h>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {

void bind_json(nb::module_& m) {
    m.def("json_loads",
        [](nb::bytes data, nb::handle mapping_type, nb::handle pause) -> nb::object {
            json::Reader reader(static_cast<const char*>(data.data()), data.size());
            json::KeyCache keys;
            json::ValueOptions options;
            options.mapping_type = mapping_type.is_none() ? nullptr : mapping_type.ptr();
            json::Pacer pacer;
            if (!pause.is_none()) {
                pacer = json::Pacer([pause] { nb::borrow(pause)(); }, 3'000'000);
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
        "json.loads(data.decode('utf-8')) for JSON bytes, each object made by calling "
        "mapping_type() and setting its items (as object_pairs_hook=mapping_type does) "
        "when it is given, pause() called every 3 ms of work when given. Raises "
        "ValueError where json.loads raises one (UnicodeDecodeError included); returns "
        "NotImplemented where the reader does not vouch for the input (nested over 512 "
        "deep, an integer of over 600 digits): json.loads decides those.");
}

}  // namespace aboto3
