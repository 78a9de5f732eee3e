// botocore's BaseRestParser in C++: what rest-json and rest-xml share
// (ResponseMetadata from headers, header-, headers- and status-bound members,
// the payload member), around a body parser of either family.
#pragma once

#include "parsers_common.h"

namespace aboto3 {
namespace parsers {

// Parses a whole response body as a shape: botocore's _initial_body_parse
// followed by _parse_shape.
class BodyParser {
public:
    virtual ~BodyParser() = default;
    virtual nb::object parse(const Node& node) = 0;
};

// BaseRestParser._do_parse (modeled_error false) or _do_modeled_error_parse
// (true) for the plan's root shape, or for no shape (plan nullptr).
nb::object parse_rest(const ParsePlan* plan, nb::handle response, Env& env, BodyParser& body,
                      bool modeled_error);

// The rest protocols' parse of a header value as the member's shape.
nb::object header_value(const Node& node, nb::handle value, Env& env);

// The entry points (parsers_json.cpp, parsers_xml.cpp, parsers_cbor.cpp):
// botocore's _do_parse or _do_modeled_error_parse for one protocol.
enum class Protocol { Json, RestJson, RestXml, Query, Ec2, RpcV2Cbor };
nb::object parse_json_family(const ParsePlan* plan, nb::handle response, Env& env, bool rest,
                             bool modeled_error);
nb::object parse_xml_family(const ParsePlan* plan, nb::handle response, Env& env,
                            Protocol protocol, bool modeled_error);
// The document element's tag as ElementTree names it, None where expat
// refuses the document, NotImplemented where ElementTree may read it otherwise
// (a DTD) or expat is not available.
nb::object xml_root_tag(const char* data, std::size_t size);
nb::object parse_cbor(const ParsePlan* plan, nb::handle response, Env& env, bool modeled_error);

}  // namespace parsers
}  // namespace aboto3
