// botocore's BaseCBORParser and RpcV2CBORParser (smithy-rpc-v2-cbor) in C++.
//
// botocore decodes the whole body into Python objects first (its own CBOR
// decoder: a None map value is left out, tag 1 is a timestamp, trailing bytes
// are ignored), then walks structures (members looked up by name) and lists;
// every other shape keeps the decoded value. Here the structures and lists
// the shape names are walked as they are read, and everything else is decoded
// exactly as botocore's decoder decodes it.
#include "parsers_rest.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace aboto3 {
namespace parsers {

namespace {

nb::object checked(PyObject* made) {
    if (made == nullptr) throw nb::python_error();
    return nb::steal(made);
}

constexpr std::uint8_t kIndefinite = 31;
constexpr std::uint8_t kBreak = 0xFF;

// The initial byte of a data item and what follows it.
struct Head {
    std::uint8_t major = 0;
    std::uint8_t info = 0;
    std::uint64_t argument = 0;  // the count or value, unless info is kIndefinite
};

class CborWalker {
public:
    CborWalker(Env& env, const char* data, std::size_t size)
        : env_(env), p_(reinterpret_cast<const std::uint8_t*>(data)),
          end_(reinterpret_cast<const std::uint8_t*>(data) + size) {}

    // RpcV2's _parse_shape for the next data item.
    nb::object walk(const Node& node) {
        env_.pacer.tick();
        if (++depth_ > 256) throw Decline{};
        struct Leave {
            int& depth;
            ~Leave() { --depth; }
        } leave{depth_};
        std::uint8_t major = peek() >> 5;
        if (node.kind == Kind::Structure && major == 5) return structure(node);
        if (node.kind == Kind::List && major == 4) return list(node);
        if (node.kind == Kind::Document) return item();  // botocore keeps the decoded value
        if (node.kind == Kind::Structure || node.kind == Kind::List) {
            nb::object value = item();
            if (node.kind == Kind::Structure && value.is_none()) return value;
            return env_.handler(node, value);  // a string iterated as a list...
        }
        return env_.handler(node, item());
    }

private:
    std::uint8_t peek() {
        if (p_ >= end_) throw Decline{};  // botocore: "End of stream reached"
        return *p_;
    }

    std::uint64_t read_uint(std::size_t bytes) {
        if (static_cast<std::size_t>(end_ - p_) < bytes) throw Decline{};
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < bytes; ++i) value = (value << 8) | p_[i];
        p_ += bytes;
        return value;
    }

    // _parse_unsigned_integer for additional info `info`.
    std::uint64_t argument(std::uint8_t info) {
        if (info < 24) return info;
        switch (info) {
            case 24: return read_uint(1);
            case 25: return read_uint(2);
            case 26: return read_uint(4);
            case 27: return read_uint(8);
            default: throw Decline{};  // unparsable additional info
        }
    }

    Head head() {
        std::uint8_t initial = static_cast<std::uint8_t>(read_uint(1));
        Head h;
        h.major = initial >> 5;
        h.info = initial & 31;
        if (h.info != kIndefinite || h.major < 2 || h.major > 5) {
            if (h.major != 7) h.argument = argument(h.info);
        }
        return h;
    }

    bool at_break() {
        // _handle_break_code: the next byte, if any, is 0xFF.
        if (p_ < end_ && *p_ == kBreak) {
            ++p_;
            return true;
        }
        return false;
    }

    // Byte or text string contents (major 2 or 3), joined when chunked; a
    // chunk's own major type is not checked, as botocore does not check it.
    std::string_view string_bytes(const Head& h, std::string& joined) {
        if (h.info != kIndefinite) {
            if (static_cast<std::uint64_t>(end_ - p_) < h.argument) throw Decline{};
            std::string_view bytes(reinterpret_cast<const char*>(p_), h.argument);
            p_ += h.argument;
            return bytes;
        }
        joined.clear();
        while (!at_break()) {
            std::uint8_t initial = static_cast<std::uint8_t>(read_uint(1));
            std::uint64_t length = argument(initial & 31);
            if (static_cast<std::uint64_t>(end_ - p_) < length) throw Decline{};
            joined.append(reinterpret_cast<const char*>(p_), length);
            p_ += length;
        }
        return joined;
    }

    nb::object text(const Head& h) {
        std::string joined;
        std::string_view bytes = string_bytes(h, joined);
        PyObject* str = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), nullptr);
        if (str == nullptr) {
            PyErr_Clear();
            throw Decline{};  // botocore: UnicodeDecodeError
        }
        return nb::steal(str);
    }

    // parse_data_item: the next item decoded as botocore decodes it.
    nb::object item() {
        env_.pacer.tick();
        Head h = head();
        switch (h.major) {
            case 0:
                return checked(PyLong_FromUnsignedLongLong(h.argument));
            case 1: {
                if (h.argument < (std::uint64_t{1} << 63)) {
                    return checked(PyLong_FromLongLong(-1 - static_cast<long long>(h.argument)));
                }
                nb::object n = checked(PyLong_FromUnsignedLongLong(h.argument));
                nb::object one = checked(PyLong_FromLong(1));
                nb::object negated = checked(PyNumber_Negative(n.ptr()));
                return checked(PyNumber_Subtract(negated.ptr(), one.ptr()));
            }
            case 2: {
                std::string joined;
                std::string_view bytes = string_bytes(h, joined);
                return checked(PyBytes_FromStringAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size())));
            }
            case 3:
                return text(h);
            case 4: {
                nb::object items = checked(PyList_New(0));
                if (h.info == kIndefinite) {
                    while (!at_break()) append(items, item());
                } else {
                    for (std::uint64_t i = 0; i < h.argument; ++i) append(items, item());
                }
                return items;
            }
            case 5: {
                nb::object map = checked(PyDict_New());
                auto pair = [&] {
                    nb::object key = item();
                    nb::object value = item();
                    if (value.is_none()) return;  // botocore leaves None values out
                    if (PyDict_SetItem(map.ptr(), key.ptr(), value.ptr()) != 0) {
                        PyErr_Clear();
                        throw Decline{};  // an unhashable key: botocore's TypeError
                    }
                };
                if (h.info == kIndefinite) {
                    while (!at_break()) pair();
                } else {
                    for (std::uint64_t i = 0; i < h.argument; ++i) pair();
                }
                return map;
            }
            case 6: {
                nb::object value = item();
                if (h.argument != 1) throw Decline{};  // a tag botocore does not support
                if (!PyLong_Check(value.ptr()) && !PyFloat_Check(value.ptr())) throw Decline{};
                return env_.timestamp_number(no_node_, value);
            }
            default:
                return simple(h.info);
        }
    }

    nb::object simple(std::uint8_t info) {
        switch (info) {
            case 20: return nb::borrow(Py_False);
            case 21: return nb::borrow(Py_True);
            case 22:
            case 23: return nb::none();
            case 25: {
                auto half = static_cast<std::uint16_t>(read_uint(2));
                return checked(PyFloat_FromDouble(half_to_double(half)));
            }
            case 26: {
                auto bits = static_cast<std::uint32_t>(read_uint(4));
                float value;
                std::memcpy(&value, &bits, 4);
                return checked(PyFloat_FromDouble(static_cast<double>(value)));
            }
            case 27: {
                std::uint64_t bits = read_uint(8);
                double value;
                std::memcpy(&value, &bits, 8);
                return checked(PyFloat_FromDouble(value));
            }
            default: throw Decline{};  // botocore: unsupported simple type
        }
    }

    static double half_to_double(std::uint16_t half) {
        int exponent = (half >> 10) & 0x1F;
        int mantissa = half & 0x3FF;
        double value;
        if (exponent == 0) {
            value = std::ldexp(mantissa, -24);
        } else if (exponent == 31) {
            value = mantissa == 0 ? HUGE_VAL : std::nan("");
        } else {
            value = std::ldexp(mantissa + 1024, exponent - 25);
        }
        return (half & 0x8000) ? -value : value;
    }

    static void append(nb::handle list, nb::handle value) {
        if (PyList_Append(list.ptr(), value.ptr()) != 0) throw nb::python_error();
    }

    // BaseRpcV2Parser._handle_structure over a map read as it comes: members
    // by name, a None value left out (and never replacing one), the last of
    // equal keys winning.
    nb::object structure(const Node& node) {
        Head h = head();
        const bool is_union = (node.flags & kUnion) != 0;
        std::vector<nb::object> slots(node.members.size());
        const Member* union_member = nullptr;
        auto pair = [&] {
            std::uint8_t major = peek() >> 5;
            const Member* member = nullptr;
            nb::object key;
            if (major == 3) {
                Head key_head = head();
                std::string joined;
                std::string_view bytes = string_bytes(key_head, joined);
                member = node.find(bytes);
                if (member == nullptr) {
                    PyObject* str = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), nullptr);
                    if (str == nullptr) {
                        PyErr_Clear();
                        throw Decline{};  // botocore: UnicodeDecodeError
                    }
                    key = nb::steal(str);
                }
            } else {
                key = item();
                if (PyObject_Hash(key.ptr()) == -1) {
                    PyErr_Clear();
                    throw Decline{};
                }
            }
            if (member == nullptr) {
                nb::object value = item();  // decoded by botocore too, then unused
                // A union counts every key but "__type" whose value is not None.
                bool type_key = PyUnicode_Check(key.ptr()) &&
                                PyUnicode_CompareWithASCIIString(key.ptr(), "__type") == 0;
                if (is_union && !value.is_none() && !type_key) throw Decline{};
                return;
            }
            std::uint8_t next = peek();
            if (next == 0xF6 || next == 0xF7) {  // null, undefined: left out
                ++p_;
                return;
            }
            if (is_union) {
                if (union_member != nullptr && union_member != member) throw Decline{};
                union_member = member;
            }
            slots[static_cast<std::size_t>(member - node.members.data())] = walk(*member->node);
        };
        if (h.info == kIndefinite) {
            while (!at_break()) pair();
        } else {
            for (std::uint64_t i = 0; i < h.argument; ++i) pair();
        }
        if (is_union && union_member == nullptr) throw Decline{};
        nb::object parsed = checked(PyDict_New());
        for (std::size_t i = 0; i < slots.size(); ++i) {
            if (slots[i].is_valid()) set_item(parsed, node.members[i].name, slots[i]);
        }
        return parsed;
    }

    // ResponseParser._handle_list over an array read as it comes.
    nb::object list(const Node& node) {
        Head h = head();
        nb::object parsed = checked(PyList_New(0));
        auto one = [&] {
            std::uint8_t next = peek();
            if (next == 0xF6 || next == 0xF7) {
                ++p_;
                append(parsed, env_.sparse_lists() ? nb::none() : env_.handler(*node.item, Py_None));
            } else {
                append(parsed, walk(*node.item));
            }
        };
        if (h.info == kIndefinite) {
            while (!at_break()) one();
        } else {
            for (std::uint64_t i = 0; i < h.argument; ++i) one();
        }
        return parsed;
    }

    Env& env_;
    const Node no_node_{};
    const std::uint8_t* p_;
    const std::uint8_t* end_;
    int depth_ = 0;
};

}  // namespace

nb::object parse_cbor(const ParsePlan* plan, nb::handle response, Env& env, bool modeled_error) {
    const Names& n = names();
    nb::object parsed = checked(PyDict_New());
    if (plan != nullptr) {
        nb::object body = mapping_get(response, n.body);
        if (!PyBytes_Check(body.ptr())) throw Decline{};
        const Node& shape = plan->root();
        if (PyBytes_GET_SIZE(body.ptr()) == 0) {
            // botocore parses b"" as the structure: fine only with no members.
            if (!shape.members.empty() || (shape.flags & kUnion) != 0) throw Decline{};
        } else {
            CborWalker walker(env, PyBytes_AS_STRING(body.ptr()),
                              static_cast<std::size_t>(PyBytes_GET_SIZE(body.ptr())));
            nb::object value = walker.walk(shape);
            if (!PyDict_Check(value.ptr())) throw Decline{};
            parsed = std::move(value);
        }
    }
    if (!modeled_error && plan != nullptr) {
        // BaseRpcV2Parser._populate_response_metadata
        nb::object headers = mapping_get(response, n.headers);
        nb::object metadata = checked(PyDict_New());
        if (mapping_has(headers, n.x_amzn_requestid)) {
            set_item(metadata, n.request_id, mapping_get(headers, n.x_amzn_requestid));
        }
        set_item(parsed, n.response_metadata, metadata);
    }
    return parsed;
}

}  // namespace parsers
}  // namespace aboto3
