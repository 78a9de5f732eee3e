#include "sigv4.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ABOTO3_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace aboto3 {

// ---- SHA-256 ---------------------------------------------------------------

namespace {

constexpr std::array<std::uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }


// The portable compression function, one 64-byte block at a time.
void compress_portable(std::uint32_t* state, const std::uint8_t* block, std::size_t count) {
    for (; count > 0; --count, block += 64) {
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i) {
            w[i] = (std::uint32_t(block[4 * i]) << 24) | (std::uint32_t(block[4 * i + 1]) << 16) |
                   (std::uint32_t(block[4 * i + 2]) << 8) | std::uint32_t(block[4 * i + 3]);
        }
        for (int i = 16; i < 64; ++i) {
            std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        std::uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; ++i) {
            std::uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                               ((e & f) ^ (~e & g)) + kRound[i] + w[i];
            std::uint32_t t2 =
                (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

#ifdef ABOTO3_SHA_NI
// The x86 SHA extensions (most x86-64 CPUs since 2017): about ten times fewer
// instructions per block. The state is kept as the two halves the
// sha256rnds2 instruction works on, ABEF and CDGH.
__attribute__((target("sha,sse4.1,ssse3"))) void compress_sha_ni(std::uint32_t* state,
                                                                const std::uint8_t* block,
                                                                std::size_t count) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
    __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (; count > 0; --count, block += 64) {
        const __m128i abef_before = abef;
        const __m128i cdgh_before = cdgh;
        __m128i w[4];  // the message schedule, four words per entry, rolling
        for (int group = 0; group < 16; ++group) {
            __m128i& words = w[group % 4];
            if (group < 4) {
                words = _mm_shuffle_epi8(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * group)),
                    byte_swap);
            } else {
                // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time.
                __m128i previous = w[(group + 3) % 4];
                __m128i sum = _mm_add_epi32(_mm_sha256msg1_epu32(words, w[(group + 1) % 4]),
                                            _mm_alignr_epi8(previous, w[(group + 2) % 4], 4));
                words = _mm_sha256msg2_epu32(sum, previous);
            }
            __m128i input = _mm_add_epi32(
                words, _mm_loadu_si128(reinterpret_cast<const __m128i*>(&kRound[4 * group])));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, input);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(input, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

bool cpu_has_sha_ni() {
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    const bool ssse3 = (ecx & (1u << 9)) != 0, sse41 = (ecx & (1u << 19)) != 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    return ssse3 && sse41 && (ebx & (1u << 29)) != 0;
}
#endif

using CompressFn = void (*)(std::uint32_t*, const std::uint8_t*, std::size_t);

CompressFn pick_compress() {
#ifdef ABOTO3_SHA_NI
    if (cpu_has_sha_ni() && std::getenv("ABOTO3_PORTABLE_SHA256") == nullptr) {
        return compress_sha_ni;
    }
#endif
    return compress_portable;
}

const CompressFn compress_blocks = pick_compress();

}  // namespace

Sha256::Sha256()
    : state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
             0x5be0cd19} {}

void Sha256::compress(const std::uint8_t* blocks, std::size_t count) {
    compress_blocks(state_.data(), blocks, count);
}

void Sha256::update(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    total_ += size;
    if (buffered_ > 0) {
        std::size_t take = std::min(size, buffer_.size() - buffered_);
        std::memcpy(buffer_.data() + buffered_, bytes, take);
        buffered_ += take;
        bytes += take;
        size -= take;
        if (buffered_ < buffer_.size()) {
            return;
        }
        compress(buffer_.data(), 1);
        buffered_ = 0;
    }
    if (size >= 64) {
        compress(bytes, size / 64);
        bytes += size - size % 64;
        size %= 64;
    }
    std::memcpy(buffer_.data(), bytes, size);
    buffered_ = size;
}

Digest Sha256::finish() {
    const std::uint64_t bits = total_ * 8;
    buffer_[buffered_++] = 0x80;
    if (buffered_ > 56) {
        std::memset(buffer_.data() + buffered_, 0, buffer_.size() - buffered_);
        compress(buffer_.data(), 1);
        buffered_ = 0;
    }
    std::memset(buffer_.data() + buffered_, 0, 56 - buffered_);
    for (int i = 0; i < 8; ++i) {
        buffer_[56 + i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    }
    compress(buffer_.data(), 1);
    buffered_ = 0;
    Digest out;
    for (int i = 0; i < 8; ++i) {
        out[4 * i] = static_cast<std::uint8_t>(state_[i] >> 24);
        out[4 * i + 1] = static_cast<std::uint8_t>(state_[i] >> 16);
        out[4 * i + 2] = static_cast<std::uint8_t>(state_[i] >> 8);
        out[4 * i + 3] = static_cast<std::uint8_t>(state_[i]);
    }
    return out;
}

Digest sha256(std::string_view data) {
    Sha256 hash;
    hash.update(data);
    return hash.finish();
}

HmacSha256::HmacSha256(std::string_view key) {
    std::array<std::uint8_t, 64> block{};
    if (key.size() > block.size()) {
        Digest short_key = sha256(key);
        std::memcpy(block.data(), short_key.data(), short_key.size());
    } else {
        std::memcpy(block.data(), key.data(), key.size());
    }
    std::array<std::uint8_t, 64> pad;
    for (std::size_t i = 0; i < pad.size(); ++i) {
        pad[i] = block[i] ^ 0x36;
    }
    inner_.update(pad.data(), pad.size());
    for (std::size_t i = 0; i < pad.size(); ++i) {
        pad[i] = block[i] ^ 0x5c;
    }
    outer_.update(pad.data(), pad.size());
}

Digest HmacSha256::operator()(std::string_view message) const {
    Sha256 inner = inner_;
    inner.update(message);
    Digest inner_digest = inner.finish();
    Sha256 outer = outer_;
    outer.update(inner_digest.data(), inner_digest.size());
    return outer.finish();
}

Digest hmac_sha256(std::string_view key, std::string_view message) {
    return HmacSha256(key)(message);
}

void append_hex(std::string& out, const Digest& digest) {
    static const char kHex[] = "0123456789abcdef";
    for (std::uint8_t byte : digest) {
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xf]);
    }
}

std::string to_hex(const Digest& digest) {
    std::string out;
    out.reserve(digest.size() * 2);
    append_hex(out, digest);
    return out;
}

// ---- canonical request -------------------------------------------------------

namespace {

std::string_view as_view(const Digest& digest) {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// What Python's str.split() treats as whitespace, within ASCII.
bool is_python_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

// ' '.join(value.split()): SigV4's Trimall.
void append_trimmed(std::string& out, std::string_view value) {
    // Most values are already trimmed: single spaces between words.
    bool trimmed = value.empty() || (value.front() != ' ' && value.back() != ' ');
    for (std::size_t i = 0; trimmed && i < value.size(); ++i) {
        if (static_cast<unsigned char>(value[i]) <= ' ') {  // a space is never last here
            trimmed = value[i] == ' ' && value[i + 1] != ' ';
        }
    }
    if (trimmed) {
        out.append(value);
        return;
    }
    bool pending_space = false;
    bool any = false;
    for (char c : value) {
        if (is_python_space(static_cast<unsigned char>(c))) {
            pending_space = any;
            continue;
        }
        if (pending_space) {
            out.push_back(' ');
            pending_space = false;
        }
        out.push_back(c);
        any = true;
    }
}

// urllib.parse.quote(text, safe=...) over ASCII input.
void append_quoted(std::string& out, std::string_view text, std::string_view safe) {
    static const char kHex[] = "0123456789ABCDEF";
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        bool keep = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                    (byte >= '0' && byte <= '9') || c == '_' || c == '.' || c == '-' ||
                    c == '~' || safe.find(c) != std::string_view::npos;
        if (keep) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 0xf]);
        }
    }
}

// botocore.utils.normalize_url_path: RFC 3986 dot-segment removal that also
// drops empty segments (AWS wants consecutive slashes collapsed).
std::string normalize_url_path(std::string_view path) {
    if (path.empty()) {
        return "/";
    }
    std::vector<std::string_view> kept;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) {
            end = path.size();
        }
        std::string_view segment = path.substr(start, end - start);
        if (!segment.empty() && segment != ".") {
            if (segment == "..") {
                if (!kept.empty()) {
                    kept.pop_back();
                }
            } else {
                kept.push_back(segment);
            }
        }
        start = end + 1;
    }
    std::string out;
    if (path.front() == '/') {
        out.push_back('/');
    }
    for (std::size_t i = 0; i < kept.size(); ++i) {
        if (i > 0) {
            out.push_back('/');
        }
        out.append(kept[i]);
    }
    if (path.back() == '/' && !kept.empty()) {
        out.push_back('/');
    }
    return out;
}

// The pieces urllib.parse.urlsplit gives botocore, for the URLs botocore
// sends: http(s), printable ASCII, no userinfo, no IPv6 literal.
struct UrlParts {
    bool https = false;
    std::string_view netloc;
    std::string_view path;
    std::string_view query;
};

std::optional<UrlParts> split_url(std::string_view url) {
    for (char c : url) {
        if (c <= ' ' || c > '~') {
            return std::nullopt;  // urlsplit strips or rejects some of these
        }
    }
    UrlParts parts;
    std::string_view rest;
    if (url.substr(0, 8) == "https://") {
        parts.https = true;
        rest = url.substr(8);
    } else if (url.substr(0, 7) == "http://") {
        rest = url.substr(7);
    } else {
        return std::nullopt;
    }
    std::size_t netloc_end = std::min(rest.find_first_of("/?#"), rest.size());
    parts.netloc = rest.substr(0, netloc_end);
    if (parts.netloc.find_first_of("@[]") != std::string_view::npos) {
        return std::nullopt;
    }
    rest = rest.substr(netloc_end);
    rest = rest.substr(0, std::min(rest.find('#'), rest.size()));
    std::size_t question = rest.find('?');
    if (question == std::string_view::npos) {
        parts.path = rest;
    } else {
        parts.path = rest.substr(0, question);
        parts.query = rest.substr(question + 1);
    }
    return parts;
}

// botocore.auth._host_from_url: lowercase host, the port only when it is not
// the scheme's default.
std::optional<std::string> host_from_url(const UrlParts& parts) {
    std::string_view netloc = parts.netloc;
    std::size_t colon = netloc.find(':');
    std::string_view host = netloc.substr(0, std::min(colon, netloc.size()));
    if (host.empty()) {
        return std::nullopt;
    }
    std::string out;
    for (char c : host) {
        out.push_back(ascii_lower(c));
    }
    if (colon == std::string_view::npos || colon + 1 == netloc.size()) {
        return out;
    }
    unsigned long port = 0;
    for (char c : netloc.substr(colon + 1)) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        port = port * 10 + static_cast<unsigned long>(c - '0');
        if (port > 65535) {
            return std::nullopt;  // urlsplit raises; botocore's error then
        }
    }
    if (port != (parts.https ? 443UL : 80UL)) {
        out.push_back(':');
        out.append(std::to_string(port));
    }
    return out;
}

// SigV4Auth._canonical_query_string_url: the query as sent, pairs sorted.
void append_url_query(std::string& out, std::string_view query) {
    if (query.empty()) {
        return;
    }
    std::vector<std::pair<std::string_view, std::string_view>> pairs;
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t end = std::min(query.find('&', start), query.size());
        std::string_view pair = query.substr(start, end - start);
        std::size_t equals = pair.find('=');
        if (equals == std::string_view::npos) {
            pairs.emplace_back(pair, std::string_view());
        } else {
            pairs.emplace_back(pair.substr(0, equals), pair.substr(equals + 1));
        }
        start = end + 1;
    }
    std::sort(pairs.begin(), pairs.end());
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (i > 0) {
            out.push_back('&');
        }
        out.append(pairs[i].first);
        out.push_back('=');
        out.append(pairs[i].second);
    }
}

}  // namespace

// ---- signer ------------------------------------------------------------------

SigV4Signer::SigV4Signer(std::vector<std::string> unsigned_headers)
    : unsigned_headers_(std::move(unsigned_headers)) {}

std::optional<std::string> SigV4Signer::canonical_request(const SigningInput& input,
                                                          std::string* signed_headers) const {
    std::optional<UrlParts> url = split_url(input.url);
    if (!url) {
        return std::nullopt;
    }
    // headers_to_sign: lowercase names, minus the ones SigV4 leaves out. The
    // names are lowered into one string, reserved up front so views stay put.
    std::size_t names_size = 0;
    for (const SignedHeader& header : input.headers) {
        names_size += header.name.size();
    }
    std::string lowered;
    lowered.reserve(names_size);
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    headers.reserve(input.headers.size() + 1);
    bool has_host = false;
    for (const SignedHeader& header : input.headers) {
        const std::size_t start = lowered.size();
        lowered.resize(start + header.name.size());
        char* to = &lowered[start];
        for (char c : header.name) {
            if (c <= ' ' || c > '~') {
                return std::nullopt;  // botocore strips some of these in one place only
            }
            *to++ = ascii_lower(c);
        }
        std::string_view name(lowered.data() + start, header.name.size());
        if (std::find(unsigned_headers_.begin(), unsigned_headers_.end(), name) !=
            unsigned_headers_.end()) {
            lowered.resize(start);
            continue;
        }
        has_host = has_host || name == "host";
        headers.emplace_back(name, header.value);
    }
    std::string host;
    if (!has_host) {
        std::optional<std::string> derived = host_from_url(*url);
        if (!derived) {
            return std::nullopt;
        }
        host = std::move(*derived);
        headers.emplace_back("host", host);
    }
    // Sorted by name; values of a repeated header keep their order. A request
    // has a handful of headers: an insertion sort, stable and allocation-free.
    for (std::size_t i = 1; i < headers.size(); ++i) {
        const auto header = headers[i];
        std::size_t j = i;
        for (; j > 0 && header.first < headers[j - 1].first; --j) {
            headers[j] = headers[j - 1];
        }
        headers[j] = header;
    }

    std::string out;
    out.reserve(512);
    for (char c : input.method) {
        out.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
    }
    out.push_back('\n');
    if (input.normalize_path) {
        append_quoted(out, normalize_url_path(url->path), "/~");
    } else {
        out.append(url->path);
    }
    out.push_back('\n');
    if (input.canonical_query) {
        out.append(*input.canonical_query);
    } else {
        append_url_query(out, url->query);
    }
    out.push_back('\n');
    std::string names;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        std::string_view name = headers[i].first;
        if (i > 0 && name == headers[i - 1].first) {
            out.push_back(',');  // repeated header: values joined by commas
        } else {
            if (i > 0) {
                out.push_back('\n');
                names.push_back(';');
            }
            out.append(name);
            out.push_back(':');
            names.append(name);
        }
        append_trimmed(out, headers[i].second);
    }
    out.append("\n\n");
    out.append(names);
    out.push_back('\n');
    out.append(input.payload_hash);
    if (signed_headers != nullptr) {
        *signed_headers = std::move(names);
    }
    return out;
}

HmacSha256 SigV4Signer::signing_key(std::string_view secret, std::string_view date,
                                    std::string_view region, std::string_view service) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const CachedKey& cached : keys_) {
        if (cached.secret == secret && cached.date == date && cached.region == region &&
            cached.service == service) {
            return cached.key;
        }
    }
    std::string seed = "AWS4";
    seed.append(secret);
    Digest k_date = hmac_sha256(seed, date);
    Digest k_region = hmac_sha256(as_view(k_date), region);
    Digest k_service = hmac_sha256(as_view(k_region), service);
    HmacSha256 k_signing(as_view(hmac_sha256(as_view(k_service), "aws4_request")));
    CachedKey made{std::string(secret), std::string(date), std::string(region),
                   std::string(service), k_signing};
    if (keys_.size() < kCachedKeys) {
        keys_.push_back(std::move(made));
    } else {
        // Dates roll over and credentials rotate: replace the oldest.
        keys_[next_replaced_] = std::move(made);
        next_replaced_ = (next_replaced_ + 1) % kCachedKeys;
    }
    return k_signing;
}

std::optional<std::string> SigV4Signer::authorization(const SigningInput& input) {
    if (input.timestamp.size() < 8) {
        return std::nullopt;
    }
    std::string signed_headers;
    std::optional<std::string> request = canonical_request(input, &signed_headers);
    if (!request) {
        return std::nullopt;
    }
    std::string_view date = input.timestamp.substr(0, 8);
    // The Authorization value is built around the scope, which is also the
    // middle line of the string to sign.
    std::string out = "AWS4-HMAC-SHA256 Credential=";
    out.reserve(out.size() + input.access_key.size() + 64 + input.region.size() +
                input.service.size() + signed_headers.size() + 64);
    out.append(input.access_key).push_back('/');
    const std::size_t scope_start = out.size();
    out.append(date).append("/").append(input.region).append("/");
    out.append(input.service).append("/aws4_request");
    std::string_view scope(out.data() + scope_start, out.size() - scope_start);

    std::string to_sign = "AWS4-HMAC-SHA256\n";
    to_sign.reserve(to_sign.size() + input.timestamp.size() + scope.size() + 2 + 64);
    to_sign.append(input.timestamp).append("\n").append(scope).append("\n");
    append_hex(to_sign, sha256(*request));

    HmacSha256 key = signing_key(input.secret_key, date, input.region, input.service);
    out.append(", SignedHeaders=").append(signed_headers);
    out.append(", Signature=");
    append_hex(out, key(to_sign));
    return out;
}

}  // namespace aboto3
