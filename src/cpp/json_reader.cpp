#include "json_reader.h"

#include <cstdint>
#include <cstring>
#include <limits>

namespace aboto3 {
namespace json {

Error::Error(Kind kind, std::size_t offset, const char* reason)
    : kind_(kind), offset_(offset) {
    message_ = reason;
    message_ += " at byte ";
    message_ += std::to_string(offset);
}

namespace {

// Bytes that end a run of plain string text: the quote, the backslash, a
// control character (refused) and any non-ASCII byte (checked as UTF-8).
constexpr bool is_special(unsigned char c) { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80; }

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    (defined(__GNUC__) || defined(__clang__))
#define ABOTO3_JSON_SWAR 1
// One bit (the byte's top bit) per special byte of v. Bits above the first
// special byte can be set spuriously (borrows), never bits below it, so the
// lowest set bit is exact.
inline std::uint64_t special_bytes(std::uint64_t v) {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    auto zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
    std::uint64_t quote = zero(v ^ (ones * '"'));
    std::uint64_t backslash = zero(v ^ (ones * '\\'));
    std::uint64_t control = (v - ones * 0x20) & ~v & highs;
    return quote | backslash | control | (v & highs);
}
#endif

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

void Reader::fail(const char* reason) const { fail_at(p_, reason); }

void Reader::fail_at(const char* at, const char* reason) const {
    throw Error(Error::Kind::Syntax, static_cast<std::size_t>(at - begin_), reason);
}

Token Reader::peek() {
    skip_whitespace();
    if (p_ == end_) {
        fail("expecting a value");
    }
    switch (*p_) {
        case '{': return Token::Object;
        case '[': return Token::Array;
        case '"': return Token::String;
        case '-':
            if (p_ + 1 < end_ && p_[1] == 'I') {
                return Token::NegInfinity;
            }
            return Token::Number;
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            return Token::Number;
        case 't': return Token::True;
        case 'f': return Token::False;
        case 'n': return Token::Null;
        case 'N': return Token::NaN;
        case 'I': return Token::Infinity;
        default: fail("expecting a value");
    }
}

void Reader::enter(char open) {
    skip_whitespace();
    if (p_ == end_ || *p_ != open) {
        fail(open == '{' ? "expecting '{'" : "expecting '['");
    }
    ++p_;
    if (++depth_ > kMaxDepth) {
        throw Error(Error::Kind::Limit, offset(), "nested too deeply");
    }
    first_ = true;
}

void Reader::leave() {
    --depth_;
    first_ = false;
}

bool Reader::continues(char close) {
    skip_whitespace();
    if (p_ == end_) {
        fail("unterminated container");
    }
    if (first_) {
        first_ = false;
        if (*p_ == close) {
            ++p_;
            leave();
            return false;
        }
        return true;
    }
    if (*p_ == ',') {
        ++p_;
        skip_whitespace();
        return true;
    }
    if (*p_ == close) {
        ++p_;
        leave();
        return false;
    }
    fail("expecting ',' or a closing bracket");
}

void Reader::enter_object() { enter('{'); }

bool Reader::next_key(String& key) {
    if (!continues('}')) {
        return false;
    }
    if (p_ == end_ || *p_ != '"') {
        fail("expecting a property name in double quotes");
    }
    ++p_;
    key = read_string_body();
    skip_whitespace();
    if (p_ == end_ || *p_ != ':') {
        fail("expecting ':'");
    }
    ++p_;
    return true;
}

void Reader::enter_array() { enter('['); }

bool Reader::next_item() { return continues(']'); }

String Reader::read_string() {
    skip_whitespace();
    if (p_ == end_ || *p_ != '"') {
        fail("expecting a string");
    }
    ++p_;
    return read_string_body();
}

const char* Reader::scan_plain(const char* p) const {
#ifdef ABOTO3_JSON_SWAR
    while (end_ - p >= 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        std::uint64_t hits = special_bytes(v);
        if (hits != 0) {
            return p + (__builtin_ctzll(hits) >> 3);
        }
        p += 8;
    }
#endif
    while (p < end_ && !is_special(static_cast<unsigned char>(*p))) {
        ++p;
    }
    return p;
}

// One UTF-8 sequence starting at p (whose first byte is >= 0x80), checked as
// Python's strict decoder checks it; returns the byte after it.
const char* Reader::check_utf8(const char* p) const {
    auto byte = [&](const char* q) { return static_cast<unsigned char>(*q); };
    auto continuation = [&](const char* q, unsigned char low, unsigned char high) {
        if (q >= end_ || byte(q) < low || byte(q) > high) {
            fail_at(p, "invalid UTF-8");
        }
    };
    unsigned char lead = byte(p);
    if (lead >= 0xC2 && lead <= 0xDF) {
        continuation(p + 1, 0x80, 0xBF);
        return p + 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
        unsigned char high = lead == 0xED ? 0x9F : 0xBF;  // no encoded surrogates
        continuation(p + 1, low, high);
        continuation(p + 2, 0x80, 0xBF);
        return p + 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
        unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;  // nothing past U+10FFFF
        continuation(p + 1, low, high);
        continuation(p + 2, 0x80, 0xBF);
        continuation(p + 3, 0x80, 0xBF);
        return p + 4;
    }
    fail_at(p, "invalid UTF-8");
}

unsigned Reader::read_hex4(const char* p) const {
    if (end_ - p < 4) {
        fail_at(p, "invalid \\uXXXX escape");
    }
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
        int digit = hex_value(p[i]);
        if (digit < 0) {
            fail_at(p, "invalid \\uXXXX escape");
        }
        value = value * 16 + static_cast<unsigned>(digit);
    }
    return value;
}

void Reader::append_code_point(unsigned cp) {
    if (cp < 0x80) {
        scratch_ += static_cast<char>(cp);
    } else if (cp < 0x800) {
        scratch_ += static_cast<char>(0xC0 | (cp >> 6));
        scratch_ += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        scratch_ += static_cast<char>(0xE0 | (cp >> 12));
        scratch_ += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        scratch_ += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        scratch_ += static_cast<char>(0xF0 | (cp >> 18));
        scratch_ += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        scratch_ += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        scratch_ += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

String Reader::read_string_body() {
    String out;
    const char* start = p_;
    const char* q = p_;
    // The common case: no escape, so the text is a view of the input.
    for (;;) {
        q = scan_plain(q);
        if (q == end_) {
            fail_at(start - 1, "unterminated string");
        }
        unsigned char c = static_cast<unsigned char>(*q);
        if (c == '"') {
            out.utf8 = std::string_view(start, static_cast<std::size_t>(q - start));
            p_ = q + 1;
            return out;
        }
        if (c == '\\') {
            break;
        }
        if (c < 0x20) {
            fail_at(q, "invalid control character in a string");
        }
        out.ascii = false;
        q = check_utf8(q);
    }
    // Escapes: decode into the scratch buffer.
    scratch_.assign(start, static_cast<std::size_t>(q - start));
    for (;;) {
        unsigned char c = static_cast<unsigned char>(*q);
        if (c == '"') {
            p_ = q + 1;
            out.utf8 = scratch_;
            return out;
        }
        if (c == '\\') {
            if (q + 1 >= end_) {
                fail_at(start - 1, "unterminated string");
            }
            char escape = q[1];
            q += 2;
            switch (escape) {
                case '"': scratch_ += '"'; break;
                case '\\': scratch_ += '\\'; break;
                case '/': scratch_ += '/'; break;
                case 'b': scratch_ += '\b'; break;
                case 'f': scratch_ += '\f'; break;
                case 'n': scratch_ += '\n'; break;
                case 'r': scratch_ += '\r'; break;
                case 't': scratch_ += '\t'; break;
                case 'u': {
                    unsigned cp = read_hex4(q);
                    q += 4;
                    if (cp >= 0xD800 && cp <= 0xDBFF && end_ - q >= 2 && q[0] == '\\' &&
                        q[1] == 'u') {
                        unsigned low = read_hex4(q + 2);
                        if (low >= 0xDC00 && low <= 0xDFFF) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                            q += 6;
                        }
                    }
                    if (cp >= 0xD800 && cp <= 0xDFFF) {
                        out.lone_surrogate = true;
                    }
                    if (cp >= 0x80) {
                        out.ascii = false;
                    }
                    append_code_point(cp);
                    break;
                }
                default: fail_at(q - 2, "invalid \\escape");
            }
        } else if (c < 0x20) {
            fail_at(q, "invalid control character in a string");
        } else if (c >= 0x80) {
            out.ascii = false;
            const char* after = check_utf8(q);
            scratch_.append(q, static_cast<std::size_t>(after - q));
            q = after;
        }
        const char* run = q;
        q = scan_plain(q);
        scratch_.append(run, static_cast<std::size_t>(q - run));
        if (q == end_) {
            fail_at(start - 1, "unterminated string");
        }
    }
}

Number Reader::read_number() {
    skip_whitespace();
    Number out;
    const char* start = p_;
    const char* q = p_;
    bool negative = false;
    if (q < end_ && *q == '-') {
        negative = true;
        ++q;
    }
    const char* digits = q;
    if (q < end_ && *q == '0') {
        ++q;
    } else if (q < end_ && *q >= '1' && *q <= '9') {
        while (q < end_ && is_digit(*q)) {
            ++q;
        }
    } else {
        fail_at(start, "expecting a value");
    }
    std::size_t integer_digits = static_cast<std::size_t>(q - digits);
    bool integer = true;
    if (q < end_ && *q == '.') {
        // Python's pattern wants a digit after the point; without one the
        // number ends before it and the '.' is then a syntax error anyway.
        if (q + 1 >= end_ || !is_digit(q[1])) {
            fail_at(q, "expecting a digit after '.'");
        }
        integer = false;
        q += 2;
        while (q < end_ && is_digit(*q)) {
            ++q;
        }
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
        const char* e = q + 1;
        if (e < end_ && (*e == '+' || *e == '-')) {
            ++e;
        }
        if (e >= end_ || !is_digit(*e)) {
            fail_at(q, "expecting an exponent");
        }
        integer = false;
        q = e;
        while (q < end_ && is_digit(*q)) {
            ++q;
        }
    }
    out.text = std::string_view(start, static_cast<std::size_t>(q - start));
    out.integer = integer;
    if (integer) {
        if (integer_digits > kMaxIntegerDigits) {
            throw Error(Error::Kind::Limit, offset(), "integer with too many digits");
        }
        if (integer_digits <= 18) {
            std::int64_t value = 0;
            for (const char* d = digits; d < q; ++d) {
                value = value * 10 + (*d - '0');
            }
            out.value = negative ? -value : value;
            out.fits_int64 = true;
        }
    }
    p_ = q;
    return out;
}

void Reader::expect_literal(const char* word, std::size_t length) {
    skip_whitespace();
    if (static_cast<std::size_t>(end_ - p_) < length || std::memcmp(p_, word, length) != 0) {
        fail("expecting a value");
    }
    p_ += length;
}

bool Reader::read_bool() {
    skip_whitespace();
    if (p_ < end_ && *p_ == 't') {
        expect_literal("true", 4);
        return true;
    }
    expect_literal("false", 5);
    return false;
}

void Reader::read_null() { expect_literal("null", 4); }

double Reader::read_special() {
    skip_whitespace();
    if (p_ < end_ && *p_ == 'N') {
        expect_literal("NaN", 3);
        return std::numeric_limits<double>::quiet_NaN();
    }
    if (p_ < end_ && *p_ == '-') {
        expect_literal("-Infinity", 9);
        return -std::numeric_limits<double>::infinity();
    }
    expect_literal("Infinity", 8);
    return std::numeric_limits<double>::infinity();
}

void Reader::skip_value() {
    switch (peek()) {
        case Token::Object: {
            enter_object();
            String key;
            while (next_key(key)) {
                skip_value();
            }
            return;
        }
        case Token::Array:
            enter_array();
            while (next_item()) {
                skip_value();
            }
            return;
        case Token::String:
            read_string();
            return;
        case Token::Number:
            read_number();
            return;
        case Token::True:
        case Token::False:
            read_bool();
            return;
        case Token::Null:
            read_null();
            return;
        case Token::NaN:
        case Token::Infinity:
        case Token::NegInfinity:
            read_special();
            return;
    }
}

void Reader::finish() {
    skip_whitespace();
    if (p_ != end_) {
        fail("extra data after the document");
    }
}

}  // namespace json
}  // namespace aboto3
