// botocore's BaseJSONParser, JSONParser and RestJSONParser bodies in C++:
// the shape and the document are walked together, once, and only the output
// is built.
//
// Where the document holds what the shape expects (an object for a
// structure, a string for a string...) the value is made here as botocore
// would make it. Anything else (a number for a float member in rest-json,
// which some botocore versions coerce; a string for a list, which botocore
// iterates...) is read whole as json.loads would read it and handed to
// botocore's own handler for that shape.
#include "parsers_rest.h"

#include <vector>

namespace aboto3 {
namespace parsers {

namespace {

using json::Token;

nb::object checked(PyObject* made) {
    if (made == nullptr) throw nb::python_error();
    return nb::steal(made);
}

// Member values found so far for the structures being read, innermost last;
// released on the way out whatever happens.
class Slots {
public:
    ~Slots() {
        for (PyObject* value : values_) Py_XDECREF(value);
    }
    std::size_t open(std::size_t count) {
        std::size_t base = values_.size();
        values_.resize(base + count, nullptr);
        return base;
    }
    void put(std::size_t at, nb::object value) {
        PyObject* old = values_[at];
        values_[at] = value.release().ptr();
        Py_XDECREF(old);
    }
    void clear(std::size_t at) {
        PyObject* old = values_[at];
        values_[at] = nullptr;
        Py_XDECREF(old);
    }
    PyObject* at(std::size_t at) const { return values_[at]; }
    void close(std::size_t base) {
        for (std::size_t i = base; i < values_.size(); ++i) Py_XDECREF(values_[i]);
        values_.resize(base);
    }

private:
    std::vector<PyObject*> values_;
};

class JsonWalker final : public BodyParser {
public:
    JsonWalker(Env& env, const char* data, std::size_t size)
        : env_(env), reader_(data, size), empty_(size == 0) {}

    // _parse_body_as_json then _parse_shape: an empty body is {}.
    nb::object parse(const Node& node) override {
        if (empty_) {
            json::Reader empty("{}", 2);
            return with_reader(empty, node);
        }
        nb::object value = walk(node);
        reader_.finish();
        return value;
    }

private:
    nb::object with_reader(json::Reader& other, const Node& node) {
        json::Reader* saved = current_;
        current_ = &other;
        nb::object value = walk(node);
        current_ = saved;
        return value;
    }

    json::Reader& r() { return *current_; }

    // The next value, as botocore's _parse_shape(node, value) makes it.
    nb::object walk(const Node& node) {
        env_.pacer.tick();
        Token token = r().peek();
        switch (node.kind) {
            case Kind::Structure:
                if (token == Token::Object) return structure(node);
                if (token == Token::Null) {  // _handle_structure(None) is None
                    r().read_null();
                    return nb::none();
                }
                break;
            case Kind::Document:
                return generic();
            case Kind::List:
                if (token == Token::Array) return list(node);
                break;
            case Kind::Map:
                if (token == Token::Object) return map(node);
                break;
            case Kind::String:
                if (token == Token::String && (node.flags & kJsonValue) == 0) {
                    return json::to_str(r().read_string());
                }
                break;
            case Kind::Boolean:
                if (token == Token::True || token == Token::False) {
                    return nb::borrow(r().read_bool() ? Py_True : Py_False);
                }
                break;
            case Kind::Integer:
                if (token == Token::Number) {
                    json::Number number = r().read_number();
                    if (number.integer) return json::to_int(number);
                    return env_.handler(node, json::to_float(number));
                }
                break;
            case Kind::Float:
                if (token == Token::Number) {
                    json::Number number = r().read_number();
                    if (!number.integer) return json::to_float(number);
                    return env_.handler(node, json::to_int(number));  // float() or kept: per version
                }
                if (token == Token::NaN || token == Token::Infinity || token == Token::NegInfinity) {
                    return checked(PyFloat_FromDouble(r().read_special()));
                }
                break;
            case Kind::Timestamp:
                if (token == Token::String) {
                    json::String text = r().read_string();
                    if (text.lone_surrogate) return env_.timestamp(node, {}, json::to_str(text));
                    return env_.timestamp(node, text.utf8, nb::handle());
                }
                if (token == Token::Number) {
                    return env_.timestamp_number(node, json::to_number(r().read_number()));
                }
                break;
            case Kind::Blob:
                if (token == Token::String) {
                    json::String text = r().read_string();
                    if (text.lone_surrogate) return env_.blob(node, {}, json::to_str(text));
                    return env_.blob(node, text.utf8, nb::handle());
                }
                break;
            case Kind::Other:
                break;
        }
        return env_.handler(node, generic());
    }

    nb::object generic() {
        json::ValueOptions options;
        options.pacer = &env_.pacer;
        return json::read_value(r(), keys_, options);
    }

    // BaseJSONParser._handle_structure: members in the shape's order, a null
    // member left out, the last of duplicate keys winning.
    nb::object structure(const Node& node) {
        const bool is_union = (node.flags & kUnion) != 0;
        const std::size_t base = slots_.open(node.members.size());
        std::size_t set = 0;
        r().enter_object();
        json::String key;
        while (r().next_key(key)) {
            const Member* member = node.find(key.utf8);
            if (member == nullptr || key.lone_surrogate) {
                // A union with anything but one member set (or "__type") is
                // botocore's to judge, across versions.
                if (is_union) throw Decline{};
                r().skip_value();
                continue;
            }
            std::size_t at = base + static_cast<std::size_t>(member - node.members.data());
            if (r().peek() == Token::Null) {
                r().read_null();
                if (is_union) throw Decline{};
                slots_.clear(at);
                continue;
            }
            if (is_union && slots_.at(at) != nullptr) throw Decline{};
            slots_.put(at, walk(*member->node));
            ++set;
        }
        if (is_union && set != 1) throw Decline{};
        nb::object parsed = checked(PyDict_New());
        for (std::size_t i = 0; i < node.members.size(); ++i) {
            if (PyObject* value = slots_.at(base + i)) {
                set_item(parsed, node.members[i].name, value);
            }
        }
        slots_.close(base);
        return parsed;
    }

    // ResponseParser._handle_list: a null item is None where botocore's lists
    // are sparse, else what its handler makes of None.
    nb::object list(const Node& node) {
        nb::object parsed = checked(PyList_New(0));
        r().enter_array();
        while (r().next_item()) {
            nb::object item;
            if (r().peek() == Token::Null) {
                r().read_null();
                item = env_.sparse_lists() ? nb::none() : env_.handler(*node.item, Py_None);
            } else {
                item = walk(*node.item);
            }
            if (PyList_Append(parsed.ptr(), item.ptr()) != 0) throw nb::python_error();
        }
        return parsed;
    }

    // BaseJSONParser._handle_map: document order, the last of duplicate keys
    // winning at the first one's place (a dict's setitem).
    nb::object map(const Node& node) {
        nb::object parsed = checked(PyDict_New());
        const Node& key_node = *node.key;
        const Node& value_node = *node.value;
        const bool plain_keys = key_node.kind == Kind::String && (key_node.flags & kJsonValue) == 0;
        r().enter_object();
        json::String key;
        while (r().next_key(key)) {
            nb::object name = keys_.get(key);
            if (!plain_keys) name = env_.handler(key_node, name);
            nb::object value;
            if (r().peek() == Token::Null) {
                r().read_null();
                value = value_node.kind == Kind::Structure || value_node.kind == Kind::Document
                            ? nb::none()
                            : env_.handler(value_node, Py_None);
            } else {
                value = walk(value_node);
            }
            set_item(parsed, name, value);
        }
        return parsed;
    }

    Env& env_;
    json::Reader reader_;
    json::Reader* current_ = &reader_;
    json::KeyCache keys_;
    Slots slots_;
    bool empty_;
};

nb::object body_bytes(nb::handle response) {
    nb::object body = mapping_get(response, names().body);
    if (!PyBytes_Check(body.ptr())) throw Decline{};  // a stream, or something odd
    return body;
}

}  // namespace

nb::object parse_json_family(const ParsePlan* plan, nb::handle response, Env& env, bool rest,
                             bool modeled_error) {
    const Names& n = names();
    try {
        if (rest) {
            nb::object body;
            const char* data = "";
            std::size_t size = 0;
            // A string or blob payload, or no shape, never reads the body here.
            bool reads_body = plan != nullptr;
            if (reads_body && plan->root().payload >= 0) {
                const Node& payload = *plan->root().members[static_cast<std::size_t>(plan->root().payload)].node;
                reads_body = payload.kind != Kind::String && payload.kind != Kind::Blob;
            }
            if (reads_body) {
                body = body_bytes(response);
                data = PyBytes_AS_STRING(body.ptr());
                size = static_cast<std::size_t>(PyBytes_GET_SIZE(body.ptr()));
            }
            JsonWalker walker(env, data, size);
            return parse_rest(plan, response, env, walker, modeled_error);
        }
        // JSONParser._do_parse / _do_modeled_error_parse
        nb::object parsed;
        if (plan != nullptr) {
            nb::object body = body_bytes(response);
            JsonWalker walker(env, PyBytes_AS_STRING(body.ptr()),
                              static_cast<std::size_t>(PyBytes_GET_SIZE(body.ptr())));
            parsed = walker.parse(plan->root());
            if (!PyDict_Check(parsed.ptr())) throw Decline{};
        } else {
            parsed = checked(PyDict_New());
        }
        if (!modeled_error) {
            // _inject_response_metadata
            nb::object headers = mapping_get(response, n.headers);
            if (mapping_has(headers, n.x_amzn_requestid)) {
                PyObject* metadata = PyDict_GetItemWithError(parsed.ptr(), n.response_metadata.ptr());
                if (metadata == nullptr) {
                    if (PyErr_Occurred()) throw nb::python_error();
                    nb::object made = checked(PyDict_New());
                    set_item(parsed, n.response_metadata, made);
                    metadata = made.ptr();
                }
                if (!PyDict_Check(metadata)) throw Decline{};
                set_item(metadata, n.request_id, mapping_get(headers, n.x_amzn_requestid));
            }
        }
        return parsed;
    } catch (const json::Error&) {
        throw Decline{};
    }
}

}  // namespace parsers
}  // namespace aboto3
