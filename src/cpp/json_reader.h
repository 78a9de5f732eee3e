// A pull reader for JSON text that accepts exactly what Python's json.loads
// accepts, and says so when it cannot vouch for a document.
//
// What it is for: code that walks a document once and builds only what it
// needs (botocore's response parsers, src/cpp/parsers_json.cpp; botocore's
// model loader), deciding as it goes. It never builds a tree of its own. The
// reader is plain C++: it touches no Python object and needs no GIL.
// json_python.h turns its tokens into the Python objects json.loads makes.
//
// The grammar is Python's json module with its defaults (strict=True):
//   - whitespace is space, \t, \n and \r only; a UTF-8 BOM is an error
//     (json.loads on a str refuses it);
//   - literals true, false, null, and Python's extensions NaN, Infinity and
//     -Infinity;
//   - numbers -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?; without a
//     fraction or an exponent Python makes an int of any size, otherwise a
//     float (1e400 is inf);
//   - strings: no raw control character (U+0000-U+001F); escapes \" \\ \/ \b
//     \f \n \r \t \uXXXX (hex digits either case); a \u high surrogate
//     followed by a \u low one is one code point; a lone surrogate stays a
//     lone surrogate (Python keeps it in the str);
//   - the input is UTF-8 and must be valid as Python's strict decoder sees it
//     (no overlong forms, no encoded surrogates, nothing past U+10FFFF),
//     including inside strings the caller skips: botocore decodes the whole
//     body before json.loads sees it;
//   - duplicate keys are reported as they come; making the last one win (at
//     the first one's position, as a dict does) is the caller's business;
//   - after the top-level value only whitespace may follow (finish()).
//
// Failure: every method throws json::Error. Kind::Syntax means json.loads
// would raise ValueError (JSONDecodeError) on this input. Kind::Limit means
// the reader will not vouch for it: nesting deeper than kMaxDepth (Python
// raises RecursionError near its recursion limit), or an integer with more
// than kMaxIntegerDigits digits (Python 3.9.14+ refuses to convert ints
// beyond sys.get_int_max_str_digits(), a limit the process can change).
// Either way the caller gives the document to Python's json to get its exact
// outcome. After an Error the reader must not be used again.
//
// Lifetimes: the reader never copies the input; the caller keeps it alive and
// unchanged. A String's utf8 view points into the input when the string had
// no escape, else into the reader's scratch buffer, valid until the next
// string is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

namespace aboto3 {
namespace json {

class Error : public std::exception {
public:
    enum class Kind { Syntax, Limit };
    Error(Kind kind, std::size_t offset, const char* reason);
    const char* what() const noexcept override { return message_.c_str(); }
    Kind kind() const { return kind_; }
    std::size_t offset() const { return offset_; }

private:
    Kind kind_;
    std::size_t offset_;
    std::string message_;
};

// What the next value is, before it is read.
enum class Token : std::uint8_t {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
    NaN,          // Python's float('nan')
    Infinity,     // float('inf')
    NegInfinity,  // float('-inf')
};

struct String {
    std::string_view utf8;  // the decoded text
    bool ascii = true;      // every byte below 0x80
    // A lone surrogate from a \u escape, written as its three-byte UTF-8 form:
    // decode with "surrogatepass" to get Python's str.
    bool lone_surrogate = false;
};

struct Number {
    std::string_view text;    // as written, e.g. "-12.5e3"
    bool integer = false;     // no fraction, no exponent: Python makes an int
    bool fits_int64 = false;  // integer and small enough for value
    std::int64_t value = 0;
};

constexpr int kMaxDepth = 512;
constexpr std::size_t kMaxIntegerDigits = 600;  // below any int_max_str_digits Python allows

class Reader {
public:
    Reader(const char* data, std::size_t size) : p_(data), begin_(data), end_(data + size) {}
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // The kind of the next value (whitespace skipped). Throws Syntax if no
    // value can start here.
    Token peek();

    // Objects: enter_object() consumes '{'; next_key() then reads each key
    // and its ':' (returning true) or the closing '}' (returning false).
    // Between two next_key() calls the caller reads or skips exactly one value.
    void enter_object();
    bool next_key(String& key);

    // Arrays: enter_array() consumes '['; next_item() returns true when a
    // value follows (the caller reads or skips it), false on ']' (consumed).
    void enter_array();
    bool next_item();

    String read_string();
    Number read_number();
    bool read_bool();   // true or false
    void read_null();
    double read_special();  // NaN, Infinity or -Infinity

    // Reads past the next value, checking it as thoroughly as reading it.
    void skip_value();

    // After the top-level value: nothing but whitespace may follow.
    void finish();

    std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }
    int depth() const { return depth_; }

private:
    [[noreturn]] void fail(const char* reason) const;
    [[noreturn]] void fail_at(const char* at, const char* reason) const;
    void skip_whitespace() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
            ++p_;
        }
    }
    void expect_literal(const char* word, std::size_t length);
    void enter(char open);
    void leave();
    // After a value inside a container: the ',' or the closing bracket.
    bool continues(char close);
    String read_string_body();  // p_ just past the opening quote
    const char* scan_plain(const char* p) const;
    const char* check_utf8(const char* p) const;
    unsigned read_hex4(const char* p) const;
    void append_code_point(unsigned cp);

    const char* p_;
    const char* begin_;
    const char* end_;
    int depth_ = 0;
    bool first_ = false;  // no member or item read yet in the innermost container
    std::string scratch_;
};

}  // namespace json
}  // namespace aboto3
