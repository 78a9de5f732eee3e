#include "parsers_rest.h"

namespace aboto3 {
namespace parsers {

namespace {

nb::object new_dict() {
    PyObject* dict = PyDict_New();
    if (dict == nullptr) throw nb::python_error();
    return nb::steal(dict);
}

// BaseRestParser._populate_response_metadata
nb::object response_metadata(nb::handle headers) {
    const Names& n = names();
    nb::object metadata = new_dict();
    if (mapping_has(headers, n.x_amzn_requestid)) {
        set_item(metadata, n.request_id, mapping_get(headers, n.x_amzn_requestid));
    } else if (mapping_has(headers, n.x_amz_request_id)) {
        set_item(metadata, n.request_id, mapping_get(headers, n.x_amz_request_id));
        PyObject* host = PyObject_CallMethod(headers.ptr(), "get", "OO", n.x_amz_id_2.ptr(),
                                             n.empty.ptr());
        if (host == nullptr) {
            PyErr_Clear();
            throw Decline{};
        }
        set_item(metadata, n.host_id, nb::steal(host));
    }
    return metadata;
}

// BaseRestParser._parse_header_map: every header whose lower-cased name
// starts with the (lower-cased) prefix, under its name less the prefix.
nb::object header_map(const Member& member, nb::handle headers) {
    nb::object parsed = new_dict();
    PyObject* prefix = member.location_name.ptr();
    Py_ssize_t prefix_length = PyUnicode_GetLength(prefix);
    nb::object iterator = nb::steal(PyObject_GetIter(headers.ptr()));
    if (!iterator.is_valid()) {
        PyErr_Clear();
        throw Decline{};
    }
    while (PyObject* raw = PyIter_Next(iterator.ptr())) {
        nb::object name = nb::steal(raw);
        if (!PyUnicode_Check(raw)) throw Decline{};
        nb::object lower = nb::steal(PyObject_CallMethod(raw, "lower", nullptr));
        if (!lower.is_valid()) throw nb::python_error();
        Py_ssize_t match = PyUnicode_Tailmatch(lower.ptr(), prefix, 0, PY_SSIZE_T_MAX, -1);
        if (match < 0) throw nb::python_error();
        if (match == 1) {
            nb::object key = nb::steal(PyUnicode_Substring(raw, prefix_length, PY_SSIZE_T_MAX));
            if (!key.is_valid()) throw nb::python_error();
            set_item(parsed, key, mapping_get(headers, name));
        }
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
        throw Decline{};
    }
    return parsed;
}

bool small_int(nb::handle value, long long& out) {
    if (!PyUnicode_Check(value.ptr()) || !PyUnicode_IS_ASCII(value.ptr())) return false;
    Py_ssize_t size = PyUnicode_GET_LENGTH(value.ptr());
    const char* text = static_cast<const char*>(PyUnicode_DATA(value.ptr()));
    Py_ssize_t i = 0;
    bool negative = false;
    if (size > 0 && text[0] == '-') {
        negative = true;
        i = 1;
    }
    if (size - i < 1 || size - i > 18) return false;
    long long result = 0;
    for (; i < size; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        result = result * 10 + (text[i] - '0');
    }
    out = negative ? -result : result;
    return true;
}

}  // namespace

nb::object header_value(const Node& node, nb::handle value, Env& env) {
    if (PyUnicode_Check(value.ptr())) {
        switch (node.kind) {
            case Kind::String:
                if ((node.flags & kJsonValue) == 0) return nb::borrow(value);
                break;
            case Kind::Integer: {
                long long number = 0;
                if (small_int(value, number)) {
                    PyObject* made = PyLong_FromLongLong(number);
                    if (made == nullptr) throw nb::python_error();
                    return nb::steal(made);
                }
                break;
            }
            case Kind::Timestamp: {
                Py_ssize_t size = 0;
                const char* text = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
                if (text == nullptr) {
                    PyErr_Clear();
                    break;
                }
                return env.timestamp(node, std::string_view(text, static_cast<std::size_t>(size)),
                                     value);
            }
            default:
                break;
        }
    }
    return env.handler(node, value);
}

nb::object parse_rest(const ParsePlan* plan, nb::handle response, Env& env, BodyParser& body,
                      bool modeled_error) {
    const Names& n = names();
    nb::object headers = mapping_get(response, n.headers);
    nb::object parsed = new_dict();
    if (!modeled_error) {
        set_item(parsed, n.response_metadata, response_metadata(headers));
    }
    if (plan == nullptr) {
        return parsed;
    }
    const Node& shape = plan->root();
    // _parse_non_payload_attrs, in member order.
    for (const Member& member : shape.members) {
        switch (member.location) {
            case Location::StatusCode:
                set_item(parsed, member.name, env.handler(*member.node, mapping_get(response, n.status_code)));
                break;
            case Location::Headers:
                set_item(parsed, member.name, header_map(member, headers));
                break;
            case Location::Header:
                if (mapping_has(headers, member.location_name)) {
                    set_item(parsed, member.name,
                             header_value(*member.node, mapping_get(headers, member.location_name), env));
                }
                break;
            default:
                break;
        }
    }
    // _parse_payload
    if (shape.payload >= 0) {
        const Member& member = shape.members[static_cast<std::size_t>(shape.payload)];
        const Node& payload = *member.node;
        if (payload.flags & kEventStream) throw Decline{};
        if (payload.kind == Kind::String || payload.kind == Kind::Blob) {
            nb::object raw = mapping_get(response, n.body);
            if (PyBytes_Check(raw.ptr())) {
                PyObject* text = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(raw.ptr()),
                                                      PyBytes_GET_SIZE(raw.ptr()), nullptr);
                if (text == nullptr) {
                    PyErr_Clear();
                    throw Decline{};
                }
                raw = nb::steal(text);
            }
            set_item(parsed, member.name, raw);
        } else {
            set_item(parsed, member.name, body.parse(payload));
        }
        return parsed;
    }
    nb::object from_body = body.parse(shape);
    if (!PyDict_Check(from_body.ptr())) throw Decline{};
    if (PyDict_Update(parsed.ptr(), from_body.ptr()) != 0) throw nb::python_error();
    return parsed;
}

}  // namespace parsers
}  // namespace aboto3
