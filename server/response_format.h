// response_format: the request's "response_format" read at the edge: "text", "json_object", or
// "json_schema" compiled into the json_schema subset that engine/serving/json_schema.h constrains
// sampling to. A schema keyword outside that subset is refused (400 naming the keyword), so a
// finished answer always satisfies the schema it was given. Exercised by tests/test_serve_request.cpp.
#pragma once
#include "serving/json_schema.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace rl {

struct response_format {
    bool json_object = false;
    std::shared_ptr<const json_schema> schema;   // json_schema
};

/// Reads o["response_format"] (absent or null: text). Returns "" or the reason it is refused.
std::string parse_response_format(const nlohmann::json& o, response_format& out);

/// Compiles one JSON Schema into nodes. Returns "" or the reason (the unsupported keyword).
std::string compile_json_schema(const nlohmann::json& schema, json_schema& out);

} // namespace rl
