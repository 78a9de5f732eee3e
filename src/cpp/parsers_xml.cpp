// botocore's BaseXMLResponseParser, QueryParser, EC2QueryParser and
// RestXMLParser bodies in C++.
//
// The tokenizer is expat, the very library ElementTree (and so botocore) uses:
// pyexpat exports it to C extensions through the "pyexpat.expat_CAPI"
// capsule, which is how _elementtree reaches it. A document expat refuses is
// refused alike, with no new dependency; entities, CDATA sections, line ends
// and namespaces come out as ElementTree sees them.
//
// expat pushes events, so the shape walk is a stack of frames, one per open
// element: each knows what its element is (a structure, a list, a map entry,
// a scalar, something to skip) and where its value goes when the element
// ends (a structure's member slot, a list, a map entry, the result). Only the
// output is built.
#include "parsers_rest.h"

#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace aboto3 {
namespace parsers {

namespace {

// ---- expat through pyexpat's capsule ---------------------------------------------------

extern "C" {
struct ExpatParserStruct;
using ExpatParser = ExpatParserStruct*;
using StartElementHandler = void (*)(void*, const char*, const char**);
using EndElementHandler = void (*)(void*, const char*);
using CharacterDataHandler = void (*)(void*, const char*, int);
using StartDoctypeDeclHandler = void (*)(void*, const char*, const char*, const char*, int);

// pyexpat.h's struct PyExpat_CAPI, as far as SetHashSalt (Python 3.3 on;
// later fields are appended, and size says how many there are).
struct ExpatCapi {
    char* magic;
    int size;
    int major_version;
    int minor_version;
    int micro_version;
    const char* (*ErrorString)(int code);
    int (*GetErrorCode)(ExpatParser parser);
    unsigned long (*GetErrorColumnNumber)(ExpatParser parser);
    unsigned long (*GetErrorLineNumber)(ExpatParser parser);
    int (*Parse)(ExpatParser parser, const char* s, int len, int is_final);
    ExpatParser (*ParserCreate_MM)(const char* encoding, const void* memsuite,
                                   const char* namespace_separator);
    void (*ParserFree)(ExpatParser parser);
    void (*SetCharacterDataHandler)(ExpatParser parser, CharacterDataHandler handler);
    void (*SetCommentHandler)(ExpatParser parser, void* handler);
    void (*SetDefaultHandlerExpand)(ExpatParser parser, void* handler);
    void (*SetElementHandler)(ExpatParser parser, StartElementHandler start, EndElementHandler end);
    void (*SetNamespaceDeclHandler)(ExpatParser parser, void* start, void* end);
    void (*SetProcessingInstructionHandler)(ExpatParser parser, void* handler);
    void (*SetUnknownEncodingHandler)(ExpatParser parser, void* handler, void* data);
    void (*SetUserData)(ExpatParser parser, void* user_data);
    void (*SetStartDoctypeDeclHandler)(ExpatParser parser, StartDoctypeDeclHandler start);
    int (*SetEncoding)(ExpatParser parser, const char* encoding);
    int (*DefaultUnknownEncodingHandler)(void* data, const char* name, void* info);
    int (*SetHashSalt)(ExpatParser parser, unsigned long salt);
};
}

const ExpatCapi* expat() {
    static const ExpatCapi* capi = [] {
        auto* found = static_cast<const ExpatCapi*>(PyCapsule_Import("pyexpat.expat_CAPI", 0));
        if (found == nullptr) {
            PyErr_Clear();
            return static_cast<const ExpatCapi*>(nullptr);
        }
        if (std::strcmp(found->magic, "pyexpat.expat_CAPI 1.1") != 0 ||
            found->size < static_cast<int>(sizeof(ExpatCapi))) {
            return static_cast<const ExpatCapi*>(nullptr);
        }
        return found;
    }();
    return capi;
}

nb::object checked(PyObject* made) {
    if (made == nullptr) throw nb::python_error();
    return nb::steal(made);
}

// ElementTree's tag less its namespace ("{uri}local" -> "local"): botocore's
// _node_tag. expat names a namespaced element "uri}local".
std::string_view local_name(const char* name) {
    const char* brace = std::strrchr(name, '}');
    return brace != nullptr ? std::string_view(brace + 1) : std::string_view(name);
}

bool is_ascii(std::string_view text) {
    for (char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
}

nb::object text_str(std::string_view text) { return json::to_str(text, is_ascii(text)); }

// What float(text) and int(text) read exactly as written: the plain forms.
bool plain_integer(std::string_view text, long long& out) {
    std::size_t i = 0;
    bool negative = false;
    if (!text.empty() && text[0] == '-') {
        negative = true;
        i = 1;
    }
    if (text.size() - i < 1 || text.size() - i > 18) return false;
    long long value = 0;
    for (; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        value = value * 10 + (text[i] - '0');
    }
    out = negative ? -value : value;
    return true;
}

bool plain_float(std::string_view text) {
    std::size_t i = 0, n = text.size();
    if (i < n && text[i] == '-') ++i;
    std::size_t start = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return false;
    if (i < n && text[i] == '.') {
        std::size_t fraction = ++i;
        while (i < n && text[i] >= '0' && text[i] <= '9') ++i;
        if (i == fraction) return false;
    }
    if (i < n && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
        std::size_t exponent = i;
        while (i < n && text[i] >= '0' && text[i] <= '9') ++i;
        if (i == exponent) return false;
    }
    return i == n;
}

// ---- the walk ---------------------------------------------------------------------------

enum class Mode : std::uint8_t {
    Skip,       // an element botocore does not look at
    Value,      // an element parsed as `node`
    Entry,      // a map entry: a key element and a value element
    QueryRoot,  // the query root around a resultWrapper element
    Seek,       // the error root: looks for the element that holds the error
    Metadata,   // query's ResponseMetadata: each child's text
    RawText,    // an element whose .text botocore takes as it is
};

enum class To : std::uint8_t { Nowhere, Slot, Append, EntryKey, EntryValue, Result, Metadata, RequestId };

struct Frame {
    Mode mode = Mode::Skip;
    To to = To::Nowhere;
    const Node* node = nullptr;
    std::size_t slot = 0;         // To::Slot: where in slots_
    PyObject* target = nullptr;   // To::Append: the list; Entry: the dict (borrowed)
    std::size_t slot_base = 0;    // a structure's first slot
    nb::object container;         // a list or map being filled
    nb::object key, value;        // an entry's
    std::string_view seek;        // Seek: the tag wanted
    bool found = false;           // QueryRoot: the resultWrapper element was met
    const Member* union_member = nullptr;  // a union: the one member met so far
    bool meta_found = false;      // the metadata element was met
    bool root = false;            // the document element
};

constexpr std::size_t kMaxDepth = 256;

class XmlWalker final : public BodyParser {
public:
    XmlWalker(Env& env, Protocol protocol, nb::handle body) : env_(env), protocol_(protocol) {
        frames_.reserve(kMaxDepth + 1);  // frames never move while a reference to one is held
        if (PyBytes_Check(body.ptr())) {
            data_ = PyBytes_AS_STRING(body.ptr());
            size_ = static_cast<std::size_t>(PyBytes_GET_SIZE(body.ptr()));
            body_ = nb::borrow(body);
        } else {
            throw Decline{};  // a stream, or something odd
        }
    }

    ~XmlWalker() override {
        for (PyObject* value : slots_) Py_XDECREF(value);
    }

    // The body parsed as `node` (rest-xml's _initial_body_parse, then
    // _parse_shape; an empty body is an element with nothing in it).
    nb::object parse(const Node& node) override {
        root_node_ = &node;
        query_ = false;
        if (size_ == 0) {
            static const char* no_attributes[] = {nullptr};
            start("", no_attributes);
            end("");
            rethrow();
            return take_result();
        }
        run();
        return take_result();
    }

    // query and ec2: the output under its resultWrapper (or the root), then
    // ResponseMetadata (query) or requestId (ec2) from the root.
    nb::object parse_query(const Node* node, bool modeled_error) {
        root_node_ = node;
        query_ = !modeled_error;
        run();
        nb::object parsed = result_.is_valid() ? std::move(result_) : checked(PyDict_New());
        if (!PyDict_Check(parsed.ptr())) throw Decline{};
        if (query_ && metadata_.is_valid()) {
            set_item(parsed, names().response_metadata, metadata_);
        }
        return parsed;
    }

private:
    void run() {
        const ExpatCapi* capi = expat();
        if (capi == nullptr || size_ > static_cast<std::size_t>(INT32_MAX)) throw Decline{};
        ExpatParser parser = capi->ParserCreate_MM("utf-8", nullptr, "}");
        if (parser == nullptr) throw std::bad_alloc();
        struct Free {
            const ExpatCapi* capi;
            ExpatParser parser;
            ~Free() { capi->ParserFree(parser); }
        } free{capi, parser};
        capi_ = capi;
        parser_ = parser;
        capi->SetUserData(parser, this);
        capi->SetElementHandler(parser, &on_start, &on_end);
        capi->SetCharacterDataHandler(parser, &on_text);
        capi->SetStartDoctypeDeclHandler(parser, &on_doctype);
        int status = capi->Parse(parser, data_, static_cast<int>(size_), 1);
        rethrow();
        if (status != 1 || !done_) throw Decline{};  // expat refused it: botocore says how
    }

    nb::object take_result() {
        if (!result_.is_valid()) throw Decline{};
        return std::move(result_);
    }

    void rethrow() {
        if (error_) std::rethrow_exception(error_);
    }

    // A callback failed: remember why, and let expat run to the end unheard.
    void stop() {
        error_ = std::current_exception();
        if (parser_ != nullptr) {
            capi_->SetElementHandler(parser_, nullptr, nullptr);
            capi_->SetCharacterDataHandler(parser_, nullptr);
        }
    }

    static void on_start(void* self, const char* name, const char** attributes) {
        auto* walker = static_cast<XmlWalker*>(self);
        try {
            walker->start(name, attributes);
        } catch (...) {
            walker->stop();
        }
    }

    static void on_end(void* self, const char* name) {
        auto* walker = static_cast<XmlWalker*>(self);
        try {
            walker->end(name);
        } catch (...) {
            walker->stop();
        }
    }

    static void on_text(void* self, const char* text, int length) {
        auto* walker = static_cast<XmlWalker*>(self);
        if (walker->collecting_) walker->text_.append(text, static_cast<std::size_t>(length));
    }

    static void on_doctype(void* self, const char*, const char*, const char*, int) {
        // A DTD can define entities ElementTree's own set-up may treat
        // otherwise: botocore's parser decides.
        auto* walker = static_cast<XmlWalker*>(self);
        try {
            throw Decline{};
        } catch (...) {
            walker->stop();
        }
    }

    // -- element start --

    void start(const char* name, const char** attributes) {
        env_.pacer.tick();
        if (frames_.size() >= kMaxDepth) throw Decline{};
        std::string_view tag = local_name(name);
        if (frames_.empty()) {
            start_root(tag, attributes);
            return;
        }
        Frame& parent = frames_.back();
        switch (parent.mode) {
            case Mode::Skip:
                push_skip();
                return;
            case Mode::Value:
                start_in_value(parent, tag, attributes);
                return;
            case Mode::Entry: {
                const Node& map = *parent.node;
                if (tag == map.key_name) {
                    if (parent.key.is_valid()) throw Decline{};
                    push_value(*map.key, To::EntryKey, tag, attributes);
                } else if (tag == map.value_name) {
                    if (parent.value.is_valid()) throw Decline{};
                    push_value(*map.value, To::EntryValue, tag, attributes);
                } else {
                    throw Decline{};  // botocore: "Unknown tag"
                }
                return;
            }
            case Mode::QueryRoot:
                if (root_node_ != nullptr && tag == root_node_->result_wrapper) {
                    if (parent.found) throw Decline{};
                    parent.found = true;
                    push_value(*root_node_, To::Result, tag, attributes);
                } else if (!start_metadata(parent, tag)) {
                    push_skip();
                }
                return;
            case Mode::Seek:
                // _get_error_root: the first <Error> (ec2: inside the first
                // <Errors> that has one); everything else is skipped.
                if (!seek_done_ && tag == parent.seek) {
                    if (tag == "Errors") {
                        Frame inner;
                        inner.mode = Mode::Seek;
                        inner.seek = "Error";
                        frames_.push_back(std::move(inner));
                    } else {
                        seek_done_ = true;
                        push_structure(*root_node_, To::Result, attributes);
                    }
                } else {
                    push_skip();
                }
                return;
            case Mode::Metadata:
                push_raw_text(To::Metadata, tag);
                return;
            case Mode::RawText:
                throw Decline{};  // .text would stop at this child
        }
    }

    void start_root(std::string_view tag, const char** attributes) {
        const Node* node = root_node_;
        if (query_) {
            if (node != nullptr && !node->result_wrapper.empty()) {
                Frame root;
                root.mode = Mode::QueryRoot;
                root.root = true;
                frames_.push_back(std::move(root));
                return;
            }
            if (node == nullptr) {
                Frame root;
                root.mode = Mode::QueryRoot;  // no output: the metadata only
                root.root = true;
                frames_.push_back(std::move(root));
                return;
            }
        }
        if (node == nullptr) throw Decline{};
        if (node->kind == Kind::Structure && (node->flags & kException) != 0) {
            // _get_error_root
            std::string_view wanted;
            if (protocol_ == Protocol::Ec2) {
                wanted = "Errors";
            } else if (tag == "ErrorResponse") {
                wanted = "Error";
            }
            if (!wanted.empty()) {
                Frame root;
                root.mode = Mode::Seek;
                root.seek = wanted;
                root.root = true;
                frames_.push_back(std::move(root));
                return;
            }
        }
        push_value(*node, To::Result, tag, attributes);
        frames_.back().root = true;
    }

    // A child of an element parsed as a value: a structure's member, a list's
    // item, a map's entry; a scalar has none.
    void start_in_value(Frame& parent, std::string_view tag, const char** attributes) {
        const Node& node = *parent.node;
        switch (node.kind) {
            case Kind::Structure: {
                if (parent.root && query_ && start_metadata(parent, tag)) return;
                const Member* member = node.find(tag);
                if ((node.flags & kUnion) != 0) {
                    // One member, met under its own name, is what every
                    // botocore version reads alike; the rest is botocore's.
                    if (member == nullptr || member->location != Location::Body ||
                        (parent.union_member != nullptr && parent.union_member != member)) {
                        throw Decline{};
                    }
                    parent.union_member = member;
                }
                if (member == nullptr || member->location != Location::Body) {
                    push_skip();
                    return;
                }
                std::size_t at = parent.slot_base + static_cast<std::size_t>(member - node.members.data());
                const Node& shape = *member->node;
                if ((shape.kind == Kind::List || shape.kind == Kind::Map) && (shape.flags & kFlattened)) {
                    if (slots_[at] == nullptr) {
                        slots_[at] = shape.kind == Kind::List ? checked(PyList_New(0)).release().ptr()
                                                              : checked(PyDict_New()).release().ptr();
                    } else if (from_attribute_[at]) {
                        throw Decline{};
                    }
                    if (shape.kind == Kind::List) {
                        push_value(*shape.item, To::Append, tag, attributes);
                        frames_.back().target = slots_[at];
                    } else {
                        push_entry(shape, slots_[at]);
                    }
                    return;
                }
                if (slots_[at] != nullptr && !from_attribute_[at]) throw Decline{};  // repeated
                push_value(shape, To::Slot, tag, attributes);
                frames_.back().slot = at;
                return;
            }
            case Kind::List: {
                PyObject* list = parent.container.ptr();
                push_value(*node.item, To::Append, tag, attributes);
                frames_.back().target = list;
                return;
            }
            case Kind::Map:
                push_entry(node, parent.container.ptr());
                return;
            default:
                throw Decline{};  // a scalar with a child element
        }
    }

    bool start_metadata(Frame& root, std::string_view tag) {
        if (protocol_ == Protocol::Ec2 ? tag != "requestId" : tag != "ResponseMetadata") {
            return false;
        }
        if (root.meta_found) throw Decline{};
        if (root.mode == Mode::Value && root.node->find(tag) != nullptr) throw Decline{};
        root.meta_found = true;
        if (protocol_ == Protocol::Ec2) {
            push_raw_text(To::RequestId, tag);
        } else {
            Frame frame;
            frame.mode = Mode::Metadata;
            frame.container = checked(PyDict_New());
            frames_.push_back(std::move(frame));
        }
        return true;
    }

    void push_skip() {
        Frame frame;
        frame.mode = Mode::Skip;
        frames_.push_back(std::move(frame));
    }

    void push_raw_text(To to, std::string_view tag) {
        Frame frame;
        frame.mode = Mode::RawText;
        frame.to = to;
        raw_tag_ = tag;
        frames_.push_back(std::move(frame));
        text_.clear();
        collecting_ = true;
    }

    void push_entry(const Node& map, PyObject* dict) {
        Frame frame;
        frame.mode = Mode::Entry;
        frame.node = &map;
        frame.target = dict;
        frames_.push_back(std::move(frame));
    }

    void push_value(const Node& node, To to, std::string_view tag, const char** attributes) {
        switch (node.kind) {
            case Kind::Structure:
                if ((node.flags & kException) != 0 && !frames_.empty() &&
                    (protocol_ == Protocol::Ec2 || tag == "ErrorResponse")) {
                    throw Decline{};  // an error shape inside another shape
                }
                push_structure(node, to, attributes);
                return;
            case Kind::List:
            case Kind::Map: {
                Frame frame;
                frame.mode = Mode::Value;
                frame.to = to;
                frame.node = &node;
                frame.container = node.kind == Kind::List ? checked(PyList_New(0)) : checked(PyDict_New());
                frames_.push_back(std::move(frame));
                return;
            }
            case Kind::Document:
            case Kind::Other:
                throw Decline{};  // botocore's handlers want ElementTree nodes
            default: {
                Frame frame;
                frame.mode = Mode::Value;
                frame.to = to;
                frame.node = &node;
                frames_.push_back(std::move(frame));
                text_.clear();
                collecting_ = true;
                return;
            }
        }
    }

    void push_structure(const Node& node, To to, const char** attributes) {
        Frame frame;
        frame.mode = Mode::Value;
        frame.to = to;
        frame.node = &node;
        frame.slot_base = slots_.size();
        slots_.resize(slots_.size() + node.members.size(), nullptr);
        from_attribute_.resize(slots_.size(), false);
        // xmlAttribute members: botocore's renaming of namespaced attributes
        // ("{uri}type" becomes the member's own prefix + ":type"), the last
        // of equal names winning.
        for (std::size_t i = 0; i < node.members.size(); ++i) {
            const Member& member = node.members[i];
            if ((member.flags & kAttribute) == 0 || member.location != Location::Body) continue;
            const char* found = nullptr;
            std::string_view wire = member.wire;
            std::string_view prefix = wire.substr(0, wire.find(':'));
            for (const char** a = attributes; *a != nullptr; a += 2) {
                const char* brace = std::strrchr(a[0], '}');
                bool match = brace == nullptr
                                 ? wire == a[0]
                                 : (wire.size() == prefix.size() + 1 + std::strlen(brace + 1) &&
                                    wire.compare(0, prefix.size(), prefix) == 0 &&
                                    wire[prefix.size()] == ':' &&
                                    wire.compare(prefix.size() + 1, std::string_view::npos, brace + 1) == 0);
                if (match) found = a[1];
            }
            if (found != nullptr) {
                // botocore's union check counts child elements, not attributes.
                if ((node.flags & kUnion) != 0) throw Decline{};
                slots_[frame.slot_base + i] = text_str(found).release().ptr();
                from_attribute_[frame.slot_base + i] = true;
            }
        }
        frames_.push_back(std::move(frame));
    }

    // -- element end --

    void end(const char* name) {
        (void)name;
        Frame frame = std::move(frames_.back());
        frames_.pop_back();
        switch (frame.mode) {
            case Mode::Skip:
                return;
            case Mode::Value:
                deliver(frame, finish_value(frame));
                return;
            case Mode::Entry:
                // Every entry has its key and its value (botocore would reuse
                // the previous entry's, or fail).
                if (!frame.key.is_valid() || !frame.value.is_valid()) throw Decline{};
                set_item(frame.target, frame.key, frame.value);
                return;
            case Mode::QueryRoot:
                if (root_node_ != nullptr && !frame.found) throw Decline{};  // botocore: KeyError
                done_ = true;
                return;
            case Mode::Seek:
                if (frame.root) {
                    if (!seek_done_) throw Decline{};  // the error root is the root: botocore decides
                    done_ = true;
                }
                return;
            case Mode::Metadata:
                metadata_ = std::move(frame.container);
                return;
            case Mode::RawText: {
                collecting_ = false;
                // botocore takes .text as it is: None for an empty element.
                nb::object text = text_.empty() ? nb::none() : text_str(text_);
                if (frame.to == To::RequestId) {
                    metadata_ = checked(PyDict_New());
                    set_item(metadata_, names().request_id, text);
                } else {
                    Frame& owner = frames_.back();
                    nb::object key = text_str(raw_tag_);
                    if (PyDict_Contains(owner.container.ptr(), key.ptr())) throw Decline{};
                    set_item(owner.container, key, text);
                }
                return;
            }
        }
    }

    nb::object finish_value(Frame& frame) {
        const Node& node = *frame.node;
        switch (node.kind) {
            case Kind::Structure: {
                nb::object parsed = checked(PyDict_New());
                std::size_t set = 0;
                for (std::size_t i = 0; i < node.members.size(); ++i) {
                    PyObject* value = slots_[frame.slot_base + i];
                    if (value != nullptr) {
                        set_item(parsed, node.members[i].name, value);
                        ++set;
                    }
                }
                for (std::size_t i = frame.slot_base; i < slots_.size(); ++i) Py_XDECREF(slots_[i]);
                slots_.resize(frame.slot_base);
                from_attribute_.resize(frame.slot_base);
                if ((node.flags & kUnion) != 0 && set != 1) throw Decline{};
                return parsed;
            }
            case Kind::List:
            case Kind::Map:
                return std::move(frame.container);
            default:
                collecting_ = false;
                return scalar(node, text_);
        }
    }

    // botocore's _text_content handlers: an empty element is "".
    nb::object scalar(const Node& node, std::string_view text) {
        switch (node.kind) {
            case Kind::String:
                return text_str(text);
            case Kind::Boolean:
                return nb::borrow(text == "true" ? Py_True : Py_False);
            case Kind::Integer: {
                long long value = 0;
                if (plain_integer(text, value)) return checked(PyLong_FromLongLong(value));
                break;
            }
            case Kind::Float:
                if (plain_float(text)) return checked(PyFloat_FromDouble(json::to_double(text)));
                break;
            case Kind::Timestamp:
                return env_.timestamp(node, text, nb::handle());
            case Kind::Blob:
                return env_.blob(node, text, nb::handle());
            default:
                throw Decline{};
        }
        return env_.handler(node, text_str(text));
    }

    void deliver(Frame& frame, nb::object value) {
        switch (frame.to) {
            case To::Slot: {
                PyObject* old = slots_[frame.slot];
                slots_[frame.slot] = value.release().ptr();
                from_attribute_[frame.slot] = false;
                Py_XDECREF(old);
                return;
            }
            case To::Append:
                if (PyList_Append(frame.target, value.ptr()) != 0) throw nb::python_error();
                return;
            case To::EntryKey:
                frames_.back().key = std::move(value);
                return;
            case To::EntryValue:
                frames_.back().value = std::move(value);
                return;
            case To::Result:
                result_ = std::move(value);
                if (frame.root) done_ = true;
                return;
            default:
                throw Decline{};
        }
    }

    Env& env_;
    Protocol protocol_;
    nb::object body_;
    const char* data_ = "";
    std::size_t size_ = 0;
    const Node* root_node_ = nullptr;
    bool query_ = false;
    const ExpatCapi* capi_ = nullptr;
    ExpatParser parser_ = nullptr;
    std::vector<Frame> frames_;
    std::vector<PyObject*> slots_;      // structures' member values, owned
    std::vector<bool> from_attribute_;  // ...which came from an attribute
    std::string text_;                  // the open scalar's text
    bool collecting_ = false;
    std::string raw_tag_;
    bool seek_done_ = false;
    bool done_ = false;
    nb::object result_;
    nb::object metadata_;
    std::exception_ptr error_;
};

// Just the document element's name, and whether expat accepts the whole
// document (botocore's _looks_like_special_case_error builds the tree for it).
struct RootFinder {
    const ExpatCapi* capi = nullptr;
    ExpatParser parser = nullptr;
    std::string root;
    bool found = false;
    bool doctype = false;

    static void on_start(void* self, const char* name, const char**) {
        auto* finder = static_cast<RootFinder*>(self);
        finder->root = name;
        finder->found = true;
        finder->capi->SetElementHandler(finder->parser, nullptr, nullptr);  // the rest: checked only
    }
    static void on_doctype(void* self, const char*, const char*, const char*, int) {
        static_cast<RootFinder*>(self)->doctype = true;
    }
};

}  // namespace

nb::object xml_root_tag(const char* data, std::size_t size) {
    const ExpatCapi* capi = expat();
    if (capi == nullptr || size > static_cast<std::size_t>(INT32_MAX)) {
        return nb::borrow(Py_NotImplemented);
    }
    RootFinder finder;
    finder.capi = capi;
    finder.parser = capi->ParserCreate_MM("utf-8", nullptr, "}");
    if (finder.parser == nullptr) throw std::bad_alloc();
    capi->SetUserData(finder.parser, &finder);
    capi->SetElementHandler(finder.parser, &RootFinder::on_start, nullptr);
    capi->SetStartDoctypeDeclHandler(finder.parser, &RootFinder::on_doctype);
    int status = capi->Parse(finder.parser, data, static_cast<int>(size), 1);
    capi->ParserFree(finder.parser);
    if (finder.doctype) return nb::borrow(Py_NotImplemented);  // ElementTree's entity handling: botocore's
    if (status != 1 || !finder.found) return nb::none();
    // ElementTree's tag: "{uri}local" for a namespaced element.
    std::size_t brace = finder.root.rfind('}');
    std::string tag = brace == std::string::npos ? finder.root : "{" + finder.root;
    return make_str(tag);
}

nb::object parse_xml_family(const ParsePlan* plan, nb::handle response, Env& env,
                            Protocol protocol, bool modeled_error) {
    if (expat() == nullptr) throw Decline{};
    const Names& n = names();
    if (protocol == Protocol::RestXml) {
        bool reads_body = plan != nullptr;
        if (reads_body && plan->root().payload >= 0) {
            const Node& payload = *plan->root().members[static_cast<std::size_t>(plan->root().payload)].node;
            reads_body = payload.kind != Kind::String && payload.kind != Kind::Blob;
        }
        if (!reads_body) {
            struct Unread final : BodyParser {
                nb::object parse(const Node&) override { throw Decline{}; }
            } unread;
            return parse_rest(plan, response, env, unread, modeled_error);
        }
        XmlWalker walker(env, protocol, mapping_get(response, n.body));
        return parse_rest(plan, response, env, walker, modeled_error);
    }
    XmlWalker walker(env, protocol, mapping_get(response, n.body));
    return walker.parse_query(plan != nullptr ? &plan->root() : nullptr, modeled_error);
}

}  // namespace parsers
}  // namespace aboto3
