// JSON text written exactly as Python's json.dumps writes it with its
// defaults, for request bodies that must be byte-identical to botocore's.
//
// What it is for: src/cpp/serialize_module.cpp walks a request's parameters
// along botocore's input shape and writes the body as it goes, never building
// the dicts botocore builds for json.dumps. This file is the text half: plain
// C++, no Python object, no GIL. The Python-facing half decides what is
// written; this decides how it looks.
//
// json.dumps's defaults, as the writer reproduces them:
//   - separators ", " between items and ": " after a key, no other space;
//     {} and [] when empty;
//   - ensure_ascii: every code point outside printable ASCII (U+0020-U+007E)
//     is escaped: \" \\ \b \f \n \r \t by name, the rest as \u00XX with
//     lowercase hex, code points past U+FFFF as a surrogate pair, and lone
//     surrogates (which a Python str may hold) as themselves;
//   - integers in decimal. Floats are the caller's: Python's repr() of a float
//     is what json writes, and only Python has that exact algorithm at hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aboto3 {
namespace json {

class Writer {
public:
    explicit Writer(std::size_t reserve = 1024) { text_.reserve(reserve); }

    // Already-valid JSON text (punctuation, separators, a prepared key).
    void raw(std::string_view text) { text_.append(text); }
    void raw(char c) { text_.push_back(c); }

    // A quoted string from code points as a Python str stores them (Latin-1,
    // UCS-2 or UCS-4 units), escaped as ensure_ascii escapes them.
    void string(const std::uint8_t* units, std::size_t count);
    void string(const std::uint16_t* units, std::size_t count);
    void string(const std::uint32_t* units, std::size_t count);

    // A quoted string of the standard base64 of the bytes, '=' padded (what
    // base64.b64encode(data).decode() gives).
    void base64_string(const unsigned char* data, std::size_t size);

    void integer(long long value);

    const std::string& text() const { return text_; }

private:
    template <class Unit>
    void escaped(const Unit* units, std::size_t count);
    void escape(std::uint32_t code_point);

    std::string text_;
};

}  // namespace json
}  // namespace aboto3
