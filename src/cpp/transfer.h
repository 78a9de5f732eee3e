// One HTTP request/response through libcurl: its easy handle, request body,
// response headers and body buffer, and the waits the Python side does on it.
#pragma once

#include "completion_queue.h"
#include "errors.h"

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aboto3 {

using Clock = std::chrono::steady_clock;

// Settings of one botocore client's HTTP session (its URLLib3Session's).
struct SessionConfig {
    long connect_timeout_ms = 60000;
    long read_timeout_ms = 60000;  // 0: no read timeout
    bool verify = true;
    std::string ca_file;  // empty: libcurl's default bundle
    std::string client_cert;
    std::string client_key;
    bool tcp_keepalive = false;
    std::string proxy_ca_file;
    std::string proxy_client_cert;
    std::string proxy_client_key;
    std::size_t max_connections = 10;
};

class Transfer;

// The process-wide budget of unread streaming-body bytes (see on_body).
constexpr std::size_t kDefaultStreamBudget = 32u << 20;
// Sets it; returns the previous budget. Any thread.
std::size_t set_stream_buffer_budget(std::size_t bytes);
// Unread streaming-body bytes of all transfers now.
std::size_t unread_stream_buffered();

// A client's settings, its own connection pool (a libcurl share handle, so
// closing the client closes its connections, as urllib3's pool does) and its
// cap on transfers in flight (at most max_connections connections per host).
struct Session {
    explicit Session(SessionConfig c);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    const SessionConfig config;
    // Touched by the I/O thread only.
    CURLSH* share = nullptr;  // created on first use
    std::size_t active = 0;
    std::deque<std::shared_ptr<Transfer>> waiting;
    bool release_when_idle = false;
    unsigned generation;  // the fork generation its pool and counts belong to
};

struct Request {
    std::string method;
    std::string url;  // as botocore built it (for error messages)
    // What urllib3 would put on the request line: a path and query ("origin
    // form", sent byte for byte) or, to a forwarding proxy, an absolute URL.
    // Empty: libcurl's own, from url.
    std::string target;
    std::string proxy_url;  // empty: no proxy (botocore already decided)
    std::vector<std::string> header_lines;  // "Name: value"
    std::string body;
    bool has_body = false;
    bool chunked = false;  // the request asked for Transfer-Encoding: chunked
    bool has_expect = false;        // headers the request carries itself (libcurl would
    bool has_content_type = false;  // otherwise add or hold back on its own)
    // The body is not in `body`: the Python side feeds it in chunks as
    // libcurl sends (feed_upload), `content_length` bytes (-1: unknown).
    bool fed_body = false;
    bool fed_body_seekable = false;  // it can start over if libcurl must resend
    long long content_length = -1;
    bool stream = false;   // the response body is read incrementally
    long read_timeout_ms = -1;  // a per-request override; -1: the session's
};

// What a waiter waits for; each is also satisfied once the transfer is over.
// Headers and Done are also satisfied while a fed request body needs its
// next chunk (see upload_need), so that one wait serves both.
// Whole: the body has filled the whole read's bytes object (see start_whole_read).
enum class Want { Headers = 0, Data = 1, Done = 2, Whole = 3 };

// What the Python side must do for a fed body before feeding its next chunk.
struct UploadNeed {
    unsigned epoch;  // hand back to feed_upload; chunks of an older epoch are dropped
    bool rewind;     // libcurl starts the body over: seek back to where it began
};

class Transfer {
public:
    Transfer(std::shared_ptr<Session> session, Request request);
    ~Transfer();
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    // ---- Python side (GIL held) ----
    // True if `want` already holds; otherwise `future` is settled through
    // `queue` as soon as it does, and the caller suspends on it. Waiting for
    // Data wakes once `bytes` are buffered (or the transfer paused or ended),
    // so a large read is not woken for every network chunk.
    bool wait_async(const CompletionQueuePtr& queue, nb::object future, Want want, std::size_t bytes);
    // Blocks with the GIL released until `want` holds.
    void wait(Want want, std::size_t bytes);
    long status();
    std::vector<std::pair<std::string, std::string>> headers();
    // Up to `max` buffered body bytes (all if max < 0), copied once into a
    // Python bytes object; `resume` is set when the reader has drained a
    // paused transfer enough to let it continue.
    // `body_consumed` is set once, by the read that takes the last byte of a
    // finished body that kept its slot for its reader: the engine frees it.
    nb::bytes read(long max, bool& resume, bool& body_consumed);
    // A whole read of a body of known length: returns a bytes object of the
    // rest of the body, with what is buffered copied in, into which the I/O
    // thread writes the remainder as it arrives (held once, never joined).
    // None if there is nothing to gain (length unknown, body already here).
    // The caller keeps the object alive until end_whole_read; `resume` is set
    // when the transfer must be resumed.
    nb::object start_whole_read(bool& resume);
    // Detaches that object: true if the body filled it; otherwise what did
    // arrive goes back to the buffer, for read() to take as usual.
    // `body_consumed` as for read().
    bool end_whole_read(bool& body_consumed);
    bool finished();
    bool at_eof();  // finished and every byte read
    std::size_t buffered();  // body bytes received and not yet read
    Failure failure();
    // A fed body: what libcurl needs next, if anything. Clears the rewind.
    std::optional<UploadNeed> upload_need();
    // Appends a chunk of a fed body (empty: the end). Returns whether the
    // I/O thread must resume the transfer (it paused waiting for this).
    bool feed_upload(unsigned epoch, const char* data, std::size_t n);
    // Stops waiting for it; the I/O thread drops the connection. Returns
    // whether the engine still has to be told.
    bool mark_cancelled();
    // Any thread: the read timeout from now on (ms; 0: none), as a socket
    // timeout set while a response is read (StreamingBody.set_socket_timeout).
    // The caller then has the I/O thread look at the deadline again.
    void set_read_timeout(long ms) { read_timeout_ms_.store(ms, std::memory_order_relaxed); }

    const Request& request() const { return request_; }
    const std::shared_ptr<Session>& session() const { return session_; }

    // ---- I/O thread ----
    // Configures `easy` (a fresh or reset handle) for this request; `paused`
    // collects transfers that stop for a slow reader (see CurlEngine).
    CURL* setup(CURL* easy, std::vector<Transfer*>* paused);
    CURL* easy() const { return easy_; }
    // Hands the easy handle back for reuse once the transfer is over.
    CURL* take_easy();
    void finish(CURLcode code);  // the transfer is over, one way or another
    void resume_transfer();
    // When the read timeout would expire if nothing arrives (max if never).
    Clock::time_point idle_deadline(Clock::time_point now) const;
    // The reader's new read timeout (body.set_socket_timeout) counts from now.
    void restart_idle_clock() { last_activity_ = Clock::now(); }
    bool idle_too_long(Clock::time_point now) const;
    void mark_idle_timeout() { idle_timed_out_ = true; }
    bool cancelled();
    // A streaming body waiting for its reader (paused, or finished with bytes
    // unread): when it gives up its slot if the reader stays away (see
    // CurlEngine::kReaderGrace); max if it is not waiting for its reader.
    Clock::time_point reader_deadline(Clock::duration grace);
    // Called as the transfer finishes: whether it has more body bytes left for
    // its reader than kChunk (128 KiB), or a filled whole read, and so keeps its slot a while.
    bool awaits_reader(Clock::time_point now);

private:
    static size_t on_header(char* data, size_t size, size_t count, void* self);
    size_t take_header_line(const char* data, std::size_t n);
    static size_t on_body(char* data, size_t size, size_t count, void* self);
    bool keep_body(const char* data, std::size_t n);  // buffers body bytes; mutex held
    static size_t on_upload(char* data, size_t size, size_t count, void* self);
    static int on_seek(void* self, curl_off_t offset, int origin);
    static int on_connected(void* self, char*, char*, int, int);
    size_t take_fed_upload(char* data, std::size_t n);
    int rewind_fed_upload();

    bool satisfied(Want want, std::size_t bytes) const;  // mutex held
    bool upload_wanted() const;  // mutex held
    // Wakes blocking waiters, and hands an armed async waiter to the loop if
    // its condition now holds. Called with the mutex held; pushes after unlock.
    void notify(std::unique_lock<std::mutex>& lock);

    const std::shared_ptr<Session> session_;
    const Request request_;

    // I/O thread only.
    CURL* easy_ = nullptr;
    std::string curl_url_;  // the URL libcurl gets (kept alive for the transfer)
    curl_slist* header_list_ = nullptr;
    std::size_t upload_offset_ = 0;
    Clock::time_point last_activity_;
    // The request's read timeout, or the session's (-1), until the reader sets its own.
    std::atomic<long> read_timeout_ms_;
    bool connected_ = false;
    bool idle_timed_out_ = false;
    bool callback_failed_ = false;
    std::vector<Transfer*>* paused_list_ = nullptr;

public:
    // I/O thread: whether this transfer counts against its session's cap.
    bool holds_slot = false;

private:
    std::vector<std::pair<std::string, std::string>> incoming_headers_;

    // Shared with the Python side, under mutex_.
    std::mutex mutex_;
    std::condition_variable changed_;
    long status_ = 0;
    std::vector<std::pair<std::string, std::string>> headers_;
    bool headers_done_ = false;
    std::string body_;
    std::size_t body_read_ = 0;
    long long body_received_ = 0;  // every body byte so far, read or not
    long long body_taken_ = 0;     // every body byte handed to the reader
    long long content_length_ = -1;  // of the response body, from its headers
    // A whole read's bytes object, written by the I/O thread (see
    // start_whole_read): where the next body byte goes, and how many fit.
    char* whole_next_ = nullptr;
    std::size_t whole_left_ = 0;
    std::size_t whole_size_ = 0;
    // The reader has read, or begun a whole read: until then a streaming
    // body stops at kChunk (128 KiB) and the rest waits in the socket.
    bool reader_arrived_ = false;
    bool paused_ = false;
    bool resume_requested_ = false;
    // When the reader last read, or the body began to wait for it.
    Clock::time_point reader_touched_;
    // Finished, and kept its slot for its reader (see awaits_reader): the
    // read that drains it, or a cancel, must tell the engine.
    bool held_for_reader_ = false;
    int blocking_waiters_ = 0;
    bool done_ = false;
    bool cancelled_ = false;
    Failure failure_;
    CompletionQueuePtr waiter_queue_;
    std::unique_ptr<Completion> waiter_;  // holds a Python future: GIL rules apply
    Want waiter_want_ = Want::Done;
    std::size_t waiter_bytes_ = 1;
    // A fed request body: a small window between the Python side and libcurl.
    std::string upload_;
    std::size_t upload_read_ = 0;
    std::size_t upload_sent_ = 0;  // bytes handed to libcurl since the last rewind
    bool upload_started_ = false;  // libcurl asked for body bytes (after any 100 Continue)
    bool upload_ended_ = false;    // the Python side fed the end
    bool upload_paused_ = false;   // libcurl's read is paused until the next chunk
    bool upload_rewind_ = false;
    unsigned upload_epoch_ = 0;
};

}  // namespace aboto3
