#include "parsers_common.h"

#include <datetime.h>
#include <nanobind/stl/string.h>

#include <cstring>

namespace aboto3 {
namespace parsers {

namespace {

nb::object checked(PyObject* made) {
    if (made == nullptr) {
        throw nb::python_error();
    }
    return nb::steal(made);
}

std::uint64_t hash_of(std::string_view text) {
    std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
    for (char c : text) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    return hash;
}

// ---- timestamps ----------------------------------------------------------------

struct DateParts {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, microsecond = 0;
};

bool digits(std::string_view text, std::size_t at, std::size_t count, int& out) {
    if (at + count > text.size()) return false;
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
        char c = text[i];
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    out = value;
    return true;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

bool valid_date_time(const DateParts& d) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d.year < 1000 || d.month < 1 || d.month > 12 || d.day < 1) return false;
    int days = kDays[d.month - 1] + (d.month == 2 && is_leap(d.year) ? 1 : 0);
    return d.day <= days && d.hour <= 23 && d.minute <= 59 && d.second <= 59;
}

// YYYY-MM-DDTHH:MM:SS[.f{1,6}] then Z, +00:00 or -00:00: the forms AWS sends,
// which dateutil reads as UTC ("UTC" is the name it gives them).
bool parse_iso_utc(std::string_view s, DateParts& d) {
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':') {
        return false;
    }
    if (!digits(s, 0, 4, d.year) || !digits(s, 5, 2, d.month) || !digits(s, 8, 2, d.day) ||
        !digits(s, 11, 2, d.hour) || !digits(s, 14, 2, d.minute) || !digits(s, 17, 2, d.second)) {
        return false;
    }
    std::size_t at = 19;
    if (s[at] == '.') {
        std::size_t start = ++at;
        int fraction = 0;
        while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
            fraction = fraction * 10 + (s[at] - '0');
            ++at;
        }
        std::size_t count = at - start;
        if (count == 0 || count > 6) return false;  // dateutil truncates beyond 6: its call
        for (std::size_t i = count; i < 6; ++i) fraction *= 10;
        d.microsecond = fraction;
    }
    std::string_view zone = s.substr(at);
    if (zone != "Z" && zone != "+00:00" && zone != "-00:00") return false;
    return valid_date_time(d);
}

int weekday_of(int year, int month, int day) {  // 0 = Monday
    static constexpr int kOffsets[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (month < 3) year -= 1;
    int sunday_based = (year + year / 4 - year / 100 + year / 400 + kOffsets[month - 1] + day) % 7;
    return (sunday_based + 6) % 7;
}

// "Wed, 21 Oct 2015 07:28:00 GMT" (RFC 7231's IMF-fixdate, with its weekday right).
bool parse_http_date(std::string_view s, DateParts& d) {
    static constexpr const char* kWeekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
        return false;
    }
    if (!digits(s, 5, 2, d.day) || !digits(s, 12, 4, d.year) || !digits(s, 17, 2, d.hour) ||
        !digits(s, 20, 2, d.minute) || !digits(s, 23, 2, d.second)) {
        return false;
    }
    d.month = 0;
    for (int m = 0; m < 12; ++m) {
        if (s.substr(8, 3) == kMonths[m]) d.month = m + 1;
    }
    if (d.month == 0 || !valid_date_time(d)) return false;
    return s.substr(0, 3) == kWeekdays[weekday_of(d.year, d.month, d.day)];
}

nb::object make_datetime(const DateParts& d, nb::handle tzinfo) {
    return checked(PyDateTimeAPI->DateTime_FromDateAndTime(
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo.ptr(),
        PyDateTimeAPI->DateTimeType));
}

// ---- base64 --------------------------------------------------------------------

int base64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Canonical base64 (the alphabet, whole quanta, padding only at the end)
// decoded as base64.b64decode decodes it; false for anything else, which
// b64decode's lenient rules then decide.
bool decode_base64(std::string_view text, nb::object& out) {
    std::size_t size = text.size();
    if (size % 4 != 0) return false;
    std::size_t padding = 0;
    if (size >= 1 && text[size - 1] == '=') ++padding;
    if (size >= 2 && text[size - 2] == '=') ++padding;
    std::size_t length = size / 4 * 3 - padding;
    PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(length));
    if (bytes == nullptr) throw nb::python_error();
    nb::object result = nb::steal(bytes);
    auto* write = reinterpret_cast<unsigned char*>(PyBytes_AS_STRING(bytes));
    std::size_t written = 0;
    for (std::size_t i = 0; i < size; i += 4) {
        int v[4];
        for (int j = 0; j < 4; ++j) {
            unsigned char c = static_cast<unsigned char>(text[i + j]);
            if (c == '=' && i + 4 == size && static_cast<std::size_t>(j) >= 4 - padding) {
                v[j] = 0;
            } else {
                v[j] = base64_value(c);
                if (v[j] < 0) return false;
            }
        }
        std::uint32_t quantum = (static_cast<std::uint32_t>(v[0]) << 18) |
                                (static_cast<std::uint32_t>(v[1]) << 12) |
                                (static_cast<std::uint32_t>(v[2]) << 6) |
                                static_cast<std::uint32_t>(v[3]);
        unsigned char three[3] = {static_cast<unsigned char>(quantum >> 16),
                                  static_cast<unsigned char>(quantum >> 8),
                                  static_cast<unsigned char>(quantum)};
        for (int j = 0; j < 3 && written < length; ++j) {
            write[written++] = three[j];
        }
    }
    out = std::move(result);
    return true;
}

}  // namespace

// ---- plan ------------------------------------------------------------------------

void Node::index_members() {
    std::size_t size = 8;
    while (size < members.size() * 2) size *= 2;
    table_.assign(size, -1);
    for (std::size_t i = 0; i < members.size(); ++i) {
        std::size_t slot = hash_of(members[i].wire) & (size - 1);
        while (table_[slot] >= 0) slot = (slot + 1) & (size - 1);
        table_[slot] = static_cast<std::int32_t>(i);
    }
}

const Member* Node::find(std::string_view wire) const {
    if (table_.empty()) return nullptr;
    std::size_t mask = table_.size() - 1;
    std::size_t slot = hash_of(wire) & mask;
    for (;;) {
        std::int32_t index = table_[slot];
        if (index < 0) return nullptr;
        const Member& member = members[static_cast<std::size_t>(index)];
        if (member.wire == wire) return &member;
        slot = (slot + 1) & mask;
    }
}

ParsePlan::ParsePlan(nb::list nodes, std::size_t root) {
    std::size_t count = nb::len(nodes);
    if (root >= count) throw nb::value_error("ParsePlan: root out of range");
    nodes_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) nodes_.push_back(std::make_unique<Node>());
    auto node_at = [&](nb::handle index) -> Node* {
        long i = nb::cast<long>(index);
        if (i < 0) return nullptr;
        if (static_cast<std::size_t>(i) >= count) throw nb::value_error("ParsePlan: bad node index");
        return nodes_[static_cast<std::size_t>(i)].get();
    };
    for (std::size_t i = 0; i < count; ++i) {
        // (kind, shape, flags, item, key, value, key_name, value_name,
        //  payload, result_wrapper, members)
        nb::tuple spec = nb::cast<nb::tuple>(nodes[i]);
        if (nb::len(spec) != 11) throw nb::value_error("ParsePlan: a node is an 11-tuple");
        Node& node = *nodes_[i];
        int kind = nb::cast<int>(spec[0]);
        if (kind < 0 || kind > static_cast<int>(Kind::Other)) throw nb::value_error("ParsePlan: bad kind");
        node.kind = static_cast<Kind>(kind);
        node.shape = nb::borrow(spec[1]);
        node.flags = nb::cast<std::uint32_t>(spec[2]);
        node.item = node_at(spec[3]);
        node.key = node_at(spec[4]);
        node.value = node_at(spec[5]);
        node.key_name = nb::cast<std::string>(spec[6]);
        node.value_name = nb::cast<std::string>(spec[7]);
        node.payload = nb::cast<int>(spec[8]);
        node.result_wrapper = nb::cast<std::string>(spec[9]);
        if ((node.kind == Kind::List && node.item == nullptr) ||
            (node.kind == Kind::Map && (node.key == nullptr || node.value == nullptr))) {
            throw nb::value_error("ParsePlan: a list needs its item, a map its key and value");
        }
        for (nb::handle entry : nb::cast<nb::list>(spec[10])) {
            // (name, wire, node, location, location_name, flags)
            nb::tuple m = nb::cast<nb::tuple>(entry);
            if (nb::len(m) != 6) throw nb::value_error("ParsePlan: a member is a 6-tuple");
            Member member;
            if (!PyUnicode_Check(m[0].ptr())) throw nb::type_error("ParsePlan: member names are str");
            PyObject* name = nb::borrow(m[0]).release().ptr();
            PyUnicode_InternInPlace(&name);  // dict lookups compare pointers first
            member.name = nb::steal(name);
            member.wire = nb::cast<std::string>(m[1]);
            member.node = node_at(m[2]);
            if (member.node == nullptr) throw nb::value_error("ParsePlan: a member needs its node");
            int location = nb::cast<int>(m[3]);
            if (location < 0 || location > static_cast<int>(Location::Ignored)) {
                throw nb::value_error("ParsePlan: bad location");
            }
            member.location = static_cast<Location>(location);
            member.location_name = nb::borrow(m[4]);
            member.flags = nb::cast<std::uint32_t>(m[5]);
            node.members.push_back(std::move(member));
        }
        if (node.payload >= static_cast<int>(node.members.size())) {
            throw nb::value_error("ParsePlan: bad payload member");
        }
        node.index_members();
    }
    root_ = nodes_[root].get();
}

// ---- process-wide ------------------------------------------------------------------

Botocore& botocore() {
    static Botocore* facts = new Botocore();  // never destroyed: holds Python objects
    return *facts;
}

const Names& names() {
    static Names* made = [] {
        PyDateTime_IMPORT;  // this file's datetime API
        if (PyDateTimeAPI == nullptr) throw nb::python_error();
        auto interned = [](const char* text) {
            return nb::steal(PyUnicode_InternFromString(text));
        };
        auto* n = new Names();
        n->body = interned("body");
        n->headers = interned("headers");
        n->status_code = interned("status_code");
        n->response_metadata = interned("ResponseMetadata");
        n->request_id = interned("RequestId");
        n->host_id = interned("HostId");
        n->x_amzn_requestid = interned("x-amzn-requestid");
        n->x_amz_request_id = interned("x-amz-request-id");
        n->x_amz_id_2 = interned("x-amz-id-2");
        n->parse_shape = interned("_parse_shape");
        n->empty = interned("");
        return n;
    }();
    return *made;
}

// ---- one call ------------------------------------------------------------------------

Env::Env(nb::handle parser, nb::handle tz_utc, nb::handle tz_local, bool local_is_utc,
         nb::handle pause)
    : parser_(parser), tz_utc_(tz_utc), tz_local_(tz_local), local_is_utc_(local_is_utc) {
    names();  // the datetime API, before any timestamp
    timestamp_parser_ = nb::getattr(parser, "_timestamp_parser");
    blob_parser_ = nb::getattr(parser, "_blob_parser");
    default_timestamps_ = timestamp_parser_.is(botocore().parse_timestamp);
    PyObject* blob = blob_parser_.ptr();
    default_blobs_ = PyMethod_Check(blob) &&
                     PyMethod_GET_FUNCTION(blob) == botocore().default_blob_parser.ptr() &&
                     PyMethod_GET_SELF(blob) == parser.ptr();
    if (!pause.is_none()) {
        pause_ = nb::borrow(pause);
        pacer = json::Pacer([this] { pause_(); }, kPauseEveryNs);
    }
}

nb::object Env::handler(const Node& node, nb::handle value) {
    PyObject* result = PyObject_CallMethodObjArgs(parser_.ptr(), names().parse_shape.ptr(),
                                                  node.shape.ptr(), value.ptr(), nullptr);
    if (result == nullptr) {
        PyErr_Clear();
        throw Decline{};
    }
    return nb::steal(result);
}

nb::object Env::timestamp(const Node& node, std::string_view text, nb::handle text_object) {
    (void)node;
    if (default_timestamps_) {
        DateParts parts;
        if (!tz_utc_.is_none() && parse_iso_utc(text, parts)) {
            return make_datetime(parts, tz_utc_);
        }
        if (parse_http_date(text, parts) && botocore().tzutc.is_valid()) {
            return make_datetime(parts, botocore().tzutc);
        }
    }
    nb::object value = text_object.is_valid() ? nb::borrow(text_object) : make_str(text);
    PyObject* result = PyObject_CallOneArg(timestamp_parser_.ptr(), value.ptr());
    if (result == nullptr) {
        PyErr_Clear();
        throw Decline{};
    }
    return nb::steal(result);
}

nb::object Env::timestamp_number(const Node& node, nb::handle number) {
    (void)node;
    if (default_timestamps_ && !tz_local_.is_none()) {
        // botocore: datetime.datetime.fromtimestamp(value, tzlocal()). Where
        // the local zone is UTC all year, that is the UTC time with tzlocal()
        // put on it (dateutil's tzlocal, in Python, costs more than the rest
        // of a small response's parse).
        nb::handle zone = local_is_utc_ ? nb::handle(PyDateTimeAPI->TimeZone_UTC) : tz_local_;
        nb::object args = checked(PyTuple_Pack(2, number.ptr(), zone.ptr()));
        PyObject* made = PyDateTimeAPI->DateTime_FromTimestamp(
            reinterpret_cast<PyObject*>(PyDateTimeAPI->DateTimeType), args.ptr(), nullptr);
        if (made != nullptr && local_is_utc_) {
            nb::object utc = nb::steal(made);
            made = PyDateTimeAPI->DateTime_FromDateAndTime(
                PyDateTime_GET_YEAR(made), PyDateTime_GET_MONTH(made), PyDateTime_GET_DAY(made),
                PyDateTime_DATE_GET_HOUR(made), PyDateTime_DATE_GET_MINUTE(made),
                PyDateTime_DATE_GET_SECOND(made), PyDateTime_DATE_GET_MICROSECOND(made),
                tz_local_.ptr(), PyDateTimeAPI->DateTimeType);
        }
        if (made != nullptr) return nb::steal(made);
        PyErr_Clear();  // out of range: botocore's own fallbacks decide
    }
    PyObject* result = PyObject_CallOneArg(timestamp_parser_.ptr(), number.ptr());
    if (result == nullptr) {
        PyErr_Clear();
        throw Decline{};
    }
    return nb::steal(result);
}

nb::object Env::blob(const Node& node, std::string_view text, nb::handle text_object) {
    (void)node;
    nb::object decoded;
    if (default_blobs_ && decode_base64(text, decoded)) {
        return decoded;
    }
    nb::object value = text_object.is_valid() ? nb::borrow(text_object) : make_str(text);
    PyObject* result = PyObject_CallOneArg(blob_parser_.ptr(), value.ptr());
    if (result == nullptr) {
        PyErr_Clear();
        throw Decline{};
    }
    return nb::steal(result);
}

// ---- helpers ---------------------------------------------------------------------------

nb::object make_str(std::string_view utf8) {
    return checked(PyUnicode_DecodeUTF8(utf8.data(), static_cast<Py_ssize_t>(utf8.size()), nullptr));
}

bool mapping_has(nb::handle mapping, nb::handle key) {
    int found = PySequence_Contains(mapping.ptr(), key.ptr());
    if (found < 0) {
        PyErr_Clear();
        throw Decline{};
    }
    return found == 1;
}

nb::object mapping_get(nb::handle mapping, nb::handle key) {
    PyObject* value = PyObject_GetItem(mapping.ptr(), key.ptr());
    if (value == nullptr) {
        PyErr_Clear();
        throw Decline{};
    }
    return nb::steal(value);
}

void set_item(nb::handle dict, nb::handle key, nb::handle value) {
    if (PyDict_SetItem(dict.ptr(), key.ptr(), value.ptr()) != 0) throw nb::python_error();
}

}  // namespace parsers
}  // namespace aboto3
