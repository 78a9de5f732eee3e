// Python bindings for the native engine (libcurl), built only when libcurl is.
#include "curl_engine.h"
#include "poller.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <string_view>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {
namespace {

bool header_is(std::string_view name, const char* wanted) {
    std::size_t i = 0;
    for (; wanted[i] != '\0'; ++i) {
        if (i >= name.size() ||
            std::tolower(static_cast<unsigned char>(name[i])) != wanted[i]) {
            return false;
        }
    }
    return i == name.size();
}

std::string as_bytes(nb::handle value) {
    if (PyBytes_Check(value.ptr())) {
        return std::string(PyBytes_AS_STRING(value.ptr()), PyBytes_GET_SIZE(value.ptr()));
    }
    if (PyUnicode_Check(value.ptr())) {
        // http.client sends header values as latin-1.
        PyObject* encoded = PyUnicode_AsEncodedString(value.ptr(), "latin-1", "strict");
        if (encoded == nullptr) throw nb::python_error();
        std::string out(PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded));
        Py_DECREF(encoded);
        return out;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(value.ptr(), &view, PyBUF_SIMPLE) != 0) throw nb::python_error();
    std::string out(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
    PyBuffer_Release(&view);
    return out;
}

std::string_view bytes_view(PyObject* data) {
    return {PyBytes_AS_STRING(data), static_cast<std::size_t>(PyBytes_GET_SIZE(data))};
}

std::string_view ascii_view(PyObject* text) {
    return {static_cast<const char*>(PyUnicode_DATA(text)),
            static_cast<std::size_t>(PyUnicode_GET_LENGTH(text))};
}

// A type http.client does not convert goes to its own regular expression,
// which raises the TypeError it would; a bytes-like one passes and is copied.
std::string_view unconverted(nb::handle value, const char* check, std::string& copy) {
    if (!PyObject_CheckBuffer(value.ptr())) {
        nb::module_::import_("http.client").attr(check)(value);
    }
    copy = as_bytes(value);
    return copy;
}

[[noreturn]] void refuse(const char* what, std::string_view bytes, const char* why = "") {
    nb::bytes shown(bytes.data(), bytes.size());
    PyErr_Format(PyExc_ValueError, "Invalid header %s %R%s", what, shown.ptr(), why);
    throw nb::python_error();
}

// http.client would send a NUL byte; a libcurl header line ends at one, so the
// rest would silently go missing.
void refuse_nul(const char* what, std::string_view bytes) {
    if (bytes.find('\0') != std::string_view::npos) {
        refuse(what, bytes, ": the native engine cannot send a NUL byte in a header");
    }
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// What http.client's putheader does with a header name or value, so that a
// request urllib3 refuses is refused here too, with the same exception (which
// the session wraps as botocore does), and never sent: libcurl would send a
// value holding CR or LF as it is, and the rest of it as headers of their own.
// An ASCII str or a bytes object (nearly every header) is viewed in place;
// anything else is converted into `copy`.
//
// str names as ASCII (http.client's encode('ascii')); legal as its
// _is_legal_header_name: not empty, no leading whitespace, no ':', CR or LF.
std::string_view header_name(nb::handle value, std::string& copy) {
    PyObject* name = value.ptr();
    std::string_view bytes;
    if (PyUnicode_Check(name) && PyUnicode_IS_ASCII(name)) {
        bytes = ascii_view(name);
    } else if (PyBytes_Check(name)) {
        bytes = bytes_view(name);
    } else if (PyUnicode_Check(name)) {
        nb::object encoded = nb::steal(PyUnicode_AsEncodedString(name, "ascii", "strict"));
        if (!encoded.is_valid()) throw nb::python_error();
        copy.assign(bytes_view(encoded.ptr()));
        bytes = copy;
    } else {
        bytes = unconverted(value, "_is_legal_header_name", copy);
    }
    bool legal = !bytes.empty() && bytes[0] != ':' && !is_space(bytes[0]);
    for (std::size_t i = 1; legal && i < bytes.size(); ++i) {
        legal = bytes[i] != ':' && bytes[i] != '\r' && bytes[i] != '\n';
    }
    if (!legal) refuse("name", bytes);
    refuse_nul("name", bytes);
    return bytes;
}

// str values as latin-1, ints as their digits; illegal as http.client's
// _is_illegal_header_value: an LF not followed by a space or tab, a CR not
// followed by a space, tab or LF (a folded continuation line passes).
std::string_view header_value(nb::handle value, std::string& copy) {
    PyObject* object = value.ptr();
    std::string_view bytes;
    if (PyBytes_Check(object)) {
        bytes = bytes_view(object);
    } else if (PyUnicode_Check(object) && PyUnicode_IS_ASCII(object)) {
        bytes = ascii_view(object);
    } else if (PyUnicode_Check(object)) {
        copy = as_bytes(value);
        bytes = copy;
    } else if (PyLong_Check(object)) {
        copy = nb::str(value).c_str();
        bytes = copy;
    } else {
        bytes = unconverted(value, "_is_illegal_header_value", copy);
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const char next = i + 1 < bytes.size() ? bytes[i + 1] : '\0';
        if ((bytes[i] == '\n' && next != ' ' && next != '\t') ||
            (bytes[i] == '\r' && next != ' ' && next != '\t' && next != '\n')) {
            refuse("value", bytes);
        }
    }
    refuse_nul("value", bytes);
    return bytes;
}

// The Python face of one transfer. Dropping it before the transfer is over
// cancels it, so an abandoned request never keeps its connection busy.
struct TransferHandle {
    std::shared_ptr<Transfer> transfer;
    std::shared_ptr<CurlEngine> engine;
    // A whole read's bytes object, which the I/O thread writes into until
    // end_whole_read or cancel() detaches it (so it is released after them).
    nb::object whole;

    TransferHandle(std::shared_ptr<Transfer> t, std::shared_ptr<CurlEngine> e)
        : transfer(std::move(t)), engine(std::move(e)) {}
    TransferHandle(TransferHandle&&) = default;
    TransferHandle& operator=(TransferHandle&&) = delete;  // would drop `whole` uncancelled
    TransferHandle(const TransferHandle&) = delete;
    TransferHandle& operator=(const TransferHandle&) = delete;
    ~TransferHandle() { cancel(); }

    void cancel() {
        if (transfer && transfer->mark_cancelled()) engine->cancel(transfer);
    }

    void set_read_timeout(double seconds) {
        // A positive timeout under a millisecond still times out, as a socket's would.
        const long ms = seconds <= 0 ? 0 : std::max(1L, static_cast<long>(seconds * 1000));
        transfer->set_read_timeout(ms);
        engine->retime(transfer);
    }

    bool feed(unsigned epoch, nb::bytes chunk) {
        const bool resume = transfer->feed_upload(epoch, chunk.c_str(), chunk.size());
        if (resume) engine->resume(transfer);
        return resume;
    }

    bool start_whole_read() {
        if (whole.is_valid()) return false;  // one at a time: the I/O thread may be writing into it
        bool resume = false;
        nb::object started = transfer->start_whole_read(resume);
        if (started.is_none()) return false;
        whole = std::move(started);  // owned before anything else can throw
        if (resume) engine->resume(transfer);
        return true;
    }

    nb::object end_whole_read() {
        if (!whole.is_valid()) return nb::none();
        bool consumed = false;
        const bool filled = transfer->end_whole_read(consumed);
        if (consumed) engine->body_consumed(transfer);
        nb::object out = std::move(whole);
        whole = nb::object();
        return filled ? out : nb::none();
    }

    nb::bytes read(long max) {
        bool resume = false, consumed = false;
        nb::bytes data = transfer->read(max, resume, consumed);
        if (resume) engine->resume(transfer);
        if (consumed) engine->body_consumed(transfer);
        return data;
    }
};

// The Python face of one botocore client's HTTP settings.
struct HttpSession {
    std::shared_ptr<Session> session;

    HttpSession(std::size_t max_connections, double connect_timeout, double read_timeout,
                bool verify, const std::string& ca_file, const std::string& client_cert,
                const std::string& client_key, bool tcp_keepalive, const std::string& proxy_ca_file,
                const std::string& proxy_client_cert, const std::string& proxy_client_key) {
        if (max_connections == 0) throw nb::value_error("max_connections must be at least 1");
        SessionConfig config;
        config.max_connections = max_connections;
        config.connect_timeout_ms = static_cast<long>(connect_timeout * 1000);
        config.read_timeout_ms = static_cast<long>(read_timeout * 1000);
        config.verify = verify;
        config.ca_file = ca_file;
        config.client_cert = client_cert;
        config.client_key = client_key;
        config.tcp_keepalive = tcp_keepalive;
        config.proxy_ca_file = proxy_ca_file;
        config.proxy_client_cert = proxy_client_cert;
        config.proxy_client_key = proxy_client_key;
        session = std::make_shared<Session>(std::move(config));
    }

    TransferHandle send(const std::string& method, const std::string& url, nb::list headers,
                        std::optional<nb::object> body, bool stream, const std::string& proxy_url,
                        double read_timeout, bool fed_body, bool seekable,
                        const std::string& target, bool defer_wake) {
        Request request;
        request.target = target;
        request.read_timeout_ms = read_timeout < 0 ? -1 : static_cast<long>(read_timeout * 1000);
        request.method = method;
        request.url = url;
        request.proxy_url = proxy_url;
        request.stream = stream;
        bool has_expect = false, has_accept = false, has_accept_encoding = false;
        request.header_lines.reserve(headers.size() + 4);
        std::string name_copy, value_copy;
        for (nb::handle item : headers) {
            if (!PyTuple_Check(item.ptr()) || PyTuple_GET_SIZE(item.ptr()) != 2) {
                throw nb::type_error("headers must be a list of (name, value) tuples");
            }
            nb::tuple pair = nb::borrow<nb::tuple>(item);
            const std::string_view name = header_name(pair[0], name_copy);
            const std::string_view value = header_value(pair[1], value_copy);
            has_expect |= header_is(name, "expect");
            request.has_content_type |= header_is(name, "content-type");
            has_accept |= header_is(name, "accept");
            has_accept_encoding |= header_is(name, "accept-encoding");
            if (header_is(name, "transfer-encoding") && value.find("chunked") != std::string::npos) {
                request.chunked = true;
            }
            if (header_is(name, "content-length")) {
                try {
                    request.content_length = std::stoll(std::string(value));
                } catch (const std::exception&) {
                    throw nb::value_error("invalid Content-Length header");
                }
            }
            // libcurl leaves out a header whose value is blank, and sends
            // "Name;" as one with an empty value (http.client sends the blank).
            std::string& line = request.header_lines.emplace_back();
            line.reserve(name.size() + value.size() + 2);
            line.append(name);
            if (value.find_first_not_of(" \t\r\n\v\f") == std::string_view::npos) {
                line += ';';
            } else {
                line.append(": ").append(value);
            }
        }
        // Send what urllib3 sends: no libcurl defaults, no unasked-for Expect,
        // and http.client's Accept-Encoding where it puts it, right after Host
        // (libcurl sends Host first, then these lines in order).
        request.has_expect = has_expect;
        if (!has_expect) request.header_lines.emplace_back("Expect:");
        if (!has_accept) request.header_lines.emplace_back("Accept:");
        if (!has_accept_encoding) {
            request.header_lines.insert(request.header_lines.begin(), "Accept-Encoding: identity");
        }
        // Through a forwarding proxy libcurl would add a Proxy-Connection header.
        if (!target.empty() && target[0] != '/') request.header_lines.emplace_back("Proxy-Connection:");
        if (fed_body) {
            request.fed_body = true;
            request.fed_body_seekable = seekable;
        } else if (body && !body->is_none()) {
            request.body = as_bytes(*body);
        }
        request.has_body = !request.body.empty() || request.chunked || fed_body || method == "POST" ||
                           method == "PUT" || method == "PATCH";
        TransferHandle handle{std::make_shared<Transfer>(session, std::move(request)),
                              CurlEngine::instance()};
        handle.engine->submit(handle.transfer, defer_wake);
        return handle;
    }
};


}  // namespace

const char* native_io_backend() { return Poller::backend(); }

void bind_native_engine(nb::module_& m) {
    nb::class_<TransferHandle>(m, "Transfer", "One HTTP exchange running on the libcurl I/O thread.")
        .def("wait_async",
            [](TransferHandle& h, CompletionBridge& bridge, nb::object future, int want,
               std::size_t min_bytes) {
                return h.transfer->wait_async(bridge.queue, std::move(future), static_cast<Want>(want),
                                              min_bytes);
            },
            "bridge"_a, "future"_a, "want"_a, "min_bytes"_a = 1,
            "True if `want` (0 headers, 1 data, 2 done, 3 whole read filled) holds now; else settle `future` when it "
            "does. Data means `min_bytes` buffered, or the transfer paused or over.")
        .def("wait",
            [](TransferHandle& h, int want, std::size_t min_bytes) {
                h.transfer->wait(static_cast<Want>(want), min_bytes);
            },
            "want"_a, "min_bytes"_a = 1, "Block, with the GIL released, until `want` holds.")
        .def_prop_ro("status", [](TransferHandle& h) { return h.transfer->status(); })
        .def("headers",
            [](TransferHandle& h) {
                // Header bytes are latin-1, as http.client decodes them.
                nb::list out;
                for (const auto& [name, value] : h.transfer->headers()) {
                    nb::object key = nb::steal(PyUnicode_DecodeLatin1(name.data(), name.size(), nullptr));
                    nb::object text = nb::steal(PyUnicode_DecodeLatin1(value.data(), value.size(), nullptr));
                    if (!key.is_valid() || !text.is_valid()) throw nb::python_error();
                    out.append(nb::make_tuple(key, text));
                }
                return out;
            },
            "The response headers, repeated names joined with ', ' as urllib3 does.")
        .def("read", &TransferHandle::read, "max"_a = -1,
            "Up to `max` buffered body bytes (all if negative); b'' if none are buffered yet.")
        .def("start_whole_read", &TransferHandle::start_whole_read,
            "For a read of the whole rest of a body of known length: True if the I/O thread "
            "now writes it straight into one bytes object (wait for want 3, then "
            "end_whole_read); False to read it with read() as usual.")
        .def("end_whole_read", &TransferHandle::end_whole_read,
            "The rest of the body as one bytes object once it all came; None if it fell short "
            "(what came is then buffered for read()) or no whole read was started.")
        .def_prop_ro("finished", [](TransferHandle& h) { return h.transfer->finished(); })
        .def_prop_ro("at_eof", [](TransferHandle& h) { return h.transfer->at_eof(); })
        .def_prop_ro("buffered", [](TransferHandle& h) { return h.transfer->buffered(); },
            "Body bytes received and not yet read.")
        .def_prop_ro("failed", [](TransferHandle& h) { return h.transfer->failure().kind != FailureKind::None; })
        .def_prop_ro("truncated",
            [](TransferHandle& h) { return is_truncated(h.transfer->failure()); },
            "The server closed the connection cleanly before sending the whole body.")
        .def("send_error",
            [](TransferHandle& h) -> nb::object {
                Failure failure = h.transfer->failure();
                if (failure.kind == FailureKind::None) return nb::none();
                return send_exception(failure, h.transfer->request().url, h.transfer->request().proxy_url);
            },
            "The botocore exception for a failed send, or None.")
        .def("body_error",
            [](TransferHandle& h) -> nb::object {
                Failure failure = h.transfer->failure();
                if (failure.kind == FailureKind::None) return nb::none();
                return body_read_exception(failure);
            },
            "The urllib3 exception for a failed body read, or None.")
        .def("upload_need",
            [](TransferHandle& h) -> std::optional<std::pair<unsigned, bool>> {
                std::optional<UploadNeed> need = h.transfer->upload_need();
                if (!need) return std::nullopt;
                return std::make_pair(need->epoch, need->rewind);
            },
            "For a fed body: None, or (epoch, rewind) when libcurl needs the next chunk "
            "(after seeking the body back to its start if rewind).")
        .def("feed", &TransferHandle::feed, "epoch"_a, "chunk"_a,
            "Give the next chunk of a fed body (b'' at its end) for `epoch`; a chunk of an "
            "older epoch is dropped.")
        .def("cancel", &TransferHandle::cancel, "Abandon the exchange and drop its connection.")
        .def("set_read_timeout", &TransferHandle::set_read_timeout, "seconds"_a,
             "The read timeout from now on (0: none), as a socket timeout set while reading.");

    nb::class_<HttpSession>(m, "HttpSession", "One botocore client's HTTP settings for libcurl.")
        .def(nb::init<std::size_t, double, double, bool, const std::string&, const std::string&,
                      const std::string&, bool, const std::string&, const std::string&,
                      const std::string&>(),
            "max_connections"_a, "connect_timeout"_a, "read_timeout"_a, "verify"_a = true,
            "ca_file"_a = "", "client_cert"_a = "", "client_key"_a = "", "tcp_keepalive"_a = false,
            "proxy_ca_file"_a = "", "proxy_client_cert"_a = "", "proxy_client_key"_a = "")
        .def("send", &HttpSession::send, "method"_a, "url"_a, "headers"_a, "body"_a.none(),
            "stream"_a, "proxy_url"_a = "", "read_timeout"_a = -1.0, "fed_body"_a = false,
            "seekable"_a = false, "target"_a = "", "defer_wake"_a = false,
            "Queue a request on the I/O thread; returns its Transfer at once. With `defer_wake` "
            "it waits there for the next wake_io_thread() (or any other command). With `fed_body` "
            "the body is given chunk by chunk through Transfer.feed (its size from the "
            "Content-Length header; `seekable`: it can start over if libcurl must resend). "
            "A target starting with '/' goes on the request line verbatim, url then only "
            "says where to connect; an absolute target (for a forwarding proxy) replaces url.")
        .def("release_connections",
            [](HttpSession& s) { CurlEngine::instance()->release_connections(s.session); },
            "Close this session's pooled connections once its calls in flight are over.");

    m.def("wake_io_thread", [] { CurlEngine::instance()->flush(); },
          "Start what send(..., defer_wake=True) queued since the I/O thread last woke.");
    m.def("set_max_wake_deferral",
          [](double seconds) {
              if (!(seconds >= 0.0 && seconds <= 3600.0)) {  // NaN too
                  throw nb::value_error("the wake deferral limit must be between 0 and 3600 seconds");
              }
              const auto limit = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::duration<double>(seconds));
              return std::chrono::duration<double>(CurlEngine::instance()->set_max_deferral(limit))
                  .count();
          },
          "seconds"_a,
          "Set how long a deferred send may wait for its wake before the next deferred "
          "send wakes the I/O thread (default 0.002); returns the previous limit.");
    m.def("set_stream_buffer_budget", &set_stream_buffer_budget, "bytes"_a,
          "Set the budget of unread streaming-body bytes across all transfers (above it "
          "each transfer pauses once it holds 128 KiB); returns the previous budget.");
    m.def("stream_buffered", &unread_stream_buffered,
          "Unread streaming-body bytes held by all transfers now (a whole read's bytes "
          "object is its reader's, as any read's result is, and not counted).");
    m.def("shutdown_curl_engine", &CurlEngine::shutdown_instance,
          "Stop the libcurl I/O thread; run at interpreter exit.");
    m.def("curl_in_flight", [] { return CurlEngine::instance()->in_flight(); },
          "Transfers submitted to the I/O thread and not yet finished.");
    m.def("curl_wakes", [] { return CurlEngine::instance()->wakes(); },
          "How many times the I/O thread has been woken for commands.");
}

}  // namespace aboto3
