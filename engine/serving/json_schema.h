// json_schema: grammar-constrained sampling for response_format json_schema, over a subset of JSON
// Schema that every finished output satisfies: objects whose listed properties are all written, in
// the schema's order, and nothing else; arrays of one item schema; strings; numbers; integers;
// booleans; null; enum and const. json_schema_matcher recognises the documents of such a schema
// byte by byte, like json_validator does for any object (json_constraint.h masks tokens with it).
// The schema's JSON is read at the edge (server/openai_request.cpp); this file has no JSON parser.
// Exercise: tests/test_json_constraint.cpp.
#pragma once
#include "serving/json_constraint.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rl {

struct schema_node {
    enum class kind : uint8_t { object, array, string, number, integer, boolean, null, literals };
    kind k = kind::object;
    std::vector<std::pair<std::string, int>> properties;  // object: (key as JSON text with quotes, node)
    int items = -1;                                       // array: the items' node
    std::vector<std::string> literals;                    // literals: each allowed value as compact JSON
};

/// nodes[0] is the root. Built once per request, shared by its choices' matchers.
struct json_schema {
    static constexpr size_t kMaxLiterals = 64;  // enum values per node (a bit mask tracks them)
    std::vector<schema_node> nodes;
};

class json_schema_matcher {
public:
    static constexpr int kMaxWhitespace = 16;  // consecutive whitespace bytes outside strings
    static constexpr size_t kMaxDepth = 64;

    explicit json_schema_matcher(const json_schema* schema);
    /// Feeds one byte; false (and the state is then unspecified) when no document of the schema
    /// starts with what was fed.
    bool feed(char c);
    bool feed(std::string_view s);
    /// What was fed is a whole document of the schema.
    bool complete() const;

private:
    enum class frame_type : uint8_t { value, object, array, string, number, literal };
    struct frame {
        frame_type type;
        uint8_t phase = 0;      // per type (see the .cpp)
        uint8_t left = 0;       // string: escape digits or UTF-8 continuation bytes still expected
        int node = 0;
        uint32_t index = 0;     // object: the property; literal: bytes matched
        uint64_t live = 0;      // literal: candidates still matching
        const std::string* key = nullptr;  // literal: an object key instead of the node's literals
    };
    bool feed_frame(char c);
    bool literal_done(const frame& f) const;     // a candidate is matched whole
    bool number_can_end(const frame& f) const;
    bool pop_and_refeed(char c);                 // the top value ended before c
    void value_done();                           // the top frame's value is whole: pop it
    bool start_value(int node, char c);          // replaces the top value frame
    bool push(frame f);

    const json_schema* schema_;
    std::vector<frame> stack_;
    uint8_t ws_run_ = 0;
};

/// response_format {"type": "json_schema"}: one per choice, sharing the request's schema.
class json_schema_constraint : public grammar_constraint<json_schema_matcher> {
public:
    json_schema_constraint(std::shared_ptr<const json_vocabulary> vocab, std::shared_ptr<const json_schema> schema)
        : grammar_constraint(std::move(vocab), json_schema_matcher(schema.get())), schema_(std::move(schema)) {}

private:
    std::shared_ptr<const json_schema> schema_;  // the matcher points into it
};

} // namespace rl
