#include "errors.h"

namespace aboto3 {

using namespace nb::literals;

FailureKind classify_failure(CURLcode code, bool connected, bool idle_timed_out, bool via_proxy) {
    if (idle_timed_out) {
        return FailureKind::ReadTimeout;
    }
    switch (code) {
        case CURLE_OK:
            return FailureKind::None;
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_PROXY:
            return FailureKind::Proxy;
        case CURLE_COULDNT_RESOLVE_HOST:
            return FailureKind::EndpointConnection;
        case CURLE_COULDNT_CONNECT:
            return via_proxy ? FailureKind::Proxy : FailureKind::EndpointConnection;
        case CURLE_OPERATION_TIMEDOUT:
            return connected ? FailureKind::ReadTimeout : FailureKind::ConnectTimeout;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_USE_SSL_FAILED:
            return FailureKind::Ssl;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP3:
            return FailureKind::ConnectionClosed;
        case CURLE_ABORTED_BY_CALLBACK:
            return FailureKind::Cancelled;
        // A status line libcurl cannot parse, and response headers over its
        // 100 KiB limit (reported as out of memory before libcurl 8.6): what
        // http.client rejects as a protocol error, which botocore reports as
        // a closed connection.
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_OUT_OF_MEMORY:
            return connected ? FailureKind::ConnectionClosed : FailureKind::Other;
#if LIBCURL_VERSION_NUM >= 0x080600
        case CURLE_TOO_LARGE:
            return FailureKind::ConnectionClosed;
#endif
        default:
            return FailureKind::Other;
    }
}

bool is_truncated(const Failure& failure) {
    return failure.code == CURLE_PARTIAL_FILE && failure.after_headers;
}

namespace {

nb::object botocore_error(const char* name) {
    return nb::module_::import_("botocore.exceptions").attr(name);
}

// The underlying error botocore keeps in its exception's `error` field.
nb::object underlying(const Failure& failure) {
    std::string text = "curl error " + std::to_string(static_cast<int>(failure.code)) + ": " +
                       (failure.message.empty() ? curl_easy_strerror(failure.code) : failure.message);
    nb::object cls = nb::borrow(failure.kind == FailureKind::ConnectTimeout ||
                                        failure.kind == FailureKind::ReadTimeout
                                    ? PyExc_TimeoutError
                                    : PyExc_ConnectionError);
    return cls(nb::str(text.c_str()));
}

}  // namespace

nb::object send_exception(const Failure& failure, const std::string& url, const std::string& proxy_url) {
    nb::str endpoint(url.c_str());
    nb::object error = underlying(failure);
    switch (failure.kind) {
        case FailureKind::EndpointConnection:
            return botocore_error("EndpointConnectionError")("endpoint_url"_a = endpoint, "error"_a = error);
        case FailureKind::ConnectTimeout:
            return botocore_error("ConnectTimeoutError")("endpoint_url"_a = endpoint, "error"_a = error);
        case FailureKind::ReadTimeout:
            return botocore_error("ReadTimeoutError")("endpoint_url"_a = endpoint, "error"_a = error);
        case FailureKind::ConnectionClosed:
            return botocore_error("ConnectionClosedError")("endpoint_url"_a = endpoint, "error"_a = error);
        case FailureKind::Ssl:
            return botocore_error("SSLError")("endpoint_url"_a = endpoint, "error"_a = error);
        case FailureKind::Proxy:
            return botocore_error("ProxyConnectionError")("proxy_url"_a = nb::str(proxy_url.c_str()),
                                                          "error"_a = error);
        case FailureKind::Cancelled:
            return nb::module_::import_("asyncio").attr("CancelledError")();
        default:
            return botocore_error("HTTPClientError")("error"_a = error);
    }
}

nb::object body_read_exception(const Failure& failure) {
    nb::object urllib3 = nb::module_::import_("urllib3.exceptions");
    if (failure.kind == FailureKind::ReadTimeout) {
        // urllib3 gives no URL here (its response does not know it), so
        // botocore's message says 'endpoint URL: "None"': the same words.
        return urllib3.attr("ReadTimeoutError")(nb::none(), nb::none(), "Read timed out.");
    }
    if (failure.kind == FailureKind::Cancelled) {
        return nb::module_::import_("asyncio").attr("CancelledError")();
    }
    if (is_truncated(failure) && failure.content_length >= 0) {
        // What urllib3 (or http.client under it) raises at the short end.
        nb::object incomplete = urllib3.attr("IncompleteRead")(
            failure.body_received, failure.content_length - failure.body_received);
        nb::str text = nb::str("Connection broken: {!r}").format(incomplete);
        return urllib3.attr("ProtocolError")(text, incomplete);
    }
    std::string text = "Connection broken: " +
                       (failure.message.empty() ? std::string(curl_easy_strerror(failure.code)) : failure.message);
    return urllib3.attr("ProtocolError")(nb::str(text.c_str()), underlying(failure));
}

}  // namespace aboto3
