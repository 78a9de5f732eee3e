#include "transfer.h"

#include "process.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace aboto3 {

namespace {

// A streaming body pauses its transfer when this much is buffered unread, and
// resumes it once the reader brings it under the low mark.
constexpr std::size_t kHighWater = 1 << 20;
constexpr std::size_t kLowWater = 256 << 10;
// What a stream holds before its reader comes, and the least it may hold
// under the budget.
constexpr std::size_t kChunk = 128 << 10;
// A whole read of a longer body is read in windows and joined, rather than
// trusting a Content-Length this large to size one allocation.
constexpr long long kMaxWholeRead = 1LL << 30;

// Unread streaming-body bytes of every transfer of the process, and the budget
// above which a transfer pauses as soon as it holds kChunk of its own. That
// floor is what keeps every reader moving: bodies that nobody reads can use
// up the budget, but not stall the transfers of readers that do read.
std::atomic<std::size_t> unread_stream_bytes{0};
std::atomic<std::size_t> stream_budget{kDefaultStreamBudget};
// A fed request body asks the Python side for its next chunk while less than
// this is left to send, so libcurl rarely waits for it and at most this plus
// one chunk is held.
constexpr std::size_t kUploadLowWater = 256 << 10;

std::string trim(const char* begin, const char* end) {
    while (begin < end && (*begin == ' ' || *begin == '\t')) ++begin;
    while (end > begin && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) --end;
    return std::string(begin, end);
}

bool same_name(const std::string& a, const std::string& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// "scheme://authority/" of a URL: what libcurl needs to connect.
std::string authority_of(const std::string& url) {
    const std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return url;
    const std::size_t end = url.find_first_of("/?#", scheme_end + 3);
    return url.substr(0, end) + "/";
}

}  // namespace


Transfer::Transfer(std::shared_ptr<Session> session, Request request)
    : session_(std::move(session)),
      request_(std::move(request)),
      read_timeout_ms_(request_.read_timeout_ms) {}

std::size_t set_stream_buffer_budget(std::size_t bytes) { return stream_budget.exchange(bytes); }

std::size_t unread_stream_buffered() { return unread_stream_bytes.load(std::memory_order_relaxed); }

Transfer::~Transfer() {
    if (request_.stream) unread_stream_bytes.fetch_sub(body_.size() - body_read_, std::memory_order_relaxed);
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
    if (header_list_ != nullptr) curl_slist_free_all(header_list_);
    // An armed waiter is always handed to the loop or dropped by
    // mark_cancelled() under the GIL; if one is somehow left, leak its
    // Python reference rather than touch it without the GIL.
    (void)waiter_.release();
}

// ---------------------------------------------------------------- Python side

bool Transfer::upload_wanted() const {
    if (!request_.fed_body || done_ || cancelled_) return false;
    return upload_rewind_ ||
           (upload_started_ && !upload_ended_ && upload_.size() - upload_read_ < kUploadLowWater);
}

bool Transfer::satisfied(Want want, std::size_t bytes) const {
    if (done_) return true;
    switch (want) {
        case Want::Headers: return headers_done_ || upload_wanted();
        case Want::Data:
            return paused_ || body_.size() - body_read_ >= std::clamp<std::size_t>(bytes, 1, kHighWater);
        case Want::Done: return upload_wanted();
        case Want::Whole: return whole_next_ == nullptr || whole_left_ == 0;
    }
    return false;
}

bool Transfer::wait_async(const CompletionQueuePtr& queue, nb::object future, Want want,
                          std::size_t bytes) {
    std::unique_ptr<Completion> replaced;  // dropped after unlocking, GIL held
    std::lock_guard<std::mutex> lock(mutex_);
    if (satisfied(want, bytes) || cancelled_) return true;
    replaced = std::move(waiter_);
    waiter_ = std::make_unique<FutureOutcome>(std::move(future), nb::none(), false);
    waiter_queue_ = queue;
    waiter_want_ = want;
    waiter_bytes_ = bytes;
    return false;
}

void Transfer::wait(Want want, std::size_t bytes) {
    PyThreadState* tstate = PyEval_SaveThread();
    {
        std::unique_lock<std::mutex> lock(mutex_);
        ++blocking_waiters_;
        changed_.wait(lock, [&] { return satisfied(want, bytes) || cancelled_; });
        --blocking_waiters_;
    }
    restore_thread(tstate);  // a daemon thread at interpreter exit parks here
}

long Transfer::status() {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_;
}

std::vector<std::pair<std::string, std::string>> Transfer::headers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return headers_;
}

nb::bytes Transfer::read(long max, bool& resume, bool& body_consumed) {
    std::lock_guard<std::mutex> lock(mutex_);
    reader_touched_ = Clock::now();
    const std::size_t available = body_.size() - body_read_;
    const std::size_t n = max < 0 ? available : std::min(available, static_cast<std::size_t>(max));
    nb::bytes out(body_.data() + body_read_, n);
    body_read_ += n;
    body_taken_ += static_cast<long long>(n);
    reader_arrived_ = true;
    if (request_.stream) unread_stream_bytes.fetch_sub(n, std::memory_order_relaxed);
    if (body_read_ == body_.size()) {
        // Drained: the memory goes back too (a stream's window is up to
        // kHighWater; a whole body is read once), not kept beside the copy.
        std::string().swap(body_);
        body_read_ = 0;
    } else if (body_read_ > kHighWater) {
        body_.erase(0, body_read_);  // keep the buffer from growing without bound
        body_read_ = 0;
    }
    resume = paused_ && !resume_requested_ && body_.size() - body_read_ < kLowWater;
    if (resume) resume_requested_ = true;
    body_consumed = held_for_reader_ && body_.size() == body_read_;
    if (body_consumed) held_for_reader_ = false;
    return out;
}

nb::object Transfer::start_whole_read(bool& resume) {
    std::size_t size = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        reader_arrived_ = true;
        reader_touched_ = Clock::now();
        const long long rest = content_length_ - body_taken_;
        if (!request_.stream || done_ || cancelled_ || whole_next_ != nullptr || content_length_ < 0 ||
            rest > kMaxWholeRead || rest <= static_cast<long long>(body_.size() - body_read_)) {
            return nb::none();  // the buffer already holds it all, or the length is unknown
        }
        size = static_cast<std::size_t>(rest);
    }
    // Allocated without the lock; only the reader (this thread) takes bytes
    // out, so the I/O thread can only have added some meanwhile.
    PyObject* raw = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
    if (raw == nullptr) {
        PyErr_Clear();  // too large to hold at once: read it in windows instead
        return nb::none();
    }
    nb::object whole = nb::steal(raw);
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t unread = body_.size() - body_read_;
    if (done_ || cancelled_ || whole_next_ != nullptr || unread >= size) return nb::none();
    char* data = PyBytes_AS_STRING(raw);
    std::memcpy(data, body_.data() + body_read_, unread);
    unread_stream_bytes.fetch_sub(unread, std::memory_order_relaxed);
    std::string().swap(body_);
    body_read_ = 0;
    whole_next_ = data + unread;
    whole_left_ = size - unread;
    whole_size_ = size;
    resume = paused_ && !resume_requested_;
    if (resume) resume_requested_ = true;
    return whole;
}

bool Transfer::end_whole_read(bool& body_consumed) {
    std::unique_lock<std::mutex> lock(mutex_);
    bool whole = false;
    if (whole_next_ != nullptr) {
        const std::size_t filled = whole_size_ - whole_left_;
        const char* begin = whole_next_ - filled;
        whole_next_ = nullptr;  // the I/O thread writes into it no more
        whole = whole_left_ == 0;
        if (whole) {
            body_taken_ += static_cast<long long>(whole_size_);
        } else {
            // Cut short (a failure, a close): what came goes back to the
            // buffer, ahead of anything after it, to be read as any other
            // bytes. Copied without the lock, so the I/O thread never waits on it.
            lock.unlock();
            std::string came;
            try {
                came.assign(begin, filled);
            } catch (...) {
                lock.lock();
                body_taken_ += static_cast<long long>(filled);  // lost: a later read comes up short
                throw;
            }
            lock.lock();
            came.append(body_, body_read_, std::string::npos);
            body_.swap(came);
            body_read_ = 0;
            unread_stream_bytes.fetch_add(filled, std::memory_order_relaxed);
        }
    }
    body_consumed = held_for_reader_ && body_.size() == body_read_;
    if (body_consumed) held_for_reader_ = false;
    changed_.notify_all();  // a blocking waiter for the whole read stops waiting
    return whole;
}

bool Transfer::finished() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
}

std::size_t Transfer::buffered() {
    std::lock_guard<std::mutex> lock(mutex_);
    return body_.size() - body_read_;
}

bool Transfer::at_eof() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_ && body_read_ == body_.size();
}

Failure Transfer::failure() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failure_;
}

std::optional<UploadNeed> Transfer::upload_need() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!upload_wanted()) return std::nullopt;
    UploadNeed need{upload_epoch_, upload_rewind_};
    upload_rewind_ = false;
    return need;
}

bool Transfer::feed_upload(unsigned epoch, const char* data, std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (epoch != upload_epoch_ || upload_ended_ || done_ || cancelled_) return false;  // stale
    if (n == 0) {
        upload_ended_ = true;
    } else {
        if (upload_read_ > 0) {  // keep only the unsent tail
            upload_.erase(0, upload_read_);
            upload_read_ = 0;
        }
        upload_.append(data, n);
    }
    return upload_paused_;
}

bool Transfer::mark_cancelled() {
    std::unique_lock<std::mutex> lock(mutex_);
    // A greenlet suspended on this transfer (cancelled from elsewhere: a
    // close() during a read) is woken, and finds it cancelled.
    std::unique_ptr<Completion> woken = std::move(waiter_);
    CompletionQueuePtr queue = std::move(waiter_queue_);
    // A finished body with bytes unread may still hold its connection slot.
    const bool tell_engine = !cancelled_ && (!done_ || held_for_reader_);
    cancelled_ = true;
    // Nobody will read what is buffered: give it back to the budget and the heap.
    if (request_.stream) unread_stream_bytes.fetch_sub(body_.size() - body_read_, std::memory_order_relaxed);
    std::string().swap(body_);
    body_read_ = 0;
    whole_next_ = nullptr;  // its owner may drop the whole read's object once this returns
    changed_.notify_all();
    lock.unlock();
    if (woken && queue) queue->push(std::move(woken));
    return tell_engine;
}

// ------------------------------------------------------------------ I/O thread

bool Transfer::cancelled() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cancelled_;
}

Clock::time_point Transfer::reader_deadline(Clock::duration grace) {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool waiting = paused_ || (done_ && (body_read_ < body_.size() || whole_next_ != nullptr));
    return waiting && !cancelled_ ? reader_touched_ + grace : Clock::time_point::max();
}

bool Transfer::awaits_reader(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    // A small remainder costs less memory than holding the slot costs time;
    // a filled whole read is the body itself, waiting for its reader.
    if (!request_.stream || cancelled_ || (body_.size() - body_read_ <= kChunk && whole_next_ == nullptr)) {
        return false;
    }
    reader_touched_ = now;
    held_for_reader_ = true;
    return true;
}

void Transfer::notify(std::unique_lock<std::mutex>& lock) {
    changed_.notify_all();
    if (!waiter_ || !satisfied(waiter_want_, waiter_bytes_)) return;
    std::unique_ptr<Completion> ready = std::move(waiter_);
    CompletionQueuePtr queue = std::move(waiter_queue_);
    lock.unlock();
    queue->push(std::move(ready));
}

CURL* Transfer::take_easy() {
    CURL* easy = easy_;
    easy_ = nullptr;
    return easy;
}

CURL* Transfer::setup(CURL* easy, std::vector<Transfer*>* paused) {
    const SessionConfig& config = session_->config;
    easy_ = easy;
    paused_list_ = paused;

    // libcurl would rewrite the path (remove "." and ".." segments, re-encode
    // bytes) and lose a fragment. So in origin form it only gets the scheme
    // and authority to connect to, and the request target goes out verbatim.
    // An absolute target (to a forwarding proxy) is built by libcurl from the
    // URL whatever CURLOPT_REQUEST_TARGET says: it gets the target itself,
    // already normalised as urllib3 sends it, and is told not to touch the path.
    const std::string& target = request_.target;
    if (!target.empty() && target[0] == '/') {
        curl_url_ = authority_of(request_.url);
        curl_easy_setopt(easy, CURLOPT_REQUEST_TARGET, target.c_str());
    } else {
        curl_url_ = target.empty() ? request_.url : target;
    }
    curl_easy_setopt(easy, CURLOPT_URL, curl_url_.c_str());
    curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(easy, CURLOPT_SHARE, session_->share);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, this);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    // botocore follows redirects and decodes bodies itself.
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, config.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    // libcurl's default 16 KiB receive buffer, not a larger one: each paused
    // stream holds that buffer plus libcurl's copy of the chunk it refused, so
    // at 128 KiB an S3 GET of 1 MiB bodies at c=64 peaked 3.5 MiB higher. A
    // large body costs about a tenth more CPU per GiB in 16 KiB chunks.
    if (config.tcp_keepalive) curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);

    if (!config.verify) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!config.ca_file.empty()) {
        // Trust exactly that bundle, as urllib3 does: not also libcurl's
        // compiled-in certificate directory.
        curl_easy_setopt(easy, CURLOPT_CAINFO, config.ca_file.c_str());
        curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
    }
    if (!config.client_cert.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT, config.client_cert.c_str());
    if (!config.client_key.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, config.client_key.c_str());

    // An empty proxy also stops libcurl from reading the proxy environment
    // variables: botocore has already applied them, NO_PROXY included.
    curl_easy_setopt(easy, CURLOPT_PROXY, request_.proxy_url.c_str());
    if (!request_.proxy_url.empty()) {
        // The proxy's answer to CONNECT is not the server's response.
        curl_easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
        if (!config.proxy_ca_file.empty()) {
            curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, config.proxy_ca_file.c_str());
            curl_easy_setopt(easy, CURLOPT_PROXY_CAPATH, nullptr);
        }
        if (!config.proxy_client_cert.empty())
            curl_easy_setopt(easy, CURLOPT_PROXY_SSLCERT, config.proxy_client_cert.c_str());
        if (!config.proxy_client_key.empty())
            curl_easy_setopt(easy, CURLOPT_PROXY_SSLKEY, config.proxy_client_key.c_str());
    }

    const std::string& method = request_.method;
    // A small body held here goes out in the same send() as the headers:
    // libcurl appends POSTFIELDS below 64 KiB to them, where a read callback
    // costs a second send() (and a second TCP segment) per call. Not with an
    // Expect header (S3 uploads): the body waits for the 100 either way, and
    // POSTFIELDS would wait for it even for an empty body.
    const bool body_with_headers = method != "HEAD" && request_.has_body && !request_.chunked &&
                                   !request_.fed_body && !request_.has_expect &&
                                   request_.body.size() < (64 << 10);
    for (const std::string& line : request_.header_lines) {
        curl_slist* grown = curl_slist_append(header_list_, line.c_str());
        if (grown == nullptr) return nullptr;
        header_list_ = grown;
    }
    if (body_with_headers && !request_.has_content_type) {
        // Else libcurl adds its form Content-Type to a POSTFIELDS request.
        curl_slist* grown = curl_slist_append(header_list_, "Content-Type:");
        if (grown == nullptr) return nullptr;
        header_list_ = grown;
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list_);

    if (method == "HEAD") {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (body_with_headers) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request_.body.size()));
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request_.body.data());
        if (method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (request_.has_body) {
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Transfer::on_upload);
        curl_easy_setopt(easy, CURLOPT_READDATA, this);
        curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &Transfer::on_seek);
        curl_easy_setopt(easy, CURLOPT_SEEKDATA, this);
        curl_off_t size = static_cast<curl_off_t>(request_.body.size());
        if (request_.chunked) {
            size = -1;
        } else if (request_.fed_body) {
            size = static_cast<curl_off_t>(request_.content_length);
        }
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, size);
        if (size < 0 || size > (64 << 10)) curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 128L << 10);
        if (method != "PUT") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (method != "GET") {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    }

    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &Transfer::on_connected);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, this);
#else
    connected_ = true;  // no way to tell: read timeouts then also cover connecting
#endif
    last_activity_ = Clock::now();
    return easy;
}

int Transfer::on_connected(void* self, char*, char*, int, int) {
    auto* t = static_cast<Transfer*>(self);
    t->connected_ = true;
    t->last_activity_ = Clock::now();
    return CURL_PREREQFUNC_OK;
}

size_t Transfer::on_upload(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    t->last_activity_ = Clock::now();
    if (t->request_.fed_body) return t->take_fed_upload(data, size * count);
    const std::string& body = t->request_.body;
    const std::size_t n = std::min(size * count, body.size() - t->upload_offset_);
    std::memcpy(data, body.data() + t->upload_offset_, n);
    t->upload_offset_ += n;
    return n;
}

size_t Transfer::take_fed_upload(char* data, std::size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (cancelled_) return CURL_READFUNC_ABORT;
    upload_started_ = true;
    const std::size_t available = upload_.size() - upload_read_;
    if (available == 0 && !upload_ended_) {
        // Nothing to send until the Python side reads the next chunk: libcurl
        // waits (and the read timeout with it), the feeder is woken.
        upload_paused_ = true;
        notify(lock);
        return CURL_READFUNC_PAUSE;
    }
    const std::size_t taken = std::min(n, available);
    std::memcpy(data, upload_.data() + upload_read_, taken);
    upload_read_ += taken;
    upload_sent_ += taken;
    if (upload_wanted()) notify(lock);  // ask for the next chunk before this one runs out
    return taken;
}

int Transfer::rewind_fed_upload() {
    // libcurl resends the request (a reused connection turned out dead, an
    // authentication round): start the body over from the Python side.
    std::unique_lock<std::mutex> lock(mutex_);
    if (upload_sent_ == 0 && upload_read_ == 0) return CURL_SEEKFUNC_OK;  // nothing taken yet
    if (!request_.fed_body_seekable) return CURL_SEEKFUNC_CANTSEEK;
    upload_.clear();
    upload_read_ = 0;
    upload_sent_ = 0;
    upload_ended_ = false;
    upload_rewind_ = true;
    ++upload_epoch_;  // chunks read before the rewind are dropped
    notify(lock);
    return CURL_SEEKFUNC_OK;
}

int Transfer::on_seek(void* self, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(self);
    if (t->request_.fed_body) {
        return origin == SEEK_SET && offset == 0 ? t->rewind_fed_upload() : CURL_SEEKFUNC_CANTSEEK;
    }
    if (origin != SEEK_SET || offset < 0 || static_cast<std::size_t>(offset) > t->request_.body.size()) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    t->upload_offset_ = static_cast<std::size_t>(offset);
    return CURL_SEEKFUNC_OK;
}

size_t Transfer::on_header(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    try {
        return t->take_header_line(data, size * count);
    } catch (...) {
        t->callback_failed_ = true;  // e.g. out of memory: fail the transfer, not the process
        return 0;
    }
}

size_t Transfer::take_header_line(const char* data, std::size_t n) {
    last_activity_ = Clock::now();
    const char* end = data + n;
    if (n >= 5 && std::memcmp(data, "HTTP/", 5) == 0) {
        incoming_headers_.clear();  // a new response: an interim 100 Continue is forgotten
        return n;
    }
    if (n <= 2 && (n == 0 || data[0] == '\r' || data[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200) {
            // An interim 1xx answer, or a proxy's answer to CONNECT (code 0):
            // the server's own status line and headers are still to come.
            incoming_headers_.clear();
            return n;
        }
        curl_off_t length = -1;
        const bool has_body = request_.method != "HEAD" && code != 204 && code != 304;
        if (has_body && curl_easy_getinfo(easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK &&
            length > 0) {
            // Sized from the header (no regrowth), but never trusted beyond
            // what is sensible up front; a stream holds at most its window.
            // Before its reader comes a stream holds under kChunk plus one
            // 16 KiB network chunk (see on_body); a reserve of exactly that
            // measured a higher peak than this one.
            const curl_off_t cap = request_.stream ? static_cast<curl_off_t>(2 * kChunk)
                                                   : static_cast<curl_off_t>(8 << 20);
            body_.reserve(static_cast<std::size_t>(std::min(length, cap)));
        }
        // A chunked body's length is its chunks', whatever a Content-Length says.
        bool chunked = false;
        for (const auto& header : incoming_headers_) {
            if (!same_name(header.first, "transfer-encoding")) continue;
            std::string value = header.second;
            for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            chunked |= value.find("chunked") != std::string::npos;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        content_length_ = !has_body ? 0 : chunked ? -1 : static_cast<long long>(length);
        status_ = code;
        headers_.swap(incoming_headers_);
        headers_done_ = true;
        notify(lock);
        return n;
    }
    if ((data[0] == ' ' || data[0] == '\t') && !incoming_headers_.empty()) {
        incoming_headers_.back().second += " " + trim(data, end);  // obsolete line folding
        return n;
    }
    const char* colon = static_cast<const char*>(std::memchr(data, ':', n));
    if (colon == nullptr) return n;
    std::string name = trim(data, colon);
    std::string value = trim(colon + 1, end);
    for (auto& header : incoming_headers_) {
        if (same_name(header.first, name)) {  // repeated headers join, as urllib3 does
            header.second += ", " + value;
            return n;
        }
    }
    incoming_headers_.emplace_back(std::move(name), std::move(value));
    return n;
}

size_t Transfer::on_body(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const std::size_t n = size * count;
    t->last_activity_ = Clock::now();
    std::unique_lock<std::mutex> lock(t->mutex_);
    if (t->cancelled_) return 0;  // makes libcurl abort the transfer
    if (t->whole_next_ != nullptr) {
        // Straight into the whole read's bytes object: the body is held once.
        const std::size_t k = std::min(n, t->whole_left_);
        std::memcpy(t->whole_next_, data, k);
        t->whole_next_ += k;
        t->whole_left_ -= k;
        t->body_received_ += static_cast<long long>(k);
        // Bytes past the Content-Length (libcurl stops there, so never
        // expected) are buffered for the next read, never paused: libcurl
        // would offer the whole chunk again.
        const bool kept = k == n || t->keep_body(data + k, n - k);
        if (t->whole_left_ == 0 || k < n) t->notify(lock);
        return kept ? n : 0;
    }
    const std::size_t unread = t->body_.size() - t->body_read_;
    // Until its reader comes, a stream stops at kChunk (128 KiB), as aiohttp
    // and urllib3 leave the rest of a body in the socket until it is read:
    // calls whose readers the loop has not run yet do not hold whole bodies.
    if (t->request_.stream &&
        ((!t->reader_arrived_ && unread >= kChunk) || unread >= kHighWater ||
         (unread >= kChunk && unread_stream_bytes.load(std::memory_order_relaxed) + n > stream_budget.load(std::memory_order_relaxed)))) {
        if (!t->paused_) {
            t->reader_touched_ = t->last_activity_;
            t->paused_list_->push_back(t);  // the engine watches how long it waits
        }
        t->paused_ = true;  // libcurl keeps this chunk and offers it again on resume
        t->notify(lock);    // a reader waiting for more takes what there is
        return CURL_WRITEFUNC_PAUSE;
    }
    if (!t->keep_body(data, n)) return 0;
    if (t->request_.stream) t->notify(lock);
    return n;
}

bool Transfer::keep_body(const char* data, std::size_t n) {
    try {
        body_.append(data, n);
    } catch (...) {
        callback_failed_ = true;  // out of memory: fail the transfer, not the process
        return false;
    }
    body_received_ += static_cast<long long>(n);
    if (request_.stream) unread_stream_bytes.fetch_add(n, std::memory_order_relaxed);
    return true;
}

void Transfer::resume_transfer() {
    int still_paused = 0;  // the directions that stay paused
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const bool receive = paused_ && resume_requested_;
        const bool send = upload_paused_ && (upload_read_ < upload_.size() || upload_ended_ || upload_rewind_);
        if (!receive && !send) return;
        if (receive) {
            paused_ = false;
            resume_requested_ = false;
        }
        if (send) upload_paused_ = false;
        if (paused_) still_paused |= CURLPAUSE_RECV;
        if (upload_paused_) still_paused |= CURLPAUSE_SEND;
    }
    last_activity_ = Clock::now();
    curl_easy_pause(easy_, still_paused);  // may call on_body or on_upload at once
}

Clock::time_point Transfer::idle_deadline(Clock::time_point now) const {
    const long own = read_timeout_ms_.load(std::memory_order_relaxed);
    const long limit = own >= 0 ? own : session_->config.read_timeout_ms;
    // A paused reader, or a body not yet read from its source, is behind: not the server.
    if (limit <= 0 || paused_ || upload_paused_) return Clock::time_point::max();
    // Still connecting (the connect timeout applies): look again one period on.
    return (connected_ ? last_activity_ : now) + std::chrono::milliseconds(limit);
}

bool Transfer::idle_too_long(Clock::time_point now) const {
    return connected_ && now > idle_deadline(now);
}

void Transfer::finish(CURLcode code) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (done_) return;
    if (callback_failed_) {
        failure_.kind = FailureKind::Other;
        failure_.code = code == CURLE_OK ? CURLE_OUT_OF_MEMORY : code;
        failure_.message = "out of memory while receiving the response";
        failure_.after_headers = headers_done_;
    } else if (code != CURLE_OK || idle_timed_out_) {
        failure_.code = code == CURLE_OK ? CURLE_OPERATION_TIMEDOUT : code;
        failure_.kind = cancelled_ ? FailureKind::Cancelled
                                   : classify_failure(failure_.code, connected_, idle_timed_out_,
                                                      !request_.proxy_url.empty());
        failure_.after_headers = headers_done_;
        if (idle_timed_out_) failure_.message = "no data received within the read timeout";
        curl_off_t length = -1;
        if (easy_ != nullptr &&
            curl_easy_getinfo(easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK) {
            failure_.content_length = static_cast<long long>(length);
        }
        failure_.body_received = body_received_;
    } else if (!headers_done_) {
        failure_.kind = FailureKind::ConnectionClosed;
        failure_.code = CURLE_GOT_NOTHING;
    }
    done_ = true;
    paused_ = false;
    notify(lock);
}

}  // namespace aboto3
