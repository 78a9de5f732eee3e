// Python bindings for the SigV4 signer: botocore's header list in, the
// Authorization value out.
#include "sigv4.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

namespace aboto3 {
namespace {

// A str as UTF-8 (a view of the str's own buffer), or nothing when it is not
// a str or not encodable.
std::optional<std::string_view> utf8_of(nb::handle value) {
    if (!PyUnicode_Check(value.ptr())) {
        return std::nullopt;
    }
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
    if (data == nullptr) {
        PyErr_Clear();
        return std::nullopt;
    }
    return std::string_view(data, static_cast<std::size_t>(size));
}

// The headers of a request, as views the signer reads: what botocore's
// header list holds, plus the strings made for non-ASCII values.
class HeaderViews {
public:
    // False when an item is not a (str, str) pair: botocore signs those.
    bool read(nb::handle items) {
        // A snapshot: trimming a value allocates, which can run a garbage
        // collection and with it code that could change the list itself.
        nb::object sequence = nb::steal(PySequence_Tuple(items.ptr()));
        if (!sequence.is_valid()) {
            throw nb::python_error();
        }
        Py_ssize_t count = PyTuple_GET_SIZE(sequence.ptr());
        PyObject** item = &PyTuple_GET_ITEM(sequence.ptr(), 0);
        headers.reserve(static_cast<std::size_t>(count));
        for (Py_ssize_t i = 0; i < count; ++i) {
            if (!PyTuple_Check(item[i]) || PyTuple_GET_SIZE(item[i]) != 2) {
                return false;
            }
            std::optional<std::string_view> name = utf8_of(PyTuple_GET_ITEM(item[i], 0));
            std::optional<std::string_view> value = value_of(PyTuple_GET_ITEM(item[i], 1));
            if (!name || !value) {
                return false;
            }
            headers.push_back({*name, *value});
        }
        sequence_ = std::move(sequence);
        return true;
    }

    std::vector<SignedHeader> headers;

private:
    // botocore trims header values with str.split(), whose idea of whitespace
    // goes beyond ASCII: a non-ASCII value is trimmed by Python itself.
    std::optional<std::string_view> value_of(PyObject* value) {
        if (!PyUnicode_Check(value) || PyUnicode_IS_ASCII(value)) {
            return utf8_of(value);
        }
        nb::object words = nb::steal(PyUnicode_Split(value, nullptr, -1));
        nb::object joined;
        if (words.is_valid()) {
            joined = nb::steal(PyUnicode_Join(nb::str(" ").ptr(), words.ptr()));
        }
        if (!joined.is_valid()) {
            PyErr_Clear();
            return std::nullopt;
        }
        made_.push_back(std::move(joined));
        return utf8_of(made_.back());
    }

    nb::object sequence_;           // keeps the items (and their strs) alive
    std::vector<nb::object> made_;  // the trimmed non-ASCII values
};

// The views a signature needs, or nothing when one is not a str.
bool read_texts(std::initializer_list<std::pair<nb::handle, std::string_view*>> texts) {
    for (const auto& [value, target] : texts) {
        std::optional<std::string_view> text = utf8_of(value);
        if (!text) {
            return false;
        }
        *target = *text;
    }
    return true;
}

// SigV4Signer.authorization: the Authorization value, or None for a request
// this signer leaves to botocore (a non-str part, an unusual URL or name).
nb::object sigv4_authorization(SigV4Signer& signer, nb::handle method, nb::handle url,
                               nb::handle canonical_query, nb::handle headers,
                               nb::handle payload_hash, nb::handle access_key,
                               nb::handle secret_key, nb::handle timestamp, nb::handle region,
                               nb::handle service, bool normalize_path) {
    SigningInput input;
    input.normalize_path = normalize_path;
    if (!read_texts({{method, &input.method},
                     {url, &input.url},
                     {payload_hash, &input.payload_hash},
                     {access_key, &input.access_key},
                     {secret_key, &input.secret_key},
                     {timestamp, &input.timestamp},
                     {region, &input.region},
                     {service, &input.service}})) {
        return nb::none();
    }
    if (!canonical_query.is_none()) {
        input.canonical_query = utf8_of(canonical_query);
        if (!input.canonical_query) {
            return nb::none();
        }
    }
    HeaderViews views;
    if (!views.read(headers)) {
        return nb::none();
    }
    input.headers = std::move(views.headers);
    std::optional<std::string> authorization = signer.authorization(input);
    if (!authorization) {
        return nb::none();
    }
    return nb::str(authorization->data(), authorization->size());
}

// The headers botocore's _modify_request_before_signing replaces.
enum class Replaced { No, Authorization, Date, AmzDate, SecurityToken, ContentSha256 };

Replaced replaced(PyObject* ascii_name) {
    static const std::pair<std::string_view, Replaced> kNames[] = {
        {"authorization", Replaced::Authorization},
        {"date", Replaced::Date},
        {"x-amz-date", Replaced::AmzDate},
        {"x-amz-security-token", Replaced::SecurityToken},
        {"x-amz-content-sha256", Replaced::ContentSha256}};
    std::string_view name(static_cast<const char*>(PyUnicode_DATA(ascii_name)),
                          static_cast<std::size_t>(PyUnicode_GET_LENGTH(ascii_name)));
    for (const auto& [lower, which] : kNames) {
        if (name.size() == lower.size() &&
            std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
                return ((a >= 'A' && a <= 'Z') ? static_cast<char>(a + 32) : a) == b;
            })) {
            return which;
        }
    }
    return Replaced::No;
}

void append_pair(PyObject* list, const char* name, nb::handle value) {
    nb::object pair = nb::steal(PyTuple_Pack(2, nb::str(name).ptr(), value.ptr()));
    if (!pair.is_valid() || PyList_Append(list, pair.ptr()) != 0) {
        throw nb::python_error();
    }
}

// SigV4Signer.sign_fields: botocore's SigV4Auth.add_auth on the list behind
// an HTTPHeaders (compat32: a header set is appended to it as given), from
// _modify_request_before_signing to the Authorization header, in one call.
//
// The edits are botocore's, made in one pass instead of a scan of the list
// per header: Authorization, X-Amz-Date and the token header (when there is a
// token) dropped in any case and X-Amz-Date and the token appended, in that
// order. With `replaces_hash` every X-Amz-Content-SHA256 is dropped and one
// is appended after them, holding `payload`; otherwise the first one set in
// advance is the payload hash, or `payload`. `payload` is the hash, or
// botocore's payload method, called with `request` only when needed.
//
// Returns the Authorization value, appended to the list; None when the list
// is edited but this signer leaves the signature to botocore; NotImplemented,
// with nothing changed, when botocore's own edits must run: a Date header
// (botocore rewrites it) or an item that is not an ASCII-named pair.
nb::object sigv4_sign_fields(SigV4Signer& signer, nb::handle fields, nb::handle method,
                             nb::handle url, nb::handle canonical_query, bool replaces_hash,
                             nb::handle payload, nb::handle request, nb::handle token,
                             nb::handle access_key, nb::handle secret_key,
                             nb::handle timestamp, nb::handle region, nb::handle service,
                             bool normalize_path) {
    PyObject* list = fields.ptr();
    if (!PyList_CheckExact(list) || !(token.is_none() || PyUnicode_Check(token.ptr()))) {
        return nb::borrow(Py_NotImplemented);
    }
    const bool has_token = !token.is_none() && PyUnicode_GET_LENGTH(token.ptr()) > 0;
    const Py_ssize_t count = PyList_GET_SIZE(list);
    nb::object kept = nb::steal(PyList_New(0));
    if (!kept.is_valid()) {
        throw nb::python_error();
    }
    nb::object payload_hash;  // the first X-Amz-Content-SHA256 kept
    for (Py_ssize_t i = 0; i < count; ++i) {
        PyObject* item = PyList_GET_ITEM(list, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            return nb::borrow(Py_NotImplemented);
        }
        PyObject* name = PyTuple_GET_ITEM(item, 0);
        // A non-ASCII name can still lower() to one of these in Python.
        if (!PyUnicode_Check(name) || !PyUnicode_IS_ASCII(name)) {
            return nb::borrow(Py_NotImplemented);
        }
        switch (replaced(name)) {
        case Replaced::Date:
            return nb::borrow(Py_NotImplemented);
        case Replaced::Authorization:
        case Replaced::AmzDate:
            continue;
        case Replaced::SecurityToken:
            if (has_token) {
                continue;
            }
            break;
        case Replaced::ContentSha256:
            if (replaces_hash) {
                continue;
            }
            if (!payload_hash.is_valid()) {
                payload_hash = nb::borrow(PyTuple_GET_ITEM(item, 1));
            }
            break;
        case Replaced::No:
            break;
        }
        if (PyList_Append(kept.ptr(), item) != 0) {
            throw nb::python_error();
        }
    }
    append_pair(kept.ptr(), "X-Amz-Date", timestamp);
    if (has_token) {
        append_pair(kept.ptr(), "X-Amz-Security-Token", token);
    }
    if (PyList_SetSlice(list, 0, count, kept.ptr()) != 0) {
        throw nb::python_error();
    }
    if (!payload_hash.is_valid()) {
        payload_hash = PyUnicode_Check(payload.ptr()) ? nb::borrow(payload) : payload(request);
        if (replaces_hash) {
            append_pair(list, "X-Amz-Content-SHA256", payload_hash);
        }
    }

    nb::object authorization =
        sigv4_authorization(signer, method, url, canonical_query, fields, payload_hash, access_key,
                            secret_key, timestamp, region, service, normalize_path);
    if (!authorization.is_none()) {
        append_pair(list, "Authorization", authorization);
    }
    return authorization;
}

}  // namespace

void bind_sigv4(nb::module_& m) {
    nb::class_<SigV4Signer>(m, "SigV4Signer",
        "AWS Signature Version 4 in headers, as botocore's SigV4Auth/S3SigV4Auth sign.")
        .def(nb::init<std::vector<std::string>>(), "unsigned_headers"_a,
            "unsigned_headers: lowercase header names SigV4 leaves out.")
        .def("authorization", &sigv4_authorization, "method"_a, "url"_a,
            "canonical_query"_a.none(), "headers"_a, "payload_hash"_a, "access_key"_a,
            "secret_key"_a, "timestamp"_a, "region"_a, "service"_a, "normalize_path"_a,
            "The Authorization header value, or None for a request botocore must sign.")
        .def("sign_fields", &sigv4_sign_fields, "fields"_a, "method"_a, "url"_a,
            "canonical_query"_a.none(), "replaces_hash"_a, "payload"_a, "request"_a.none(),
            "token"_a.none(), "access_key"_a, "secret_key"_a, "timestamp"_a, "region"_a,
            "service"_a, "normalize_path"_a,
            "botocore's header edits and the signature, on an HTTPHeaders list: the "
            "Authorization value (appended), None (edited; botocore must sign) or "
            "NotImplemented (unchanged; botocore's edits must run first).");
    m.def("sha256_hex",
        [](nb::bytes data) {
            std::string hex;
            hex.reserve(64);
            append_hex(hex, sha256(std::string_view(data.c_str(), data.size())));
            return nb::str(hex.data(), hex.size());
        },
        "data"_a, "hashlib.sha256(data).hexdigest(), without hashlib's per-call set-up.");
}

}  // namespace aboto3
