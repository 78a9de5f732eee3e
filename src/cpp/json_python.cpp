#include "json_python.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

namespace aboto3 {
namespace json {

namespace {

nb::object checked(PyObject* made) {
    if (made == nullptr) {
        throw nb::python_error();
    }
    return nb::steal(made);
}

// float(text) without Python where the result is exact by construction: a
// mantissa of at most 2^53 times or over an exactly representable power of
// ten is one correctly rounded IEEE operation (Clinger's fast path).
bool quick_double(std::string_view text, double& out) {
    static constexpr double kPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char* p = text.data();
    const char* end = p + text.size();
    bool negative = false;
    if (p < end && *p == '-') {
        negative = true;
        ++p;
    }
    std::uint64_t mantissa = 0;
    int digits = 0;
    int exponent = 0;
    for (; p < end && *p >= '0' && *p <= '9'; ++p) {
        if (mantissa != 0 || *p != '0') {
            if (++digits > 19) return false;
            mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p - '0');
        }
    }
    if (p < end && *p == '.') {
        for (++p; p < end && *p >= '0' && *p <= '9'; ++p) {
            if (mantissa != 0 || *p != '0') {
                if (++digits > 19) return false;
                mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p - '0');
            }
            --exponent;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        bool negative_exponent = false;
        if (p < end && (*p == '+' || *p == '-')) {
            negative_exponent = *p == '-';
            ++p;
        }
        int value = 0;
        for (; p < end && *p >= '0' && *p <= '9'; ++p) {
            if (value > 10000) return false;
            value = value * 10 + (*p - '0');
        }
        exponent += negative_exponent ? -value : value;
    }
    if (p != end || mantissa > (std::uint64_t{1} << 53)) {
        return false;
    }
    double value = static_cast<double>(mantissa);
    if (mantissa == 0) {
        exponent = 0;
    }
    if (exponent < -22 || exponent > 22) {
        return false;
    }
    value = exponent < 0 ? value / kPowers[-exponent] : value * kPowers[exponent];
    out = negative ? -value : value;
    return true;
}

}  // namespace

nb::object to_str(std::string_view text, bool ascii) {
    if (ascii) {
        PyObject* str = PyUnicode_New(static_cast<Py_ssize_t>(text.size()), 127);
        if (str == nullptr) {
            throw nb::python_error();
        }
        std::memcpy(PyUnicode_DATA(str), text.data(), text.size());
        return nb::steal(str);
    }
    return checked(PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), nullptr));
}

nb::object to_str(const String& text) {
    if (text.lone_surrogate) {
        return checked(PyUnicode_DecodeUTF8(text.utf8.data(),
                                            static_cast<Py_ssize_t>(text.utf8.size()),
                                            "surrogatepass"));
    }
    return to_str(text.utf8, text.ascii);
}

nb::object to_int(const Number& number) {
    if (number.fits_int64) {
        return checked(PyLong_FromLongLong(number.value));
    }
    std::string digits(number.text);
    return checked(PyLong_FromString(digits.c_str(), nullptr, 10));
}

double to_double(std::string_view text) {
    double value = 0;
    if (quick_double(text, value)) {
        return value;
    }
    std::string copy(text);
    value = PyOS_string_to_double(copy.c_str(), nullptr, nullptr);
    if (value == -1.0 && PyErr_Occurred()) {
        throw nb::python_error();
    }
    return value;
}

nb::object to_float(const Number& number) { return checked(PyFloat_FromDouble(to_double(number.text))); }

nb::object to_number(const Number& number) {
    return number.integer ? to_int(number) : to_float(number);
}

namespace {
std::int64_t monotonic_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

Pacer::Pacer(std::function<void()> hook, std::int64_t interval_ns)
    : hook_(std::move(hook)), interval_ns_(interval_ns), deadline_ns_(monotonic_ns() + interval_ns) {}

void Pacer::check() {
    if (monotonic_ns() < deadline_ns_) {
        return;
    }
    hook_();
    deadline_ns_ = monotonic_ns() + interval_ns_;
}

void Pacer::finish() {
    if (hook_ && monotonic_ns() >= deadline_ns_ - interval_ns_ / 2) {
        hook_();
        deadline_ns_ = monotonic_ns() + interval_ns_;
    }
}

KeyCache::~KeyCache() {
    if (entries_ == nullptr) {
        return;
    }
    for (std::size_t i = 0; i < kSize; ++i) {
        Py_XDECREF(entries_[i].str);
    }
    delete[] entries_;
}

nb::object KeyCache::get(const String& key) {
    if (!key.ascii || key.utf8.size() > 64) {
        return to_str(key);
    }
    std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
    for (char c : key.utf8) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    if (entries_ == nullptr) {
        entries_ = new Entry[kSize]();
    }
    Entry& entry = entries_[hash & (kSize - 1)];
    if (entry.str != nullptr && entry.hash == hash && entry.bytes == key.utf8) {
        return nb::borrow(entry.str);
    }
    nb::object str = to_str(key.utf8, true);
    Py_XDECREF(entry.str);
    entry.str = str.inc_ref().ptr();
    entry.hash = hash;
    entry.bytes = std::string_view(static_cast<const char*>(PyUnicode_DATA(entry.str)),
                                   key.utf8.size());
    return str;
}

nb::object read_value(Reader& reader, KeyCache& keys, const ValueOptions& options) {
    if (options.pacer != nullptr) {
        options.pacer->tick();
    }
    switch (reader.peek()) {
        case Token::Object: {
            nb::object mapping = options.mapping_type == nullptr
                                     ? checked(PyDict_New())
                                     : checked(PyObject_CallNoArgs(options.mapping_type));
            reader.enter_object();
            String key;
            while (reader.next_key(key)) {
                nb::object name = keys.get(key);
                nb::object value = read_value(reader, keys, options);
                int failed = options.mapping_type == nullptr
                                 ? PyDict_SetItem(mapping.ptr(), name.ptr(), value.ptr())
                                 : PyObject_SetItem(mapping.ptr(), name.ptr(), value.ptr());
                if (failed != 0) {
                    throw nb::python_error();
                }
            }
            return mapping;
        }
        case Token::Array: {
            nb::object list = checked(PyList_New(0));
            reader.enter_array();
            while (reader.next_item()) {
                nb::object item = read_value(reader, keys, options);
                if (PyList_Append(list.ptr(), item.ptr()) != 0) {
                    throw nb::python_error();
                }
            }
            return list;
        }
        case Token::String:
            return to_str(reader.read_string());
        case Token::Number:
            return to_number(reader.read_number());
        case Token::True:
        case Token::False:
            return nb::borrow(reader.read_bool() ? Py_True : Py_False);
        case Token::Null:
            reader.read_null();
            return nb::none();
        case Token::NaN:
        case Token::Infinity:
        case Token::NegInfinity:
            return checked(PyFloat_FromDouble(reader.read_special()));
    }
    return nb::none();
}

}  // namespace json
}  // namespace aboto3
