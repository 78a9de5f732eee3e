#include "json_writer.h"

#include <charconv>

namespace aboto3 {
namespace json {

namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Printable ASCII that json.dumps leaves as it is.
inline bool plain(std::uint32_t c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; }

}  // namespace

void Writer::escape(std::uint32_t c) {
    switch (c) {
        case '"': text_.append("\\\""); return;
        case '\\': text_.append("\\\\"); return;
        case '\b': text_.append("\\b"); return;
        case '\f': text_.append("\\f"); return;
        case '\n': text_.append("\\n"); return;
        case '\r': text_.append("\\r"); return;
        case '\t': text_.append("\\t"); return;
        default: break;
    }
    auto unit = [this](std::uint32_t u) {
        char out[6] = {'\\', 'u', kHex[(u >> 12) & 15], kHex[(u >> 8) & 15], kHex[(u >> 4) & 15],
                       kHex[u & 15]};
        text_.append(out, sizeof out);
    };
    if (c >= 0x10000) {
        c -= 0x10000;
        unit(0xd800 | (c >> 10));
        unit(0xdc00 | (c & 0x3ff));
    } else {
        unit(c);
    }
}

template <class Unit>
void Writer::escaped(const Unit* units, std::size_t count) {
    text_.push_back('"');
    std::size_t run = 0;  // start of the current run of plain characters
    for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t c = units[i];
        if (plain(c)) {
            continue;
        }
        for (std::size_t k = run; k < i; ++k) {
            text_.push_back(static_cast<char>(units[k]));
        }
        escape(c);
        run = i + 1;
    }
    if constexpr (sizeof(Unit) == 1) {
        text_.append(reinterpret_cast<const char*>(units) + run, count - run);
    } else {
        for (std::size_t k = run; k < count; ++k) {
            text_.push_back(static_cast<char>(units[k]));
        }
    }
    text_.push_back('"');
}

void Writer::string(const std::uint8_t* units, std::size_t count) {
    // Most strings are plain ASCII: one scan, one append.
    std::size_t i = 0;
    while (i < count && plain(units[i])) {
        ++i;
    }
    if (i == count) {
        text_.push_back('"');
        text_.append(reinterpret_cast<const char*>(units), count);
        text_.push_back('"');
        return;
    }
    escaped(units, count);
}

void Writer::string(const std::uint16_t* units, std::size_t count) { escaped(units, count); }

void Writer::string(const std::uint32_t* units, std::size_t count) { escaped(units, count); }

void Writer::base64_string(const unsigned char* data, std::size_t size) {
    std::size_t start = text_.size();
    text_.resize(start + 2 + (size + 2) / 3 * 4);
    char* out = &text_[start];
    *out++ = '"';
    std::size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                          data[i + 2];
        *out++ = kBase64[v >> 18];
        *out++ = kBase64[(v >> 12) & 63];
        *out++ = kBase64[(v >> 6) & 63];
        *out++ = kBase64[v & 63];
    }
    if (size - i == 1) {
        std::uint32_t v = std::uint32_t{data[i]} << 16;
        *out++ = kBase64[v >> 18];
        *out++ = kBase64[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (size - i == 2) {
        std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
        *out++ = kBase64[v >> 18];
        *out++ = kBase64[(v >> 12) & 63];
        *out++ = kBase64[(v >> 6) & 63];
        *out++ = '=';
    }
    *out = '"';
}

void Writer::integer(long long value) {
    char digits[24];
    auto result = std::to_chars(digits, digits + sizeof digits, value);
    text_.append(digits, static_cast<std::size_t>(result.ptr - digits));
}

}  // namespace json
}  // namespace aboto3
