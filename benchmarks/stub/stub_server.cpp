// stub_server.cpp - a tiny, fast fake AWS endpoint for the aboto3 benchmarks.
//
// Single C++17 file, Linux only (epoll, signalfd, eventfd).  Each worker is a
// single-threaded, non-blocking event loop owning its own listening socket
// (several workers share the port through SO_REUSEPORT when --threads > 1).
//
// It speaks just enough HTTP/1.1 (keep-alive, pipelining, Content-Length and
// chunked bodies, Expect: 100-continue) and just enough AWS to be driven by
// real botocore clients:
//
//   JSON protocol (selected by the X-Amz-Target header)
//     AmazonSSM.GetParameter, AmazonSSM.DescribeParameters (paginated),
//     DynamoDB_20120810.GetItem, .Query (100 items of about 400 bytes), .Scan
//     (a 1 MB first page with LastEvaluatedKey, then a last page), .PutItem and
//     .BatchWriteItem (every DynamoDB answer with the x-amz-crc32 header
//     botocore checks)
//   S3 REST, path style
//     GET / HEAD / PUT /<bucket>/<key>; a key ending in "-<digits>" makes the
//     object that many bytes long, otherwise it is 1024 bytes.
//     GET /bench-logs?list-type=2: ListObjectsV2 of a bucket of 10,000 log
//     objects, 1,000 keys a page.
//   GET /__stats
//     request / connection counters and the CPU time used by this process.
//
// --latency-ms N delays every final response by N ms with timers driven by the
// epoll_wait timeout: nothing ever sleeps, so other connections keep being
// served while responses wait.
//
// Build: g++ -O2 -std=c++17 -Wall -Wextra -pthread stub_server.cpp -o stub_server
// Usage: stub_server [--host 127.0.0.1] [--port 0] [--latency-ms N] [--threads N]
// Prints "PORT <n>" once listening; exits with status 0 on SIGTERM / SIGINT.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

// Owning file descriptor (RAII).  Move-only.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
  int64_t latency_ms = 0;
  int threads = 1;
};

// Process-wide counters reported by /__stats.
std::atomic<uint64_t> g_requests{0};
std::atomic<int64_t> g_connections{0};

int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "stub_server: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// Shared, read-only object body.  Byte i of every object is (i & 0xff); the
// block size is a multiple of 256, so an object of any size (or any range of
// it) is written as a sequence of slices of this one block.
constexpr size_t kBodyBlock = size_t{1} << 20;

const char* body_block() {
  static const std::vector<char> block = [] {
    std::vector<char> b(kBodyBlock);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>(i & 0xffU);
    return b;
  }();
  return block.data();
}

// CRC-32 (IEEE 802.3, same as zlib.crc32), table generated at compile time.
struct Crc32Table {
  uint32_t entries[256] = {};
  constexpr Crc32Table() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) ? (0xEDB88320U ^ (c >> 1)) : (c >> 1);
      entries[i] = c;
    }
  }
};
constexpr Crc32Table kCrcTable;

uint32_t crc32(std::string_view data) noexcept {
  uint32_t c = 0xFFFFFFFFU;
  for (const char ch : data) {
    c = kCrcTable.entries[(c ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (c >> 8);
  }
  return c ^ 0xFFFFFFFFU;
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) noexcept {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses a non-empty run of decimal digits filling `s` entirely.
bool parse_u64(std::string_view s, uint64_t& out) noexcept {
  if (s.empty() || s.size() > 19) return false;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

void append_u64(std::string& out, uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// ---------------------------------------------------------------------------
// Minimal JSON scanning (enough for the flat request bodies botocore sends)
// ---------------------------------------------------------------------------

size_t skip_ws(std::string_view s, size_t i) noexcept {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// Finds `"key"` followed by ':' at or after `from`; returns the index of the
// first non-blank character of its value, or npos.
size_t json_value_pos(std::string_view body, std::string_view key, size_t from = 0) {
  std::string quoted;
  quoted.reserve(key.size() + 2);
  quoted += '"';
  quoted += key;
  quoted += '"';
  for (size_t at = body.find(quoted, from); at != std::string_view::npos;
       at = body.find(quoted, at + 1)) {
    const size_t colon = skip_ws(body, at + quoted.size());
    if (colon < body.size() && body[colon] == ':') return skip_ws(body, colon + 1);
  }
  return std::string_view::npos;
}

// Reads the string value starting at `pos` (which must point at '"').  The
// raw, still-escaped content is returned, which can be echoed verbatim into a
// JSON string.
bool json_string_at(std::string_view body, size_t pos, std::string_view& out) {
  if (pos >= body.size() || body[pos] != '"') return false;
  for (size_t i = pos + 1; i < body.size(); ++i) {
    if (body[i] == '\\') {
      ++i;
    } else if (body[i] == '"') {
      out = body.substr(pos + 1, i - pos - 1);
      return true;
    }
  }
  return false;
}

bool json_string(std::string_view body, std::string_view key, std::string_view& out) {
  return json_string_at(body, json_value_pos(body, key), out);
}

bool json_int(std::string_view body, std::string_view key, int64_t& out) {
  const size_t pos = json_value_pos(body, key);
  if (pos == std::string_view::npos) return false;
  const auto res = std::from_chars(body.data() + pos, body.data() + body.size(), out);
  return res.ec == std::errc();
}

// Drops characters that could break out of a JSON string (for error messages).
void append_json_safe(std::string& out, std::string_view s) {
  for (const char c : s) {
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) out += c;
  }
}

// ---------------------------------------------------------------------------
// Big, deterministic responses: DynamoDB Query and Scan pages, S3 listings
// ---------------------------------------------------------------------------
//
// What async services read all day, and what botocore's response parser is
// slow on.  Every field is a function of the item's (or object's) index, so
// every run, every process and every client sees the same bytes.

// A well-mixed 64-bit function of `x` (the splitmix64 finaliser): stands in
// for the variety of real data (prices, sizes, ETags) without any state.
uint64_t mix64(uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

void append_base64(std::string& out, const unsigned char* data, size_t len) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < len; i += 3) {
    const size_t n = std::min<size_t>(3, len - i);
    uint32_t v = static_cast<uint32_t>(data[i]) << 16;
    if (n > 1) v |= static_cast<uint32_t>(data[i + 1]) << 8;
    if (n > 2) v |= data[i + 2];
    out += kAlphabet[(v >> 18) & 63U];
    out += kAlphabet[(v >> 12) & 63U];
    out += n > 1 ? kAlphabet[(v >> 6) & 63U] : '=';
    out += n > 2 ? kAlphabet[v & 63U] : '=';
  }
}

// Appends what snprintf makes of `format` (the fields here are short).
template <typename... Args>
void append_format(std::string& out, const char* format, Args... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, format, args...);
  if (n < 0 || static_cast<size_t>(n) >= sizeof buf) {
    std::fprintf(stderr, "stub_server: a generated field does not fit its buffer\n");
    std::abort();
  }
  out.append(buf, static_cast<size_t>(n));
}

// A response body computed once, with the CRC-32 DynamoDB sends beside it.
struct CachedBody {
  std::string text;
  uint32_t crc = 0;
};

constexpr std::string_view kStatuses[] = {"PENDING", "SHIPPED", "DELIVERED", "RETURNED"};
constexpr std::string_view kCities[] = {"Springfield", "Riverton", "Lakeside", "Fairview",
                                        "Georgetown"};
constexpr size_t kQueryItems = 100;
constexpr size_t kScanPageBytes = 1024 * 1024;  // DynamoDB stops a page at 1 MB
constexpr size_t kScanLastPageItems = 100;
constexpr uint64_t kPartitionItems = 25;  // a Scan crosses partitions of this many items

// One order item of about 400 bytes of JSON, with every attribute type a
// page carries: S, N, BOOL, a nested M, an L of M, and a B blob.
void append_item(std::string& out, uint64_t pk, uint64_t i) {
  const uint64_t r = mix64(i);
  append_format(out, R"({"pk":{"S":"user#%llu"},"sk":{"S":"order#2025-01-%02uT%02u:%02u:%02uZ#%06llu"},)",
                static_cast<unsigned long long>(pk), static_cast<unsigned>(1 + i % 28),
                static_cast<unsigned>(r % 24), static_cast<unsigned>((r >> 8) % 60),
                static_cast<unsigned>((r >> 16) % 60), static_cast<unsigned long long>(i));
  const std::string_view status = kStatuses[(r >> 24) % 4];
  append_format(out, R"("status":{"S":"%.*s"},"total":{"N":"%u.%02u"},"gift":{"BOOL":%s},)",
                static_cast<int>(status.size()), status.data(),
                static_cast<unsigned>((r >> 28) % 2000), static_cast<unsigned>((r >> 40) % 100),
                (r >> 52) & 1U ? "true" : "false");
  const std::string_view city = kCities[(r >> 53) % 5];
  append_format(out,
                R"("customer":{"M":{"id":{"S":"cust-%05llu"},)"
                R"("address":{"M":{"city":{"S":"%.*s"},"zip":{"S":"%05u"}}}}},)",
                static_cast<unsigned long long>(pk), static_cast<int>(city.size()), city.data(),
                static_cast<unsigned>(mix64(pk) % 100000));
  const uint64_t s = mix64(i + 1000003);
  append_format(out,
                R"("lines":{"L":[{"M":{"sku":{"S":"SKU-%05u"},"qty":{"N":"%u"},"price":{"N":"%u.%02u"}}}]},)"
                R"("thumbnail":{"B":")",
                static_cast<unsigned>(s % 100000), static_cast<unsigned>(1 + (s >> 17) % 4),
                static_cast<unsigned>((s >> 20) % 500), static_cast<unsigned>((s >> 29) % 100));
  unsigned char blob[24];
  for (size_t k = 0; k < sizeof blob; ++k) blob[k] = static_cast<unsigned char>(mix64(i * 64 + k));
  append_base64(out, blob, sizeof blob);
  append_format(out, R"("},"updated_at":{"N":"%llu"}})",
                static_cast<unsigned long long>(1735689600 + i * 61));
}

void append_key(std::string& out, uint64_t pk, uint64_t i) {
  std::string item;
  append_item(item, pk, i);
  // The key attributes are the item's first two.
  const size_t end = item.find(R"(,"status")");
  out += item.substr(0, end);
  out += '}';
}

CachedBody cached(std::string text) {
  CachedBody body;
  body.crc = crc32(text);
  body.text = std::move(text);
  return body;
}

// Query: one customer's 100 orders (the whole result, no LastEvaluatedKey).
const CachedBody& query_page() {
  static const CachedBody page = [] {
    std::string out = R"({"Count":100,"Items":[)";
    for (uint64_t i = 0; i < kQueryItems; ++i) {
      if (i) out += ',';
      append_item(out, 42, i);
    }
    out += R"(],"ScannedCount":100})";
    return cached(std::move(out));
  }();
  return page;
}

// Scan: the table's first page stops at 1 MB and names its LastEvaluatedKey;
// a Scan that starts from any key gets the rest, the last page.
const CachedBody& scan_page(bool first) {
  static const std::array<CachedBody, 2> pages = [] {
    std::string items;
    uint64_t n = 0;
    while (items.size() < kScanPageBytes - 1024) {
      if (n) items += ',';
      append_item(items, n / kPartitionItems, n);
      ++n;
    }
    std::string page1 = R"({"Count":)";
    append_u64(page1, n);
    page1 += R"(,"Items":[)";
    page1 += items;
    page1 += R"(],"LastEvaluatedKey":)";
    append_key(page1, (n - 1) / kPartitionItems, n - 1);
    page1 += R"(,"ScannedCount":)";
    append_u64(page1, n);
    page1 += '}';
    std::string page2 = R"({"Count":)";
    append_u64(page2, kScanLastPageItems);
    page2 += R"(,"Items":[)";
    for (uint64_t i = n; i < n + kScanLastPageItems; ++i) {
      if (i != n) page2 += ',';
      append_item(page2, i / kPartitionItems, i);
    }
    page2 += R"(],"ScannedCount":)";
    append_u64(page2, kScanLastPageItems);
    page2 += '}';
    return std::array<CachedBody, 2>{cached(std::move(page1)), cached(std::move(page2))};
  }();
  return pages[first ? 0 : 1];
}

// S3: a bucket of 10,000 log objects listed 1,000 keys a page, in key order
// (the other buckets list nothing: their objects are made up on demand).
constexpr std::string_view kListedBucket = "bench-logs";
constexpr uint64_t kBucketObjects = 10000;
constexpr uint64_t kMaxKeys = 1000;
constexpr size_t kMaxCachedListings = 32;
constexpr std::string_view kStorageClasses[] = {"STANDARD", "STANDARD", "STANDARD",
                                                "STANDARD_IA", "INTELLIGENT_TIERING"};

void append_object_key(std::string& out, uint64_t i) {
  append_format(out, "logs/2025/01/%02u/app-server-%02u/part-%05llu.json.gz",
                static_cast<unsigned>(1 + i / 1000), static_cast<unsigned>((i / 100) % 10),
                static_cast<unsigned long long>(i));
}

void append_contents(std::string& out, uint64_t i, bool owner) {
  const uint64_t r = mix64(i + 77);
  out += "<Contents><Key>";
  append_object_key(out, i);
  append_format(out, "</Key><LastModified>2025-01-%02uT%02u:%02u:%02u.000Z</LastModified>",
                static_cast<unsigned>(1 + i / 1000), static_cast<unsigned>(r % 24),
                static_cast<unsigned>((r >> 8) % 60), static_cast<unsigned>((r >> 16) % 60));
  // S3 escapes the ETag's quotes; multipart uploads carry a part count.
  append_format(out, "<ETag>&quot;%016llx%016llx", static_cast<unsigned long long>(mix64(r)),
                static_cast<unsigned long long>(mix64(r + 1)));
  if (i % 7 == 3) append_format(out, "-%u", static_cast<unsigned>(2 + r % 30));
  out += "&quot;</ETag>";
  if (i % 2 == 0) {
    out += "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>";
  }
  append_format(out, "<Size>%llu</Size>",
                static_cast<unsigned long long>(200 + (r >> 24) % 50000000));
  if (owner) {
    out += "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>";
  }
  const std::string_view storage = kStorageClasses[(r >> 56) % 5];
  out += "<StorageClass>";
  out += storage;
  out += "</StorageClass></Contents>";
}

// The raw (still percent-encoded) value of `name` in a query string.
bool query_param(std::string_view query, std::string_view name, std::string_view& value) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      return true;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

struct Listing {
  uint64_t start = 0;  // index of the first key, from the continuation token
  uint64_t max_keys = kMaxKeys;
  bool owner = false;
  bool url_encoding = false;
  std::string_view token;
};

std::string list_objects_v2(std::string_view bucket, const Listing& l) {
  const uint64_t end = std::min(kBucketObjects, l.start + l.max_keys);
  std::string out;
  out.reserve(400 * (end - l.start) + 512);
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>";
  out += bucket;
  out += "</Name><Prefix></Prefix>";
  if (!l.token.empty()) {
    out += "<ContinuationToken>";
    out += l.token;
    out += "</ContinuationToken>";
  }
  if (end < kBucketObjects) append_format(out, "<NextContinuationToken>1%015llx</NextContinuationToken>",
                                          static_cast<unsigned long long>(end));
  append_format(out, "<KeyCount>%llu</KeyCount><MaxKeys>%llu</MaxKeys>",
                static_cast<unsigned long long>(end - l.start),
                static_cast<unsigned long long>(l.max_keys));
  if (l.url_encoding) out += "<EncodingType>url</EncodingType>";
  out += end < kBucketObjects ? "<IsTruncated>true</IsTruncated>" : "<IsTruncated>false</IsTruncated>";
  for (uint64_t i = l.start; i < end; ++i) append_contents(out, i, l.owner);
  out += "</ListBucketResult>";
  return out;
}

// ---------------------------------------------------------------------------
// HTTP connection state
// ---------------------------------------------------------------------------

enum class Method { kGet, kHead, kPut, kPost, kDelete, kOther };

enum class Phase { kHead, kBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailer };

struct Request {
  Method method = Method::kOther;
  std::string path;    // origin-form target, query string included
  std::string target;  // X-Amz-Target
  std::string range;   // Range
  std::string body;    // kept only for JSON requests (small)
  uint64_t content_length = 0;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;
  bool keep_body = false;

  void reset() {
    method = Method::kOther;
    path.clear();
    target.clear();
    range.clear();
    body.clear();
    content_length = 0;
    chunked = false;
    keep_alive = true;
    expect_continue = false;
    keep_body = false;
  }
};

// One queued piece of output: owned bytes (status line, headers and any small
// body), optionally followed by `body_len` bytes of the shared object body
// starting at object offset `body_off`.
struct Out {
  std::string head;
  uint64_t body_off = 0;
  uint64_t body_len = 0;
  uint64_t sent = 0;
  int64_t ready_at = 0;  // monotonic ns before which nothing may be written

  uint64_t total() const noexcept { return head.size() + body_len; }
};

struct Conn {
  Fd fd;
  uint64_t id = 0;
  std::string inbuf;  // unparsed bytes carried between reads
  std::deque<Out> outq;
  Request req;
  Phase phase = Phase::kHead;
  uint64_t remaining = 0;      // body / chunk bytes still expected
  uint32_t events = 0;         // current epoll interest
  bool read_eof = false;       // peer shut down its sending side
  bool closing = false;        // no more requests; close once outq drains
  bool write_blocked = false;  // waiting for EPOLLOUT
  bool parse_paused = false;   // stopped parsing because outq was full
};

struct Timer {
  int64_t deadline;
  int fd;
  uint64_t conn_id;
};

constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxLineBytes = 8 * 1024;
constexpr size_t kMaxJsonBody = 1024 * 1024;
constexpr size_t kMaxQueued = 128;  // pipelined responses before reads pause
constexpr int kMaxIov = 64;
constexpr uint64_t kMaxWritevBytes = 8 * 1024 * 1024;
constexpr uint64_t kDefaultObjectSize = 1024;
constexpr int kDescribeTotal = 100;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kETag = "\"5d41402abc4b2a76b9719d911017c592\"";
constexpr std::string_view kLastModified = "Wed, 01 Jan 2025 00:00:00 GMT";

// ---------------------------------------------------------------------------
// Worker: one epoll event loop
// ---------------------------------------------------------------------------

class Worker {
 public:
  Worker(int index, Fd listener, const Config& cfg, int stop_fd, int signal_fd)
      : index_(index),
        listener_(std::move(listener)),
        stop_fd_(stop_fd),
        signal_fd_(signal_fd),
        latency_ns_(cfg.latency_ms * 1000000LL),
        scratch_(kReadChunk) {
    epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_.valid()) die("epoll_create1");
    watch(listener_.get(), EPOLLIN);
    watch(stop_fd_, EPOLLIN);
    if (signal_fd_ >= 0) watch(signal_fd_, EPOLLIN);
    reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }

  void run() {
    std::array<epoll_event, 256> events{};
    now_ = monotonic_ns();
    while (!stop_) {
      int timeout = -1;
      if (!timers_.empty()) {
        const int64_t wait_ns = timers_.front().deadline - now_;
        timeout = wait_ns <= 0 ? 0 : static_cast<int>((wait_ns + 999999) / 1000000);
      }
      const int n = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                               timeout);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      now_ = monotonic_ns();
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_.get()) {
          accept_all();
        } else if (fd == stop_fd_) {
          stop_ = true;
        } else if (fd == signal_fd_) {
          on_signal();
        } else {
          on_conn_event(fd, events[i].events);
        }
      }
      fire_timers();
    }
  }

 private:
  void watch(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl(ADD)");
  }

  Conn* find(int fd) noexcept {
    if (fd < 0 || static_cast<size_t>(fd) >= conns_.size()) return nullptr;
    return conns_[static_cast<size_t>(fd)].get();
  }

  void on_signal() {
    signalfd_siginfo info{};
    while (::read(signal_fd_, &info, sizeof info) > 0) {
    }
    const uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) < 0) die("write(eventfd)");
    stop_ = true;
  }

  void accept_all() {
    for (int i = 0; i < 512; ++i) {
      Fd sock(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!sock.valid()) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          // Out of descriptors: use the reserved one to accept and drop the
          // connection, otherwise the level-triggered listener spins.
          reserve_.reset();
          Fd(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)).reset();
          reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
          std::fprintf(stderr, "stub_server: out of file descriptors, dropped a connection\n");
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          std::fprintf(stderr, "stub_server: accept4: %s\n", std::strerror(errno));
        }
        return;
      }
      const int one = 1;
      setsockopt(sock.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const int fd = sock.get();
      auto conn = std::make_unique<Conn>();
      conn->fd = std::move(sock);
      conn->id = ++next_conn_id_;
      conn->events = EPOLLIN;
      watch(fd, EPOLLIN);
      if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(static_cast<size_t>(fd) + 1);
      conns_[static_cast<size_t>(fd)] = std::move(conn);
      g_connections.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void close_conn(int fd) {
    if (find(fd) == nullptr) return;
    conns_[static_cast<size_t>(fd)].reset();  // closing the fd also unregisters it
    g_connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void on_conn_event(int fd, uint32_t events) {
    Conn* c = find(fd);
    if (c == nullptr) return;
    bool ok = (events & EPOLLERR) == 0;
    if (ok && (events & EPOLLHUP) && !(events & EPOLLIN)) ok = false;
    if (ok && (events & EPOLLIN)) ok = on_readable(*c);
    if (ok && (events & EPOLLOUT)) c->write_blocked = false;
    if (ok) ok = service(*c);
    if (!ok) close_conn(fd);
  }

  // Fires every due timer: the responses they guard may now be written.
  // Latency is constant and `now_` never decreases, so deadlines are pushed
  // in order and a FIFO is already sorted (no heap needed).
  void fire_timers() {
    while (!timers_.empty() && timers_.front().deadline <= now_) {
      const Timer t = timers_.front();
      timers_.pop_front();
      Conn* c = find(t.fd);
      if (c == nullptr || c->id != t.conn_id || c->write_blocked) continue;
      if (!service(*c)) close_conn(t.fd);
    }
  }

  bool can_parse(const Conn& c) const noexcept {
    return !c.closing && c.outq.size() < kMaxQueued;
  }

  bool on_readable(Conn& c) {
    if (c.read_eof || c.closing) return true;
    const ssize_t n = ::read(c.fd.get(), scratch_.data(), scratch_.size());
    if (n == 0) {
      c.read_eof = true;
      return true;
    }
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (latency_ns_ > 0) now_ = monotonic_ns();
    const size_t len = static_cast<size_t>(n);
    if (c.inbuf.empty()) {
      // Common case: parse straight from the scratch buffer, keep only the
      // unparsed tail (a partial request) on the connection.
      const size_t used = parse(c, scratch_.data(), len);
      if (used < len) c.inbuf.assign(scratch_.data() + used, len - used);
    } else {
      c.inbuf.append(scratch_.data(), len);
      const size_t used = parse(c, c.inbuf.data(), c.inbuf.size());
      c.inbuf.erase(0, used);
      if (c.inbuf.empty() && c.inbuf.capacity() > kMaxHeaderBytes) std::string().swap(c.inbuf);
    }
    return true;
  }

  // Writes what can be written, resumes paused parsing, and decides whether
  // the connection lives on.  Returns false when it must be closed.
  bool service(Conn& c) {
    for (;;) {
      if (!flush(c)) return false;
      if (!c.parse_paused || !can_parse(c) || c.inbuf.empty()) break;
      const size_t used = parse(c, c.inbuf.data(), c.inbuf.size());
      c.inbuf.erase(0, used);
    }
    if (c.outq.empty() && (c.closing || c.read_eof)) return false;
    uint32_t want = 0;
    if (!c.read_eof && !c.closing && c.outq.size() < kMaxQueued) want |= EPOLLIN;
    if (c.write_blocked) want |= EPOLLOUT;
    if (want != c.events) {
      epoll_event ev{};
      ev.events = want;
      ev.data.fd = c.fd.get();
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) return false;
      c.events = want;
    }
    return true;
  }

  // Sends every ready queued byte it can.  Returns false on a fatal error.
  bool flush(Conn& c) {
    const char* block = body_block();
    while (!c.write_blocked && !c.outq.empty()) {
      std::array<iovec, kMaxIov> iov{};
      int count = 0;
      uint64_t bytes = 0;
      for (const Out& o : c.outq) {
        if (o.ready_at > now_ || count == kMaxIov || bytes >= kMaxWritevBytes) break;
        uint64_t pos = o.sent;
        if (pos < o.head.size()) {
          iov[count++] = {const_cast<char*>(o.head.data()) + pos, o.head.size() - pos};
          bytes += o.head.size() - pos;
          pos = o.head.size();
        }
        while (pos < o.total() && count < kMaxIov && bytes < kMaxWritevBytes) {
          const uint64_t at = (o.body_off + (pos - o.head.size())) % kBodyBlock;
          const uint64_t len = std::min<uint64_t>(kBodyBlock - at, o.total() - pos);
          iov[count++] = {const_cast<char*>(block) + at, static_cast<size_t>(len)};
          bytes += len;
          pos += len;
        }
        if (pos < o.total()) break;
      }
      if (count == 0) break;  // the head of the queue is still waiting for its timer

      msghdr msg{};
      msg.msg_iov = iov.data();
      msg.msg_iovlen = static_cast<size_t>(count);
      const ssize_t n = ::sendmsg(c.fd.get(), &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          c.write_blocked = true;
          break;
        }
        return false;
      }
      uint64_t left = static_cast<uint64_t>(n);
      while (left > 0) {
        Out& front = c.outq.front();
        const uint64_t rest = front.total() - front.sent;
        if (left >= rest) {
          left -= rest;
          c.outq.pop_front();
        } else {
          front.sent += left;
          left = 0;
        }
      }
      // A short write means the socket buffer is full: wait for EPOLLOUT.
      if (static_cast<uint64_t>(n) < bytes) c.write_blocked = true;
    }
    return true;
  }

  // ------------------------------------------------------------------ parser

  // Consumes complete requests (and body bytes) from data[0, len).  Returns
  // the number of bytes consumed; the rest must be presented again later.
  size_t parse(Conn& c, const char* data, size_t len) {
    const std::string_view in(data, len);
    size_t pos = 0;
    c.parse_paused = false;
    while (pos < len) {
      if (!can_parse(c)) {
        c.parse_paused = !c.closing;
        return pos;
      }
      switch (c.phase) {
        case Phase::kHead: {
          const size_t end = in.find("\r\n\r\n", pos);
          if (end == std::string_view::npos) {
            if (len - pos > kMaxHeaderBytes) {
              reject(c, "431 Request Header Fields Too Large");
              return len;
            }
            return pos;
          }
          if (end - pos > kMaxHeaderBytes || !parse_head(c.req, in.substr(pos, end - pos))) {
            reject(c, "400 Bad Request");
            return len;
          }
          pos = end + 4;
          const bool has_body = c.req.chunked || c.req.content_length > 0;
          if (c.req.expect_continue && has_body) {
            Out cont;
            cont.head.assign(kContinue);
            c.outq.push_back(std::move(cont));
          }
          if (c.req.chunked) {
            c.phase = Phase::kChunkSize;
          } else if (c.req.content_length > 0) {
            c.phase = Phase::kBody;
            c.remaining = c.req.content_length;
          } else {
            complete(c);
          }
          break;
        }
        case Phase::kBody:
        case Phase::kChunkData: {
          const size_t take = static_cast<size_t>(std::min<uint64_t>(c.remaining, len - pos));
          if (c.req.keep_body && c.req.body.size() + take <= kMaxJsonBody) {
            c.req.body.append(data + pos, take);
          }
          pos += take;
          c.remaining -= take;
          if (c.remaining == 0) {
            if (c.phase == Phase::kBody) {
              complete(c);
            } else {
              c.phase = Phase::kChunkDataEnd;
            }
          }
          break;
        }
        case Phase::kChunkSize: {
          const size_t eol = in.find("\r\n", pos);
          if (eol == std::string_view::npos) {
            if (len - pos > kMaxLineBytes) {
              reject(c, "400 Bad Request");
              return len;
            }
            return pos;
          }
          // chunk-size [; chunk-ext] ; chunk extensions are ignored.
          std::string_view line = in.substr(pos, eol - pos);
          line = trim(line.substr(0, line.find(';')));
          uint64_t size = 0;
          const auto res = std::from_chars(line.data(), line.data() + line.size(), size, 16);
          if (line.empty() || line.size() > 15 || res.ec != std::errc() ||
              res.ptr != line.data() + line.size()) {
            reject(c, "400 Bad Request");
            return len;
          }
          pos = eol + 2;
          c.remaining = size;
          c.phase = size > 0 ? Phase::kChunkData : Phase::kTrailer;
          break;
        }
        case Phase::kChunkDataEnd: {
          if (len - pos < 2) return pos;
          if (in.compare(pos, 2, "\r\n") != 0) {
            reject(c, "400 Bad Request");
            return len;
          }
          pos += 2;
          c.phase = Phase::kChunkSize;
          break;
        }
        case Phase::kTrailer: {
          const size_t eol = in.find("\r\n", pos);
          if (eol == std::string_view::npos) {
            if (len - pos > kMaxLineBytes) {
              reject(c, "400 Bad Request");
              return len;
            }
            return pos;
          }
          const bool last = eol == pos;  // an empty line ends the trailers
          pos = eol + 2;
          if (last) complete(c);
          break;
        }
      }
    }
    return pos;
  }

  // Parses the request line and headers (without the final blank line).
  static bool parse_head(Request& r, std::string_view head) {
    r.reset();
    size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return false;
    const std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (target.empty() || !starts_with(version, "HTTP/1.")) return false;
    r.keep_alive = version != "HTTP/1.0";

    if (method == "GET") {
      r.method = Method::kGet;
    } else if (method == "HEAD") {
      r.method = Method::kHead;
    } else if (method == "PUT") {
      r.method = Method::kPut;
    } else if (method == "POST") {
      r.method = Method::kPost;
    } else if (method == "DELETE") {
      r.method = Method::kDelete;
    }
    // absolute-form ("http://host/path") -> origin-form
    if (starts_with(target, "http://") || starts_with(target, "https://")) {
      const size_t slash = target.find('/', target.find("//") + 2);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    r.path.assign(target);

    bool have_length = false;
    while (eol != std::string_view::npos) {
      const size_t start = eol + 2;
      eol = head.find("\r\n", start);
      const std::string_view h = head.substr(start, eol == std::string_view::npos
                                                        ? std::string_view::npos
                                                        : eol - start);
      const size_t colon = h.find(':');
      if (colon == std::string_view::npos || colon == 0) return false;
      const std::string_view name = h.substr(0, colon);
      const std::string_view value = trim(h.substr(colon + 1));
      switch (lower(name[0])) {
        case 'c':
          if (iequals(name, "content-length")) {
            uint64_t n = 0;
            if (!parse_u64(value, n) || (have_length && n != r.content_length)) return false;
            r.content_length = n;
            have_length = true;
          } else if (iequals(name, "connection")) {
            if (icontains(value, "close")) {
              r.keep_alive = false;
            } else if (icontains(value, "keep-alive")) {
              r.keep_alive = true;
            }
          }
          break;
        case 't':
          if (iequals(name, "transfer-encoding") && icontains(value, "chunked")) r.chunked = true;
          break;
        case 'e':
          if (iequals(name, "expect") && iequals(value, "100-continue")) r.expect_continue = true;
          break;
        case 'x':
          if (iequals(name, "x-amz-target")) r.target.assign(value);
          break;
        case 'r':
          if (iequals(name, "range")) r.range.assign(value);
          break;
        default:
          break;
      }
    }
    if (r.chunked) r.content_length = 0;  // Transfer-Encoding wins over Content-Length
    r.keep_body = !r.target.empty();
    return true;
  }

  // Answers a malformed request and stops reading from the connection.
  void reject(Conn& c, std::string_view status) {
    Out o;
    o.head.reserve(128);
    o.head += "HTTP/1.1 ";
    o.head += status;
    o.head += "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    c.outq.push_back(std::move(o));
    c.closing = true;
  }

  // A whole request (head and body) has arrived: queue its response.
  void complete(Conn& c) {
    g_requests.fetch_add(1, std::memory_order_relaxed);
    Request& r = c.req;
    Out o;
    o.ready_at = latency_ns_ > 0 ? now_ + latency_ns_ : 0;
    next_request_id();
    if (!r.target.empty()) {
      json_route(r, o);
    } else if (std::string_view(r.path).substr(0, r.path.find('?')) == "/__stats") {
      stats_route(r, o);
    } else {
      s3_route(r, o);
    }
    if (!r.keep_alive) c.closing = true;
    c.outq.push_back(std::move(o));
    if (latency_ns_ > 0) timers_.push_back(Timer{c.outq.back().ready_at, c.fd.get(), c.id});
    c.phase = Phase::kHead;
    c.remaining = 0;
  }

  void next_request_id() {
    const uint64_t v = (static_cast<uint64_t>(index_) << 56) | ++request_seq_;
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int i = 0; i < 16; ++i) request_id_[i] = kHex[(v >> (60 - 4 * i)) & 0xFU];
  }

  std::string_view request_id() const noexcept {
    return std::string_view(request_id_.data(), request_id_.size());
  }

  // Status line + common headers; the caller appends the rest.
  void begin(Out& o, std::string_view status, uint64_t content_length, bool keep_alive) {
    std::string& h = o.head;
    h.reserve(320);
    h += "HTTP/1.1 ";
    h += status;
    h += "\r\nContent-Length: ";
    append_u64(h, content_length);
    if (!keep_alive) h += "\r\nConnection: close";
    h += "\r\n";
  }

  // ------------------------------------------------------------ JSON routes

  void json_route(const Request& r, Out& o) {
    const std::string_view target = r.target;
    const std::string_view body = r.body;
    std::string& out = json_;
    out.clear();
    std::string_view status = "200 OK";
    std::string_view content_type = "application/x-amz-json-1.1";
    const CachedBody* page = nullptr;  // a big answer computed once, else `out`
    const bool dynamodb = starts_with(target, "DynamoDB_");
    if (dynamodb) content_type = "application/x-amz-json-1.0";

    if (target == "AmazonSSM.GetParameter") {
      std::string_view name;
      if (json_string(body, "Name", name)) {
        std::string_view bare = name;
        if (!bare.empty() && bare.front() == '/') bare.remove_prefix(1);
        out += R"({"Parameter":{"Name":")";
        out += name;
        out += R"(","Type":"String","Value":"stub-value","Version":1,)"
               R"("LastModifiedDate":1700000000.0,"ARN":"arn:aws:ssm:us-east-1:123456789012:parameter/)";
        out += bare;
        out += R"(","DataType":"text"}})";
      } else {
        status = "400 Bad Request";
        out += R"({"__type":"ValidationException","message":"Name is required"})";
      }
    } else if (target == "AmazonSSM.DescribeParameters") {
      describe_parameters(body, out, status);
    } else if (target == "DynamoDB_20120810.GetItem") {
      std::string_view pk = "k";
      const size_t key_at = json_value_pos(body, "Key");
      if (key_at != std::string_view::npos) {
        const size_t pk_at = json_value_pos(body, "pk", key_at);
        if (pk_at != std::string_view::npos) {
          std::string_view value;
          if (json_string_at(body, json_value_pos(body, "S", pk_at), value)) pk = value;
        }
      }
      out += R"({"Item":{"pk":{"S":")";
      out += pk;
      out += R"("},"payload":{"S":"stub-payload"},"n":{"N":"42"}}})";
    } else if (target == "DynamoDB_20120810.Query") {
      page = &query_page();
    } else if (target == "DynamoDB_20120810.Scan") {
      page = &scan_page(json_value_pos(body, "ExclusiveStartKey") == std::string_view::npos);
    } else if (target == "DynamoDB_20120810.PutItem") {
      out += "{}";
    } else if (target == "DynamoDB_20120810.BatchWriteItem") {
      out += R"({"UnprocessedItems":{}})";
    } else {
      status = "400 Bad Request";
      out += R"({"__type":"UnknownOperationException","message":"stub_server does not implement )";
      append_json_safe(out, target);
      out += R"("})";
    }

    const std::string_view payload = page ? std::string_view(page->text) : std::string_view(out);
    begin(o, status, payload.size(), r.keep_alive);
    std::string& h = o.head;
    h.reserve(h.size() + payload.size() + 128);
    h += "Content-Type: ";
    h += content_type;
    h += "\r\nx-amzn-RequestId: ";
    h += request_id();
    if (dynamodb) {
      h += "\r\nx-amz-crc32: ";
      append_u64(h, page ? page->crc : crc32(out));
    }
    h += "\r\n\r\n";
    h += payload;
  }

  static void describe_parameters(std::string_view body, std::string& out,
                                  std::string_view& status) {
    int64_t max_results = 10;
    json_int(body, "MaxResults", max_results);
    max_results = std::clamp<int64_t>(max_results, 1, 50);
    int64_t offset = 0;
    std::string_view token;
    if (json_string(body, "NextToken", token) && !token.empty()) {
      uint64_t parsed = 0;
      if (token.front() != 't' || !parse_u64(token.substr(1), parsed) || parsed >= kDescribeTotal) {
        status = "400 Bad Request";
        out += R"({"__type":"InvalidNextToken","message":"The specified token is not valid."})";
        return;
      }
      offset = static_cast<int64_t>(parsed);
    }
    const int64_t end = std::min<int64_t>(offset + max_results, kDescribeTotal);
    out += R"({"Parameters":[)";
    for (int64_t i = offset; i < end; ++i) {
      if (i != offset) out += ',';
      char name[16];
      std::snprintf(name, sizeof name, "p%03d", static_cast<int>(i));
      out += R"({"Name":"/stub/)";
      out += name;
      out += R"(","Type":"String","LastModifiedDate":1700000000.0,"Version":1,"DataType":"text"})";
    }
    out += ']';
    if (end < kDescribeTotal) {
      out += R"(,"NextToken":"t)";
      append_u64(out, static_cast<uint64_t>(end));
      out += '"';
    }
    out += '}';
  }

  // ------------------------------------------------------------------ stats

  void stats_route(const Request& r, Out& o) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    char buf[256];
    const int n = std::snprintf(
        buf, sizeof buf,
        R"({"requests": %llu, "connections": %lld, "cpu_user_s": %.6f, "cpu_sys_s": %.6f})",
        static_cast<unsigned long long>(g_requests.load(std::memory_order_relaxed)),
        static_cast<long long>(g_connections.load(std::memory_order_relaxed)),
        static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6,
        static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6);
    const std::string_view body(buf, static_cast<size_t>(std::max(n, 0)));
    const bool head = r.method == Method::kHead;
    begin(o, "200 OK", body.size(), r.keep_alive);
    o.head += "Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n";
    if (!head) o.head += body;
  }

  // --------------------------------------------------------------------- S3

  void s3_route(const Request& r, Out& o) {
    std::string_view path = r.path;
    const size_t mark = path.find('?');
    const std::string_view query =
        mark == std::string_view::npos ? std::string_view() : path.substr(mark + 1);
    path = path.substr(0, mark);
    std::string_view key;
    if (path.size() > 1 && path.front() == '/') {
      const size_t slash = path.find('/', 1);
      if (slash != std::string_view::npos && slash > 1) key = path.substr(slash + 1);
    }
    if (key.empty()) {
      const std::string_view bucket = path.size() > 1 ? path.substr(1, path.find('/', 1) - 1)
                                                      : std::string_view();
      std::string_view list_type;
      if (r.method == Method::kGet && bucket == kListedBucket &&
          query_param(query, "list-type", list_type) && list_type == "2") {
        s3_list(r, bucket, query, o);
      } else {
        s3_not_found(r, o);
      }
      return;
    }
    switch (r.method) {
      case Method::kGet:
      case Method::kHead:
        s3_get(r, key, o);
        return;
      case Method::kPut:
        begin(o, "200 OK", 0, r.keep_alive);
        o.head += "ETag: ";
        o.head += kETag;
        o.head += "\r\nx-amz-request-id: ";
        o.head += request_id();
        o.head += "\r\n\r\n";
        return;
      default:
        s3_not_found(r, o);
        return;
    }
  }

  static uint64_t object_size(std::string_view key) {
    const size_t dash = key.rfind('-');
    uint64_t size = 0;
    if (dash != std::string_view::npos && key.size() - dash - 1 <= 13 &&
        parse_u64(key.substr(dash + 1), size)) {
      return size;
    }
    return kDefaultObjectSize;
  }

  // Parses a single "bytes=first-last" / "bytes=first-" / "bytes=-suffix".
  // Returns 0 if the range is absent or unusable (serve the whole object),
  // 1 for a satisfiable range, -1 for an unsatisfiable one.
  static int parse_range(std::string_view spec, uint64_t size, uint64_t& first, uint64_t& last) {
    spec = trim(spec);
    if (!starts_with(spec, "bytes=") || spec.find(',') != std::string_view::npos) return 0;
    spec.remove_prefix(6);
    const size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return 0;
    const std::string_view a = trim(spec.substr(0, dash));
    const std::string_view b = trim(spec.substr(dash + 1));
    uint64_t x = 0;
    uint64_t y = 0;
    if (a.empty()) {  // suffix range
      if (!parse_u64(b, y)) return 0;
      if (y == 0 || size == 0) return -1;
      first = size - std::min(y, size);
      last = size - 1;
      return 1;
    }
    if (!parse_u64(a, x)) return 0;
    if (b.empty()) {
      y = UINT64_MAX;
    } else if (!parse_u64(b, y) || y < x) {
      return 0;
    }
    if (x >= size) return -1;
    first = x;
    last = std::min(y, size - 1);
    return 1;
  }

  void s3_get(const Request& r, std::string_view key, Out& o) {
    const uint64_t size = object_size(key);
    const bool head = r.method == Method::kHead;
    uint64_t first = 0;
    uint64_t last = 0;
    const int range = r.range.empty() ? 0 : parse_range(r.range, size, first, last);
    std::string& h = o.head;
    if (range < 0) {
      begin(o, "416 Requested Range Not Satisfiable", 0, r.keep_alive);
      h += "Content-Range: bytes */";
      append_u64(h, size);
      h += "\r\nx-amz-request-id: ";
      h += request_id();
      h += "\r\n\r\n";
      return;
    }
    const uint64_t length = range > 0 ? last - first + 1 : size;
    begin(o, range > 0 ? "206 Partial Content" : "200 OK", length, r.keep_alive);
    if (range > 0) {
      h += "Content-Range: bytes ";
      append_u64(h, first);
      h += '-';
      append_u64(h, last);
      h += '/';
      append_u64(h, size);
      h += "\r\n";
    }
    h += "Content-Type: binary/octet-stream\r\nETag: ";
    h += kETag;
    h += "\r\nLast-Modified: ";
    h += kLastModified;
    h += "\r\nAccept-Ranges: bytes\r\nx-amz-request-id: ";
    h += request_id();
    h += "\r\n\r\n";
    if (!head) {
      o.body_off = first;
      o.body_len = length;
    }
  }

  // ListObjectsV2 of the generated bucket: max-keys, continuation-token,
  // fetch-owner and encoding-type; a filter it does not implement is refused.
  void s3_list(const Request& r, std::string_view bucket, std::string_view query, Out& o) {
    Listing listing;
    std::string_view value;
    for (const std::string_view filter : {"prefix", "delimiter", "start-after"}) {
      if (query_param(query, filter, value) && !value.empty()) {
        s3_error(r, o, "501 Not Implemented", "NotImplemented",
                 "stub_server lists without prefix, delimiter or start-after.");
        return;
      }
    }
    if (query_param(query, "max-keys", value)) {
      uint64_t n = 0;
      if (!parse_u64(value, n)) {
        s3_error(r, o, "400 Bad Request", "InvalidArgument", "Provided max-keys not an integer.");
        return;
      }
      listing.max_keys = std::min(n, kMaxKeys);
    }
    if (query_param(query, "continuation-token", value) && !value.empty()) {
      uint64_t start = 0;
      const auto res = std::from_chars(value.data() + 1, value.data() + value.size(), start, 16);
      if (value.front() != '1' || value.size() != 16 || res.ec != std::errc() ||
          res.ptr != value.data() + value.size() || start >= kBucketObjects) {
        s3_error(r, o, "400 Bad Request", "InvalidArgument",
                 "The continuation token provided is incorrect");
        return;
      }
      listing.start = start;
      listing.token = value;
    }
    listing.owner = query_param(query, "fetch-owner", value) && value == "true";
    listing.url_encoding = query_param(query, "encoding-type", value) && value == "url";
    // Generating a page costs the stub about 1.5 ms: each page asked for is
    // generated once (a benchmark asks for the same one again and again).
    std::string cache_key(bucket);
    cache_key += '?';
    append_u64(cache_key, listing.start);
    cache_key += ',';
    append_u64(cache_key, listing.max_keys);
    cache_key += listing.owner ? ",owner" : ",";
    cache_key += listing.url_encoding ? ",url" : ",";
    auto cached_page = listings_.find(cache_key);
    if (cached_page == listings_.end()) {
      if (listings_.size() >= kMaxCachedListings) listings_.clear();
      cached_page = listings_.emplace(cache_key, list_objects_v2(bucket, listing)).first;
    }
    const std::string& body = cached_page->second;
    begin(o, "200 OK", body.size(), r.keep_alive);
    std::string& h = o.head;
    h.reserve(h.size() + body.size() + 256);
    h += "x-amz-id-2: ";
    h += request_id();
    h += "/stub\r\nx-amz-request-id: ";
    h += request_id();
    h += "\r\nx-amz-bucket-region: us-east-1\r\nContent-Type: application/xml\r\n"
         "Server: AmazonS3\r\n\r\n";
    h += body;
  }

  void s3_not_found(const Request& r, Out& o) {
    s3_error(r, o, "404 Not Found", "NoSuchKey", "The specified key does not exist.");
  }

  void s3_error(const Request& r, Out& o, std::string_view status, std::string_view code,
                std::string_view message) {
    std::string& body = json_;
    body.clear();
    body += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
    body += code;
    body += "</Code><Message>";
    body += message;
    body += "</Message><RequestId>";
    body += request_id();
    body += "</RequestId></Error>";
    const bool head = r.method == Method::kHead;
    begin(o, status, head ? 0 : body.size(), r.keep_alive);
    o.head += "Content-Type: application/xml\r\nx-amz-request-id: ";
    o.head += request_id();
    o.head += "\r\n\r\n";
    if (!head) o.head += body;
  }

  const int index_;
  Fd listener_;
  Fd epoll_;
  Fd reserve_;
  const int stop_fd_;
  const int signal_fd_;
  const int64_t latency_ns_;
  bool stop_ = false;
  int64_t now_ = 0;
  uint64_t next_conn_id_ = 0;
  uint64_t request_seq_ = 0;
  std::array<char, 16> request_id_{};
  std::vector<char> scratch_;
  std::string json_;
  std::unordered_map<std::string, std::string> listings_;  // S3 listing pages by request
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<Timer> timers_;
};

// ---------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------

[[noreturn]] void usage(int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: stub_server [--host 127.0.0.1] [--port 0] [--latency-ms N] "
               "[--threads N]\n");
  std::exit(status);
}

int64_t int_arg(const char* name, const char* value, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi) {
    std::fprintf(stderr, "stub_server: invalid value for %s: '%s'\n", name, value);
    usage(2);
  }
  return v;
}

Config parse_args(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") usage(0);
    std::string_view name = arg;
    std::string value;
    const size_t eq = arg.find('=');
    if (starts_with(arg, "--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value.assign(arg.substr(eq + 1));
    } else {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "stub_server: missing value for %s\n", argv[i]);
        usage(2);
      }
      value = argv[++i];
    }
    if (name == "--host") {
      cfg.host = value;
    } else if (name == "--port") {
      cfg.port = static_cast<int>(int_arg("--port", value.c_str(), 0, 65535));
    } else if (name == "--latency-ms") {
      cfg.latency_ms = int_arg("--latency-ms", value.c_str(), 0, 3600 * 1000);
    } else if (name == "--threads") {
      cfg.threads = static_cast<int>(int_arg("--threads", value.c_str(), 1, 256));
    } else {
      std::fprintf(stderr, "stub_server: unknown option %.*s\n", static_cast<int>(name.size()),
                   name.data());
      usage(2);
    }
  }
  return cfg;
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      std::fprintf(stderr, "stub_server: setrlimit(RLIMIT_NOFILE): %s\n", std::strerror(errno));
    }
  }
}

Fd make_listener(const Config& cfg, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(cfg.host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    std::fprintf(stderr, "stub_server: cannot resolve %s: %s\n", cfg.host.c_str(),
                 gai_strerror(rc));
    std::exit(1);
  }
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, &freeaddrinfo);
  Fd fd(socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               found->ai_protocol));
  if (!fd.valid()) die("socket");
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (cfg.threads > 1 && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    die("setsockopt(SO_REUSEPORT)");
  }
  if (bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) die("bind");
  if (listen(fd.get(), 65535) != 0) die("listen");
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv);
  raise_fd_limit();
  body_block();  // build the shared body before any thread starts

  // SIGTERM / SIGINT arrive through a signalfd watched by worker 0; blocking
  // them here (before threads start) keeps every thread from handling them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) die("pthread_sigmask");
  ::signal(SIGPIPE, SIG_IGN);
  Fd signal_fd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd.valid()) die("signalfd");
  // Written once on shutdown and never read: level-triggered, so it wakes
  // every worker.
  Fd stop_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!stop_fd.valid()) die("eventfd");

  std::vector<Fd> listeners;
  listeners.push_back(make_listener(cfg, cfg.port));
  const int port = bound_port(listeners.front().get());
  for (int i = 1; i < cfg.threads; ++i) listeners.push_back(make_listener(cfg, port));

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < cfg.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(i, std::move(listeners[static_cast<size_t>(i)]),
                                               cfg, stop_fd.get(),
                                               i == 0 ? signal_fd.get() : -1));
  }

  std::printf("PORT %d\n", port);
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers.size(); ++i) {
    threads.emplace_back([w = workers[i].get()] { w->run(); });
  }
  workers.front()->run();
  for (std::thread& t : threads) t.join();
  return 0;
}
