// What every protocol's response parser shares, mirroring botocore's
// ResponseParser base class: the compiled description of a botocore Shape
// (ParsePlan), the per-call environment (the botocore parser it stands in
// for, its timestamp and blob parsers), timestamps, blobs, and the way out.
//
// The way out: a C++ parser handles the common, well-formed path exactly and
// throws Decline for anything it does not reproduce (malformed bodies,
// constructs it does not model). The binding then returns NotImplemented and
// botocore's own parser parses that response, so a malformed body raises
// exactly botocore's exception. A value of an unusual kind inside an
// otherwise ordinary document goes to botocore's own handler for that shape
// (parser._parse_shape), which is botocore's answer by definition.
#pragma once

#include "json_python.h"

#include <nanobind/nanobind.h>

#include <Python.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aboto3 {
namespace parsers {

namespace nb = nanobind;

// Thrown when botocore's parser must parse this response instead.
struct Decline {};

// Shape types, as botocore's type_name.
enum class Kind : std::uint8_t {
    Structure,
    List,
    Map,
    String,
    Boolean,
    Integer,  // integer and long
    Float,    // float and double
    Timestamp,
    Blob,
    Document,  // a structure with the document trait: the raw JSON value
    Other,     // anything else: botocore's handler for every value
};

// Where a member of an output structure comes from.
enum class Location : std::uint8_t { Body, Header, Headers, StatusCode, Ignored };

enum NodeFlags : std::uint32_t {
    kUnion = 1u << 0,        // is_tagged_union
    kException = 1u << 1,    // metadata["exception"]: an error shape
    kFlattened = 1u << 2,    // XML list or map without a wrapper element
    kJsonValue = 1u << 3,    // a jsonvalue string: botocore's handler decodes it
    kEventStream = 1u << 4,  // an event stream: never parsed here
    kAttribute = 1u << 5,    // a member read from an XML attribute
};

struct Node;

struct Member {
    nb::object name;           // the output key (a str)
    std::string wire;          // the JSON key or XML element (or attribute) name
    Node* node = nullptr;
    Location location = Location::Body;
    nb::object location_name;  // the header name, or the header prefix (a str)
    std::uint32_t flags = 0;   // kAttribute
};

// A botocore Shape compiled once for one protocol family.
struct Node {
    Kind kind = Kind::Other;
    std::uint32_t flags = 0;
    nb::object shape;  // botocore's Shape, for its own handlers
    std::vector<Member> members;
    Node* item = nullptr;   // list
    Node* key = nullptr;    // map
    Node* value = nullptr;  // map
    std::string key_name;    // XML map entry tags
    std::string value_name;
    int payload = -1;            // rest protocols: the member bound to the body
    std::string result_wrapper;  // query: the element that holds the output

    // The members read from this wire name, or nullptr.
    const Member* find(std::string_view wire) const;
    void index_members();  // builds the lookup table find() uses

private:
    std::vector<std::int32_t> table_;  // open addressing: member index, -1 empty
};

// The description of one botocore Shape and everything it reaches; nodes
// point at one another (shapes can be recursive).
class ParsePlan {
public:
    // nodes: one tuple per node (see bind_parsers); root: the index of the
    // shape it was compiled for.
    ParsePlan(nb::list nodes, std::size_t root);
    ParsePlan(const ParsePlan&) = delete;
    ParsePlan& operator=(const ParsePlan&) = delete;
    const Node& root() const { return *root_; }
    std::size_t size() const { return nodes_.size(); }

private:
    std::vector<std::unique_ptr<Node>> nodes_;
    Node* root_ = nullptr;
};

// Process-wide facts about the installed botocore, set once at import by
// aboto3._parsers (configure_parsers).
struct Botocore {
    nb::object parse_timestamp;       // botocore.utils.parse_timestamp
    nb::object default_blob_parser;   // ResponseParser._default_blob_parser (the function)
    nb::object tzutc;                 // dateutil.tz.tzutc(): what "GMT" becomes
    bool sparse_lists = false;        // _handle_list turns null items into None
};
Botocore& botocore();

// How long a parse runs between two calls of its pause hook.
constexpr std::int64_t kPauseEveryNs = 2'000'000;

// One call: the botocore parser this stands in for, and what it was made with.
class Env {
public:
    // tz_utc: the tzinfo botocore's timestamp parser gives an ISO 8601
    // timestamp in UTC ("Z", "+00:00") on this machine, or None to call it
    // for each; tz_local: the one datetime.fromtimestamp gets for an epoch
    // number, or None; local_is_utc: tz_local is UTC all year round (no
    // offset, no DST), so the wall time of an epoch is its UTC time. pause:
    // called every few ms of work, or None.
    Env(nb::handle parser, nb::handle tz_utc, nb::handle tz_local, bool local_is_utc,
        nb::handle pause);

    // botocore's own handler: parser._parse_shape(shape, value). Its
    // exception means the response is not ours to parse.
    nb::object handler(const Node& node, nb::handle value);

    // A timestamp from text, or from a JSON number object.
    nb::object timestamp(const Node& node, std::string_view text, nb::handle text_object);
    nb::object timestamp_number(const Node& node, nb::handle number);
    // A blob from its base64 text.
    nb::object blob(const Node& node, std::string_view text, nb::handle text_object);

    json::Pacer pacer;
    bool sparse_lists() const { return botocore().sparse_lists; }

private:
    nb::handle parser_;
    nb::object timestamp_parser_;
    nb::object blob_parser_;
    bool default_timestamps_ = false;
    bool default_blobs_ = false;
    nb::handle tz_utc_;
    nb::handle tz_local_;
    bool local_is_utc_ = false;
    nb::object pause_;
};

// An owned str for text that is valid UTF-8.
nb::object make_str(std::string_view utf8);

// Mapping operations that stay Python's own (headers may be any mapping).
bool mapping_has(nb::handle mapping, nb::handle key);
nb::object mapping_get(nb::handle mapping, nb::handle key);

// Interned strs used everywhere.
struct Names {
    nb::object body, headers, status_code, response_metadata, request_id, host_id,
        x_amzn_requestid, x_amz_request_id, x_amz_id_2, parse_shape, empty;
};
const Names& names();

void set_item(nb::handle dict, nb::handle key, nb::handle value);

}  // namespace parsers
}  // namespace aboto3
