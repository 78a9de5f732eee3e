// The single mapping from libcurl failures to the exceptions botocore's own
// URLLib3Session raises for the same fault, so retries treat them alike.
#pragma once

#include <curl/curl.h>
#include <nanobind/nanobind.h>

#include <string>

namespace aboto3 {

namespace nb = nanobind;

enum class FailureKind {
    None,
    EndpointConnection,  // refused, unreachable, DNS failure
    ConnectTimeout,
    ReadTimeout,
    ConnectionClosed,  // reset, closed early, truncated, garbage reply
    Ssl,
    Proxy,
    Cancelled,
    Other,
};

// What went wrong, decided on the I/O thread from the libcurl result and
// how far the transfer got.
FailureKind classify_failure(CURLcode code, bool connected, bool idle_timed_out, bool via_proxy);

struct Failure {
    FailureKind kind = FailureKind::None;
    CURLcode code = CURLE_OK;
    std::string message;
    bool after_headers = false;  // the status line and headers had arrived
    // For a body cut short: the bytes that came and what Content-Length
    // promised (-1 if it did not), as urllib3's IncompleteRead reports them.
    long long body_received = 0;
    long long content_length = -1;
};

// The server closed the connection cleanly before the whole body came.
bool is_truncated(const Failure& failure);

// The botocore exception for a failed send (GIL held). Body reads of a
// streaming response get the urllib3 exceptions that botocore's StreamingBody
// translates itself (ProtocolError, ReadTimeoutError); a truncated body's is
// urllib3's own ProtocolError around IncompleteRead, word for word.
nb::object send_exception(const Failure& failure, const std::string& url, const std::string& proxy_url);
nb::object body_read_exception(const Failure& failure);

}  // namespace aboto3
