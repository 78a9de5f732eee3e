// Python objects from json_reader.h's tokens: exactly the objects json.loads
// makes for them. Every function needs the GIL and returns a new reference,
// or throws nb::python_error if Python failed (out of memory).
#pragma once

#include "json_reader.h"

#include <nanobind/nanobind.h>

#include <Python.h>

#include <cstdint>
#include <functional>
#include <string_view>

namespace aboto3 {
namespace json {

namespace nb = nanobind;

// A str of the decoded text (lone surrogates kept, as json.loads keeps them).
nb::object to_str(const String& text);
nb::object to_str(std::string_view ascii_or_utf8, bool ascii);

// An int of any size (Number::integer), as int(text).
nb::object to_int(const Number& number);

// A float, correctly rounded exactly as float(text) rounds it.
nb::object to_float(const Number& number);

// float(text) for a number Python's json grammar accepted (the bits Python
// would give; falls back on Python's own conversion where the quick exact
// path does not apply).
double to_double(std::string_view text);

// int or float, as json.loads chooses.
nb::object to_number(const Number& number);

// Calls a hook every few milliseconds of work: a long parse lets the event
// loop or other threads run. tick() is cheap (a counter, a clock read every
// 256 calls); the hook may throw (nb::python_error), which ends the parse.
class Pacer {
public:
    Pacer() = default;
    Pacer(std::function<void()> hook, std::int64_t interval_ns);
    void tick() {
        if (!hook_ || (++count_ & 255) != 0) {
            return;
        }
        check();
    }
    // At the end of the work: the hook once more if at least half an
    // interval has passed since it last ran, so that what the caller does
    // next starts a slice of its own.
    void finish();

private:
    void check();
    std::function<void()> hook_;
    std::int64_t interval_ns_ = 0;
    std::int64_t deadline_ns_ = 0;
    std::uint32_t count_ = 0;
};

// Interned str objects for object keys seen before in this document, as
// json.loads shares equal keys (its memo). Owned references; tiny and
// direct-mapped: a miss only costs a new str.
class KeyCache {
public:
    KeyCache() = default;
    KeyCache(const KeyCache&) = delete;
    KeyCache& operator=(const KeyCache&) = delete;
    ~KeyCache();
    nb::object get(const String& key);

private:
    struct Entry {
        std::uint64_t hash = 0;
        PyObject* str = nullptr;  // owned
        std::string_view bytes;   // the str's own UTF-8 (ASCII keys only)
    };
    static constexpr std::size_t kSize = 512;
    Entry* entries_ = nullptr;
};

// Options for read_value: how objects become Python mappings.
struct ValueOptions {
    // A mapping type called with no arguments and filled with setitem
    // (json.loads' object_pairs_hook=OrderedDict gives the same result: the
    // last of duplicate keys wins at the first one's place). nullptr: dict.
    PyObject* mapping_type = nullptr;
    Pacer* pacer = nullptr;
};

// The next value, whole, as json.loads makes it.
nb::object read_value(Reader& reader, KeyCache& keys, const ValueOptions& options);

}  // namespace json
}  // namespace aboto3
