// Python bindings for the response parsers.
#include "parsers_rest.h"

#include <nanobind/nanobind.h>

#include <cstdint>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {

namespace {

struct Counters {
    std::uint64_t parsed = 0;    // responses the C++ parsers answered
    std::uint64_t declined = 0;  // responses they left to botocore
};
Counters counters;  // changed under the GIL only

nb::object not_implemented() { return nb::borrow(Py_NotImplemented); }

}  // namespace

void bind_parsers(nb::module_& m) {
    using namespace parsers;

    nb::class_<ParsePlan>(m, "ParsePlan",
        "A botocore Shape compiled for one protocol family (aboto3._parsers builds it).")
        .def(nb::init<nb::list, std::size_t>(), "nodes"_a, "root"_a)
        .def_prop_ro("size", &ParsePlan::size, "How many shapes it describes.");

    m.def("configure_parsers",
        [](nb::object parse_timestamp, nb::object default_blob_parser, nb::object tzutc,
           bool sparse_lists) {
            Botocore& facts = botocore();
            facts.parse_timestamp = std::move(parse_timestamp);
            facts.default_blob_parser = std::move(default_blob_parser);
            facts.tzutc = std::move(tzutc);
            facts.sparse_lists = sparse_lists;
            names();
        },
        "parse_timestamp"_a, "default_blob_parser"_a, "tzutc"_a, "sparse_lists"_a,
        "What the response parsers need to know about the installed botocore.");

    m.def("parse_response",
        [](int protocol, const ParsePlan* plan, nb::handle response, nb::handle parser,
           bool modeled_error, nb::handle tz_utc, nb::handle tz_local, bool local_is_utc,
           nb::handle pause) -> nb::object {
            if (protocol < 0 || protocol > static_cast<int>(Protocol::RpcV2Cbor)) {
                throw nb::value_error("parse_response: unknown protocol");
            }
            if (!PyDict_Check(response.ptr())) {
                ++counters.declined;
                return not_implemented();
            }
            try {
                Env env(parser, tz_utc, tz_local, local_is_utc, pause);
                nb::object parsed;
                switch (static_cast<Protocol>(protocol)) {
                    case Protocol::Json:
                        parsed = parse_json_family(plan, response, env, false, modeled_error);
                        break;
                    case Protocol::RestJson:
                        parsed = parse_json_family(plan, response, env, true, modeled_error);
                        break;
                    case Protocol::RestXml:
                    case Protocol::Query:
                    case Protocol::Ec2:
                        parsed = parse_xml_family(plan, response, env,
                                                  static_cast<Protocol>(protocol), modeled_error);
                        break;
                    case Protocol::RpcV2Cbor:
                        parsed = parse_cbor(plan, response, env, modeled_error);
                        break;
                }
                ++counters.parsed;
                env.pacer.finish();  // botocore's work after the parse starts a slice of its own
                return parsed;
            } catch (const Decline&) {
                ++counters.declined;
                return not_implemented();
            } catch (const json::Error&) {
                ++counters.declined;
                return not_implemented();
            }
        },
        "protocol"_a, "plan"_a.none(), "response"_a, "parser"_a, "modeled_error"_a,
        "tz_utc"_a.none(), "tz_local"_a.none(), "local_is_utc"_a, "pause"_a.none(),
        "botocore's _do_parse (or _do_modeled_error_parse) for one response, or "
        "NotImplemented when botocore's parser must parse it.");

    m.def("xml_root_tag",
        [](nb::bytes body) {
            return xml_root_tag(static_cast<const char*>(body.data()), body.size());
        },
        "body"_a,
        "The document element's tag as ElementTree names it ('{uri}local' or 'local'), "
        "None where ElementTree's parser would raise, NotImplemented where only "
        "ElementTree can say (a DTD).");

    m.def("parser_counters",
        [] {
            nb::dict result;
            result["parsed"] = counters.parsed;
            result["declined"] = counters.declined;
            return result;
        },
        "How many responses the C++ parsers answered and left to botocore in this process.");
}

}  // namespace aboto3
