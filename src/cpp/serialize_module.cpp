// Python binding for writing JSON request bodies: what botocore's
// JSONSerializer does with a request's parameters (_serialize builds dicts
// along the input shape, json.dumps writes them), done in one pass that
// writes the text directly.
//
// The input shape arrives compiled (src/aboto3/_serializers.py compiles it
// once per shape): a table of nodes, one per shape, saying which of
// botocore's _serialize_type_* methods handles it. A write either produces
// exactly the bytes botocore would, or declines (returns None) and botocore's
// serializer handles the call: for any value botocore would treat in a way
// the writer does not reproduce (a type it does not expect, None, a Decimal,
// NaN or infinity, a dict subclass with its own items(), nesting past
// kMaxDepth), and for any Python error along the way, which botocore then
// raises itself.
#include "json_writer.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <Python.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {
namespace {

// Which of botocore's _serialize_type_* methods a shape goes to (Scalar is
// _default_serialize: the value as json.dumps writes it).
enum class Kind { Structure, Map, List, Scalar, Float, Blob, Timestamp, Document, Decline };

// Deeper than this, botocore decides (Python's json raises RecursionError
// somewhere near its recursion limit; DynamoDB allows 32 levels).
constexpr int kMaxDepth = 100;

struct Member {
    std::string key;  // the member's serialized name and ": ", as JSON text
    std::size_t node;
};

struct Node {
    Kind kind = Kind::Decline;
    std::size_t child = 0;    // List: its member's node; Map: its value's node
    nb::object member_index;  // Structure: dict of parameter name -> index into members
    std::vector<Member> members;
    nb::object timestamp_format;  // Timestamp: the shape's timestampFormat, or None
};

// A Python error is set: an ordinary exception means "let botocore do it" (and
// raise it); KeyboardInterrupt and the like go on up.
bool declined_on_error() {
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        throw nb::python_error();
    }
    PyErr_Clear();
    return false;
}

// A str as json.dumps writes it.
bool write_str(json::Writer& out, PyObject* text) {
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return declined_on_error();
    }
#endif
    auto count = static_cast<std::size_t>(PyUnicode_GET_LENGTH(text));
    const void* data = PyUnicode_DATA(text);
    switch (PyUnicode_KIND(text)) {
        case PyUnicode_1BYTE_KIND:
            out.string(static_cast<const Py_UCS1*>(data), count);
            return true;
        case PyUnicode_2BYTE_KIND:
            out.string(static_cast<const Py_UCS2*>(data), count);
            return true;
        default:
            out.string(static_cast<const Py_UCS4*>(data), count);
            return true;
    }
}

std::string key_text(nb::handle name) {
    if (!PyUnicode_Check(name.ptr())) {
        throw nb::value_error("a member's serialized name must be a str");
    }
    json::Writer out(64);
    if (!write_str(out, name.ptr())) {
        throw nb::value_error("a member's serialized name cannot be written");
    }
    out.raw(": ");
    return out.text();
}

class BodyWriter {
public:
    BodyWriter(const std::vector<Node>& nodes, PyObject* serializer, PyObject* convert_name)
        : nodes_(nodes), serializer_(serializer), convert_name_(convert_name) {}

    bool value(std::size_t index, PyObject* value, int depth) {
        const Node& node = nodes_[index];
        // botocore writes a None as null where json.dumps gets it unchanged
        // (a document); elsewhere it fails, or differs between versions.
        if (value == Py_None && node.kind != Kind::Document) {
            return false;
        }
        switch (node.kind) {
            case Kind::Structure: return structure(node, value, depth);
            case Kind::Map: return map(node, value, depth);
            case Kind::List: return list(node, value, depth);
            case Kind::Scalar: return scalar(value);
            case Kind::Float: return floating(value);
            case Kind::Blob: return blob(value);
            case Kind::Timestamp: return timestamp(node, value);
            case Kind::Document: return document(value, depth);
            case Kind::Decline: return false;
        }
        return false;
    }

    json::Writer out;

private:
    // botocore: a new dict, each given member under its serialized name, in
    // the order of the parameters.
    bool structure(const Node& node, PyObject* value, int depth) {
        if (!PyDict_CheckExact(value) || depth > kMaxDepth) {
            return false;
        }
        out.raw('{');
        Py_ssize_t position = 0;
        PyObject* key = nullptr;
        PyObject* item = nullptr;
        bool first = true;
        while (PyDict_Next(value, &position, &key, &item)) {
            PyObject* index = PyDict_GetItemWithError(node.member_index.ptr(), key);
            if (index == nullptr) {  // not a member: botocore raises KeyError
                return PyErr_Occurred() ? declined_on_error() : false;
            }
            const Member& member = node.members[PyLong_AsSize_t(index)];
            if (!first) {
                out.raw(", ");
            }
            first = false;
            out.raw(member.key);
            nb::object held = nb::borrow(item);  // a timestamp's conversion runs Python code
            if (!this->value(member.node, item, depth + 1)) {
                return false;
            }
        }
        out.raw('}');
        return true;
    }

    // botocore: a new dict with the same keys.
    bool map(const Node& node, PyObject* value, int depth) {
        if (!PyDict_CheckExact(value) || depth > kMaxDepth) {
            return false;
        }
        out.raw('{');
        Py_ssize_t position = 0;
        PyObject* key = nullptr;
        PyObject* item = nullptr;
        bool first = true;
        while (PyDict_Next(value, &position, &key, &item)) {
            if (!PyUnicode_Check(key)) {
                return false;
            }
            if (!first) {
                out.raw(", ");
            }
            first = false;
            nb::object held_key = nb::borrow(key);
            nb::object held = nb::borrow(item);
            if (!write_str(out, key)) {
                return false;
            }
            out.raw(": ");
            if (!this->value(node.child, item, depth + 1)) {
                return false;
            }
        }
        out.raw('}');
        return true;
    }

    bool list(const Node& node, PyObject* value, int depth) {
        bool is_list = PyList_CheckExact(value);
        if ((!is_list && !PyTuple_CheckExact(value)) || depth > kMaxDepth) {
            return false;
        }
        out.raw('[');
        // The size is read each time: Python code run for an item could change a list.
        for (Py_ssize_t i = 0; i < (is_list ? PyList_GET_SIZE(value) : PyTuple_GET_SIZE(value));
             ++i) {
            PyObject* item = is_list ? PyList_GET_ITEM(value, i) : PyTuple_GET_ITEM(value, i);
            if (i != 0) {
                out.raw(", ");
            }
            nb::object held = nb::borrow(item);
            if (!this->value(node.child, item, depth + 1)) {
                return false;
            }
        }
        out.raw(']');
        return true;
    }

    // What json.dumps writes for a str, bool, int or float; anything else declines.
    bool scalar(PyObject* value) {
        if (PyUnicode_Check(value)) {
            return write_str(out, value);
        }
        if (value == Py_True) {
            out.raw("true");
            return true;
        }
        if (value == Py_False) {
            out.raw("false");
            return true;
        }
        if (PyLong_Check(value)) {
            return integer(value);
        }
        if (PyFloat_CheckExact(value)) {
            return finite_float(value);
        }
        return false;
    }

    bool integer(PyObject* value) {
        int overflow = 0;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow == 0) {
            if (number == -1 && PyErr_Occurred()) {
                return declined_on_error();
            }
            out.integer(number);
            return true;
        }
        // What json.dumps writes: int.__repr__, which refuses past
        // sys.get_int_max_str_digits() (botocore then raises that ValueError).
        nb::object digits = nb::steal(PyLong_Type.tp_repr(value));
        if (!digits.is_valid()) {
            return declined_on_error();
        }
        return append_ascii(digits.ptr());
    }

    // json.dumps writes float.__repr__; NaN and infinities are the version's
    // business (botocore >= 1.33 writes them as strings for float members).
    bool finite_float(PyObject* value) {
        double number = PyFloat_AS_DOUBLE(value);
        if (!std::isfinite(number)) {
            return false;
        }
        char* repr = PyOS_double_to_string(number, 'r', 0, Py_DTSF_ADD_DOT_0, nullptr);
        if (repr == nullptr) {
            return declined_on_error();
        }
        out.raw(repr);
        PyMem_Free(repr);
        return true;
    }

    // float and double members: a float as repr, an int (or bool) as it is.
    // A Decimal becomes a float in newer botocore and fails json.dumps in older.
    bool floating(PyObject* value) {
        if (PyFloat_CheckExact(value)) {
            return finite_float(value);
        }
        return PyLong_Check(value) && scalar(value);
    }

    // botocore's _get_base64: str as UTF-8, bytes as they are.
    bool blob(PyObject* value) {
        if (PyBytes_CheckExact(value)) {
            out.base64_string(reinterpret_cast<const unsigned char*>(PyBytes_AS_STRING(value)),
                              static_cast<std::size_t>(PyBytes_GET_SIZE(value)));
            return true;
        }
        if (PyByteArray_CheckExact(value)) {
            out.base64_string(reinterpret_cast<const unsigned char*>(PyByteArray_AS_STRING(value)),
                              static_cast<std::size_t>(PyByteArray_GET_SIZE(value)));
            return true;
        }
        if (PyUnicode_CheckExact(value)) {
            Py_ssize_t size = 0;
            const char* utf8 = PyUnicode_AsUTF8AndSize(value, &size);
            if (utf8 == nullptr) {  // a lone surrogate: botocore raises UnicodeEncodeError
                return declined_on_error();
            }
            out.base64_string(reinterpret_cast<const unsigned char*>(utf8),
                              static_cast<std::size_t>(size));
            return true;
        }
        return false;
    }

    // The conversion is botocore's own (_convert_timestamp_to_str): what it
    // accepts and how precise it is differ between versions and settings.
    bool timestamp(const Node& node, PyObject* value) {
        nb::object converted = nb::steal(PyObject_CallMethodObjArgs(
            serializer_, convert_name_, value, node.timestamp_format.ptr(), nullptr));
        if (!converted.is_valid()) {
            return declined_on_error();
        }
        return scalar(converted.ptr());
    }

    // A document member: the value itself, as json.dumps writes it.
    bool document(PyObject* value, int depth) {
        if (value == Py_None) {
            out.raw("null");
            return true;
        }
        if (PyDict_CheckExact(value)) {
            if (depth > kMaxDepth) {
                return false;
            }
            out.raw('{');
            Py_ssize_t position = 0;
            PyObject* key = nullptr;
            PyObject* item = nullptr;
            bool first = true;
            while (PyDict_Next(value, &position, &key, &item)) {
                if (!PyUnicode_Check(key)) {  // json.dumps turns some into strings, some not
                    return false;
                }
                if (!first) {
                    out.raw(", ");
                }
                first = false;
                nb::object held = nb::borrow(item);
                if (!write_str(out, key)) {
                    return false;
                }
                out.raw(": ");
                if (!document(item, depth + 1)) {
                    return false;
                }
            }
            out.raw('}');
            return true;
        }
        bool is_list = PyList_CheckExact(value);
        if (is_list || PyTuple_CheckExact(value)) {
            if (depth > kMaxDepth) {
                return false;
            }
            out.raw('[');
            for (Py_ssize_t i = 0;
                 i < (is_list ? PyList_GET_SIZE(value) : PyTuple_GET_SIZE(value)); ++i) {
                if (i != 0) {
                    out.raw(", ");
                }
                PyObject* item = is_list ? PyList_GET_ITEM(value, i) : PyTuple_GET_ITEM(value, i);
                nb::object held = nb::borrow(item);
                if (!document(item, depth + 1)) {
                    return false;
                }
            }
            out.raw(']');
            return true;
        }
        return scalar(value);
    }

    bool append_ascii(PyObject* text) {
        Py_ssize_t size = 0;
        const char* data = PyUnicode_AsUTF8AndSize(text, &size);
        if (data == nullptr) {
            return declined_on_error();
        }
        out.raw(std::string_view(data, static_cast<std::size_t>(size)));
        return true;
    }

    const std::vector<Node>& nodes_;
    PyObject* serializer_;
    PyObject* convert_name_;
};

Kind kind_named(const std::string& name) {
    static const std::pair<const char*, Kind> kinds[] = {
        {"structure", Kind::Structure}, {"map", Kind::Map},       {"list", Kind::List},
        {"scalar", Kind::Scalar},       {"float", Kind::Float},   {"blob", Kind::Blob},
        {"timestamp", Kind::Timestamp}, {"document", Kind::Document}, {"decline", Kind::Decline},
    };
    for (const auto& [text, kind] : kinds) {
        if (name == text) {
            return kind;
        }
    }
    throw nb::value_error(("unknown node kind: " + name).c_str());
}

class JsonBodyPlan {
public:
    explicit JsonBodyPlan(nb::list description)
        : convert_name_(nb::steal(PyUnicode_InternFromString("_convert_timestamp_to_str"))) {
        std::size_t count = nb::len(description);
        if (count == 0) {
            throw nb::value_error("a plan needs at least its root node");
        }
        auto child_index = [count](nb::handle index) {
            auto child = nb::cast<std::size_t>(index);
            if (child >= count) {
                throw nb::value_error("a node refers to a node the plan does not have");
            }
            return child;
        };
        nodes_.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            nb::tuple entry = nb::cast<nb::tuple>(description[i]);
            if (entry.size() == 0) {
                throw nb::value_error("an empty node");
            }
            Node& node = nodes_[i];
            node.kind = kind_named(nb::cast<std::string>(entry[0]));
            std::size_t arguments = node.kind == Kind::Structure || node.kind == Kind::Map ||
                                            node.kind == Kind::List || node.kind == Kind::Timestamp
                                        ? 2
                                        : 1;
            if (entry.size() != arguments) {
                throw nb::value_error("a node has the wrong number of fields");
            }
            switch (node.kind) {
                case Kind::Structure: {
                    nb::dict index;
                    for (nb::handle member : nb::cast<nb::list>(entry[1])) {
                        nb::tuple fields = nb::cast<nb::tuple>(member);
                        if (fields.size() != 3 || !PyUnicode_Check(fields[0].ptr())) {
                            throw nb::value_error("a member is (name, serialized name, node)");
                        }
                        index[fields[0]] = nb::int_(node.members.size());
                        node.members.push_back({key_text(fields[1]), child_index(fields[2])});
                    }
                    node.member_index = std::move(index);
                    break;
                }
                case Kind::Map:
                case Kind::List:
                    node.child = child_index(entry[1]);
                    break;
                case Kind::Timestamp:
                    node.timestamp_format = nb::borrow(entry[1]);
                    break;
                default:
                    break;
            }
        }
    }

    nb::object write(nb::handle params, nb::handle serializer) const {
        // The top level is the body's own dict: a structure's members, written
        // as for a nested one. Anything else there botocore handles.
        if (nodes_[0].kind != Kind::Structure) {
            return nb::none();
        }
        BodyWriter writer(nodes_, serializer.ptr(), convert_name_.ptr());
        if (!writer.value(0, params.ptr(), 0)) {
            return nb::none();
        }
        const std::string& text = writer.out.text();
        PyObject* body = PyBytes_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
        if (body == nullptr) {
            throw nb::python_error();
        }
        return nb::steal(body);
    }

private:
    std::vector<Node> nodes_;
    nb::object convert_name_;
};

}  // namespace

void bind_serializers(nb::module_& m) {
    nb::class_<JsonBodyPlan>(m, "JsonBodyPlan",
        "A botocore input shape compiled for writing JSON request bodies.")
        .def(nb::init<nb::list>(), "nodes"_a,
            "nodes[0] is the shape, each node a tuple: ('structure', [(name, "
            "serialized_name, node), ...]), ('map', value_node), ('list', member_node), "
            "('timestamp', timestamp_format or None), ('scalar',), ('float',), ('blob',), "
            "('document',) or ('decline',).")
        .def("write", &JsonBodyPlan::write, "params"_a, "serializer"_a,
            "The body botocore's JSON serializer would write for params (a dict), as "
            "bytes, or None where botocore must write it. Timestamps are converted by "
            "serializer._convert_timestamp_to_str.");
}

}  // namespace aboto3
