// AWS Signature Version 4 for header-signed requests, byte for byte what
// botocore's SigV4Auth / S3SigV4Auth compute. SHA-256 and HMAC are written
// here so the signer needs no library and is in every build of _core.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aboto3 {

using Digest = std::array<std::uint8_t, 32>;

// Incremental SHA-256 (FIPS 180-4).
class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    void update(std::string_view text) { update(text.data(), text.size()); }
    Digest finish();

private:
    void compress(const std::uint8_t* blocks, std::size_t count);

    std::array<std::uint32_t, 8> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t total_ = 0;
};

Digest sha256(std::string_view data);

// HMAC-SHA256 (RFC 2104) with a fixed key: the two padded key blocks are
// hashed once, when it is made.
class HmacSha256 {
public:
    explicit HmacSha256(std::string_view key);
    Digest operator()(std::string_view message) const;

private:
    Sha256 inner_;
    Sha256 outer_;
};

Digest hmac_sha256(std::string_view key, std::string_view message);
std::string to_hex(const Digest& digest);
void append_hex(std::string& out, const Digest& digest);

// One header as botocore holds it: name as given, value already UTF-8 whose
// whitespace runs have been collapsed when it was not plain ASCII. Both are
// views into strings the caller keeps alive while it signs.
struct SignedHeader {
    std::string_view name;
    std::string_view value;
};

// What the signer needs of one request; everything else is botocore's.
struct SigningInput {
    std::string_view method;
    std::string_view url;
    // botocore's canonical query string when the request carries `params`;
    // otherwise it is taken from the URL.
    std::optional<std::string_view> canonical_query;
    std::vector<SignedHeader> headers;
    std::string_view payload_hash;
    std::string_view access_key;
    std::string_view secret_key;
    std::string_view timestamp;  // 20150830T123600Z
    std::string_view region;
    std::string_view service;
    bool normalize_path;  // SigV4Auth normalizes and re-quotes; S3 signs the path as sent
};

class SigV4Signer {
public:
    // `unsigned_headers`: botocore's SIGNED_HEADERS_BLACKLIST (lowercase),
    // which differs between botocore versions.
    explicit SigV4Signer(std::vector<std::string> unsigned_headers);

    // The Authorization header value, or nothing when the request has a shape
    // this signer does not reproduce exactly (botocore then signs it).
    std::optional<std::string> authorization(const SigningInput& input);

    // The canonical request botocore would hash (exposed for tests).
    std::optional<std::string> canonical_request(const SigningInput& input,
                                                 std::string* signed_headers) const;

private:
    HmacSha256 signing_key(std::string_view secret, std::string_view date,
                           std::string_view region, std::string_view service);

    // A derived key, ready to sign with: four HMACs and two key blocks saved
    // per call.
    struct CachedKey {
        std::string secret, date, region, service;
        HmacSha256 key;
    };

    static constexpr std::size_t kCachedKeys = 32;

    std::vector<std::string> unsigned_headers_;
    std::mutex mutex_;  // guards keys_ and next_replaced_
    std::vector<CachedKey> keys_;  // one per credentials, day, region and service
    std::size_t next_replaced_ = 0;
};

}  // namespace aboto3
