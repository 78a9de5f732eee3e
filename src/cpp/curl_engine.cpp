#include "curl_engine.h"

#include "process.h"

#include <pthread.h>

#include <stdexcept>

namespace aboto3 {

namespace {

std::mutex instance_mutex;
std::shared_ptr<CurlEngine>& instance_slot() {
    static std::shared_ptr<CurlEngine> engine;
    return engine;
}

// Marks a socket the poller watches already (given to curl_multi_assign).
int registered_marker = 0;

// A streaming body that waits for its reader (paused, or finished unread)
// keeps its connection slot, so a session has at most max_connections bodies
// coming in at once, as an aiohttp or urllib3 pool has: readers slower than
// the network do not pull in every other body meanwhile. If the reader stays
// away this long, the slot goes to the next call (urllib3 would open another
// connection), so bodies held unread never stall a session's other calls.
constexpr std::chrono::milliseconds kReaderGrace{250};

// Idle connections libcurl may keep across all sessions: in effect no limit.
constexpr long kNoIdleConnectionLimit = 1L << 20;

}  // namespace

std::shared_ptr<CurlEngine> CurlEngine::instance() {
    static std::once_flag once;
    std::call_once(once, [] {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        pthread_atfork([] { instance_mutex.lock(); }, [] { instance_mutex.unlock(); },
                       [] {
                           instance_mutex.unlock();
                           CurlEngine::abandon_after_fork();
                       });
    });
    std::lock_guard<std::mutex> lock(instance_mutex);
    std::shared_ptr<CurlEngine>& engine = instance_slot();
    if (!engine) engine = std::make_shared<CurlEngine>();
    return engine;
}

void CurlEngine::shutdown_instance() {
    std::shared_ptr<CurlEngine> engine;
    {
        std::lock_guard<std::mutex> lock(instance_mutex);
        engine = std::move(instance_slot());
    }
    // The destructor joins the I/O thread, which never needs the GIL.
}

void CurlEngine::abandon_after_fork() {
    // The child has no I/O thread; its engine and transfers belonged to the
    // parent. Leak them (their mutexes may be held) and start afresh on demand.
    static std::vector<std::shared_ptr<CurlEngine>>* abandoned =
        std::make_unique<std::vector<std::shared_ptr<CurlEngine>>>().release();
    std::shared_ptr<CurlEngine>& engine = instance_slot();
    if (engine) abandoned->push_back(std::move(engine));
}

Session::Session(SessionConfig c) : config(std::move(c)), generation(fork_generation()) {}

Session::~Session() {
    // A pool from before a fork() holds the parent's connections: leave them be.
    if (share != nullptr && generation == fork_generation()) CurlEngine::dispose_share(share);
}

void CurlEngine::dispose_share(CURLSH* share) {
    std::shared_ptr<CurlEngine> engine;
    {
        std::lock_guard<std::mutex> lock(instance_mutex);
        engine = instance_slot();
    }
    if (engine) {
        engine->post(Command{Kind::DisposeShare, nullptr, nullptr, share});
    } else {
        curl_share_cleanup(share);  // no I/O thread that could be using it
    }
}

CurlEngine::CurlEngine() : poller_(Poller::create()) {
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw std::runtime_error("aboto3: could not create the libcurl engine");
    poller_->watch(wake_.fd(), Poller::kIn, false);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlEngine::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlEngine::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    // libcurl keeps at most 4 idle connections per transfer still running and
    // closes the oldest beyond that, so a burst's connections were closed as it
    // ended and opened again for the next. urllib3 keeps its pool's connections;
    // so do we: each client's cap bounds how many it opens, and closing the
    // client closes them.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, kNoIdleConnectionLimit);
    thread_ = std::thread([this] { run(); });
}

CurlEngine::~CurlEngine() {
    post(Command{Kind::Stop, nullptr, nullptr});
    if (thread_.joinable()) thread_.join();
    for (CURL* easy : spare_handles_) curl_easy_cleanup(easy);
    curl_multi_cleanup(multi_);
}

void CurlEngine::post(Command command, bool defer_wake) {
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(commands_mutex_);
        commands_.push_back(std::move(command));
        if (!notified_) {
            if (!defer_wake) {
                wake = true;
            } else if (commands_.size() == 1) {
                oldest_unannounced_ = Clock::now();
            } else {
                wake = Clock::now() - oldest_unannounced_ >= max_deferral_;
            }
            notified_ = wake;
        }
    }
    if (wake) notify();
}

std::chrono::microseconds CurlEngine::set_max_deferral(std::chrono::microseconds limit) {
    std::lock_guard<std::mutex> lock(commands_mutex_);
    std::swap(limit, max_deferral_);
    return limit;
}

void CurlEngine::flush() {
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(commands_mutex_);
        if (!commands_.empty() && !notified_) wake = notified_ = true;
    }
    if (wake) notify();
}

void CurlEngine::notify() {
    wakes_.fetch_add(1, std::memory_order_relaxed);
    wake_.notify();
}

void CurlEngine::submit(std::shared_ptr<Transfer> transfer, bool defer_wake) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    post(Command{Kind::Submit, std::move(transfer), nullptr}, defer_wake);
}

void CurlEngine::resume(std::shared_ptr<Transfer> transfer) {
    post(Command{Kind::Resume, std::move(transfer), nullptr});
}

void CurlEngine::body_consumed(std::shared_ptr<Transfer> transfer) {
    post(Command{Kind::BodyConsumed, std::move(transfer), nullptr});
}

void CurlEngine::cancel(std::shared_ptr<Transfer> transfer) {
    post(Command{Kind::Cancel, std::move(transfer), nullptr});
}

void CurlEngine::retime(std::shared_ptr<Transfer> transfer) {
    post(Command{Kind::Retime, std::move(transfer), nullptr});
}

void CurlEngine::release_connections(std::shared_ptr<Session> session) {
    post(Command{Kind::Release, nullptr, std::move(session)});
}

// ------------------------------------------------------------------ I/O thread

int CurlEngine::on_socket(CURL*, curl_socket_t fd, int what, void* self, void* socket_data) {
    auto* engine = static_cast<CurlEngine*>(self);
    if (what == CURL_POLL_REMOVE) {
        engine->poller_->forget(fd);
        curl_multi_assign(engine->multi_, fd, nullptr);
        return 0;
    }
    int flags = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) flags |= Poller::kIn;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) flags |= Poller::kOut;
    engine->poller_->watch(fd, flags, socket_data != nullptr);
    if (socket_data == nullptr) curl_multi_assign(engine->multi_, fd, &registered_marker);
    return 0;
}

int CurlEngine::on_timer(CURLM*, long timeout_ms, void* self) {
    auto* engine = static_cast<CurlEngine*>(self);
    if (timeout_ms < 0) {
        engine->timer_armed_ = false;
    } else {
        engine->timer_armed_ = true;
        engine->timer_deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
}

int CurlEngine::wait_timeout_ms(Clock::time_point now) const {
    long ms = -1;
    if (timer_armed_) {
        ms = std::chrono::duration_cast<std::chrono::milliseconds>(timer_deadline_ - now).count();
        if (ms < 0) ms = 0;
        if (timer_deadline_ > now && ms == 0) ms = 1;  // round up, don't spin
    }
    if (next_idle_check_ != Clock::time_point::max()) {
        long idle = std::chrono::duration_cast<std::chrono::milliseconds>(next_idle_check_ - now).count() + 1;
        if (idle < 0) idle = 0;
        if (ms < 0 || idle < ms) ms = idle;
    }
    return static_cast<int>(ms);
}

void CurlEngine::run() {
    name_this_thread("aboto3-io");
    std::vector<Poller::Ready> ready;
    int still_running = 0;
    while (!stopping_) {
        if (!poller_->wait(wait_timeout_ms(Clock::now()), ready)) break;
        bool woken = false;
        for (const Poller::Ready& event : ready) {
            if (event.fd == wake_.fd()) {
                woken = true;
                continue;
            }
            int flags = 0;
            if (event.flags & Poller::kIn) flags |= CURL_CSELECT_IN;
            if (event.flags & Poller::kOut) flags |= CURL_CSELECT_OUT;
            if (event.flags & Poller::kError) flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(multi_, event.fd, flags, &still_running);
        }
        if (woken) {
            wake_.clear();
            run_commands();
        }
        const Clock::time_point now = Clock::now();
        if (timer_armed_ && now >= timer_deadline_) {
            timer_armed_ = false;
            curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &still_running);
        }
        watch_paused(now);
        collect_finished();
        if (now >= next_idle_check_) expire_idle(now);
    }
    // Stopping: whatever is still running fails rather than hangs.
    for (auto& [raw, transfer] : running_) {
        curl_multi_remove_handle(multi_, transfer->easy());
        curl_easy_setopt(transfer->easy(), CURLOPT_SHARE, nullptr);
        transfer->finish(CURLE_ABORTED_BY_CALLBACK);
        if (!transfer->session()->waiting.empty()) {
            for (auto& queued : transfer->session()->waiting) queued->finish(CURLE_ABORTED_BY_CALLBACK);
            transfer->session()->waiting.clear();
        }
    }
    running_.clear();
    unread_.clear();
}

void CurlEngine::run_commands() {
    std::vector<Command> batch;
    {
        std::lock_guard<std::mutex> lock(commands_mutex_);
        batch.swap(commands_);
        notified_ = false;
    }
    for (Command& command : batch) {
        std::shared_ptr<Transfer>& transfer = command.transfer;
        switch (command.kind) {
            case Kind::Submit:
                start_or_queue(std::move(transfer));
                break;
            case Kind::Resume:
                if (running_.count(transfer.get())) {
                    transfer->resume_transfer();  // without a slot if it gave it up
                    watch_paused(Clock::now());
                    watch_idle(*transfer, Clock::now());
                }
                break;
            case Kind::BodyConsumed:
                release_slot(*transfer);
                unread_.erase(transfer.get());
                release_share_if_idle(*transfer->session());
                break;
            case Kind::Cancel:
                if (running_.count(transfer.get())) {
                    complete(transfer.get(), CURLE_ABORTED_BY_CALLBACK);
                } else {
                    // Still waiting for a connection slot (it will be skipped),
                    // or finished with its body unread.
                    transfer->finish(CURLE_ABORTED_BY_CALLBACK);
                    release_slot(*transfer);
                    unread_.erase(transfer.get());
                    release_share_if_idle(*transfer->session());
                }
                break;
            case Kind::Retime:
                if (running_.count(transfer.get())) {
                    transfer->restart_idle_clock();
                    watch_idle(*transfer, Clock::now());
                }
                break;
            case Kind::Release:
                if (command.session->active == 0 && command.session->waiting.empty()) {
                    release_share(*command.session);
                } else {
                    command.session->release_when_idle = true;
                }
                break;
            case Kind::DisposeShare:
                curl_share_cleanup(command.share);
                break;
            case Kind::Stop:
                stopping_ = true;
                break;
        }
    }
}

void CurlEngine::release_share(Session& session) {
    session.release_when_idle = false;
    // Closes the pooled connections; no handle uses the share any more,
    // because finished transfers leave it (see complete()).
    if (session.share != nullptr && curl_share_cleanup(session.share) == CURLSHE_OK) {
        session.share = nullptr;
    }
}

void CurlEngine::start_or_queue(std::shared_ptr<Transfer> transfer) {
    Session& session = *transfer->session();
    if (session.generation != fork_generation()) {
        // First use in a forked child: the pool, counts and queue are the
        // parent's. Set them aside untouched (their sockets are the parent's too).
        static std::vector<std::deque<std::shared_ptr<Transfer>>>* abandoned =
            std::make_unique<std::vector<std::deque<std::shared_ptr<Transfer>>>>().release();
        abandoned->push_back(std::move(session.waiting));
        session.waiting.clear();
        session.share = nullptr;
        session.active = 0;
        session.release_when_idle = false;
        session.generation = fork_generation();
    }
    if (session.active >= session.config.max_connections) {
        session.waiting.push_back(std::move(transfer));
        return;
    }
    start(std::move(transfer));
}

void CurlEngine::start(std::shared_ptr<Transfer> transfer) {
    Session& session = *transfer->session();
    if (transfer->cancelled()) {
        transfer->finish(CURLE_ABORTED_BY_CALLBACK);
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    if (session.share == nullptr) {
        // The client's own pool; only this thread uses it, so no locking.
        session.share = curl_share_init();
        curl_share_setopt(session.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(session.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(session.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    CURL* easy = nullptr;
    if (spare_handles_.empty()) {
        easy = curl_easy_init();
    } else {
        easy = spare_handles_.back();
        spare_handles_.pop_back();
    }
    if (easy == nullptr || transfer->setup(easy, &paused_) == nullptr ||
        curl_multi_add_handle(multi_, easy) != CURLM_OK) {
        transfer->finish(CURLE_OUT_OF_MEMORY);
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    ++session.active;
    transfer->holds_slot = true;
    watch_idle(*transfer, Clock::now());
    Transfer* key = transfer.get();
    running_.emplace(key, std::move(transfer));
}

void CurlEngine::complete(Transfer* transfer, CURLcode code) {
    curl_multi_remove_handle(multi_, transfer->easy());
    transfer->finish(code);
    CURL* easy = transfer->take_easy();
    // Leave the session's pool (a reset keeps the share) and all other options.
    curl_easy_setopt(easy, CURLOPT_SHARE, nullptr);
    curl_easy_reset(easy);
    constexpr std::size_t kMaxSpare = 256;
    if (spare_handles_.size() < kMaxSpare) {
        spare_handles_.push_back(easy);
    } else {
        curl_easy_cleanup(easy);
    }
    std::shared_ptr<Session> session = transfer->session();
    auto running = running_.find(transfer);
    if (transfer->holds_slot && transfer->awaits_reader(Clock::now())) {
        unread_.emplace(transfer, std::move(running->second));
        watch_reader(*transfer);
    } else {
        release_slot(*transfer);
    }
    running_.erase(running);  // may destroy it: not touched below
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    release_share_if_idle(*session);
}

void CurlEngine::release_share_if_idle(Session& session) {
    if (session.release_when_idle && session.active == 0 && session.waiting.empty()) {
        release_share(session);
    }
}

void CurlEngine::release_slot(Transfer& transfer) {
    if (!transfer.holds_slot) return;
    transfer.holds_slot = false;
    Session& session = *transfer.session();
    --session.active;
    while (!session.waiting.empty() && session.active < session.config.max_connections) {
        std::shared_ptr<Transfer> next = std::move(session.waiting.front());
        session.waiting.pop_front();
        start(std::move(next));
    }
}

void CurlEngine::watch_paused(Clock::time_point now) {
    // Collected by libcurl callbacks: each has just begun to wait for its reader.
    if (paused_.empty()) return;
    paused_.clear();
    next_idle_check_ = std::min(next_idle_check_, now + kReaderGrace);
}

void CurlEngine::watch_reader(Transfer& transfer) {
    next_idle_check_ = std::min(next_idle_check_, transfer.reader_deadline(kReaderGrace));
}

void CurlEngine::collect_finished() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
        if (message->msg != CURLMSG_DONE) continue;
        Transfer* transfer = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
        const CURLcode code = message->data.result;
        complete(transfer, code);
    }
}

void CurlEngine::watch_idle(const Transfer& transfer, Clock::time_point now) {
    next_idle_check_ = std::min(next_idle_check_, transfer.idle_deadline(now));
}

void CurlEngine::expire_idle(Clock::time_point now) {
    // One pass finds the transfers that waited too long and the next deadline,
    // so the thread sleeps until then instead of polling.
    std::vector<Transfer*> expired;
    std::vector<Transfer*> overdue_readers;  // bodies whose readers stayed away
    next_idle_check_ = Clock::time_point::max();
    for (const auto& [raw, transfer] : running_) {
        if (transfer->idle_too_long(now)) {
            expired.push_back(raw);
            continue;
        }
        watch_idle(*transfer, now);
        if (transfer->holds_slot) {
            if (transfer->reader_deadline(kReaderGrace) <= now) {
                overdue_readers.push_back(raw);
            } else {
                watch_reader(*transfer);
            }
        }
    }
    for (const auto& [raw, transfer] : unread_) {
        if (transfer->reader_deadline(kReaderGrace) <= now) {
            overdue_readers.push_back(raw);
        } else {
            watch_reader(*transfer);
        }
    }
    for (Transfer* transfer : expired) {
        transfer->mark_idle_timeout();
        complete(transfer, CURLE_OPERATION_TIMEDOUT);
    }
    for (Transfer* transfer : overdue_readers) {
        release_slot(*transfer);
        auto held = unread_.find(transfer);
        if (held != unread_.end()) {
            std::shared_ptr<Session> session = transfer->session();
            unread_.erase(held);  // may destroy it
            release_share_if_idle(*session);
        }
    }
}

}  // namespace aboto3
