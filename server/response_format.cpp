// response_format.cpp: see response_format.h. Object properties are written in the order the
// request's JSON parser keeps them (nlohmann::json: sorted by key), every one of them, required or
// not: an optional property present still satisfies the schema.
#include "server/response_format.h"

#include <set>

using nlohmann::json;

namespace rl {

namespace {

// Keywords that only describe: they never constrain the value.
const std::set<std::string> kAnnotations = {"title", "description", "$schema", "$id", "$comment", "default",
                                            "examples", "deprecated", "readOnly", "writeOnly"};

std::string compile(const json& s, json_schema& out, int index, int depth) {
    if (depth > 32) return "nesting deeper than 32";
    if (!s.is_object()) return "a schema must be an object";
    auto node = [&]() -> schema_node& { return out.nodes[size_t(index)]; };
    std::set<std::string> allowed(kAnnotations);
    if (s.contains("enum") || s.contains("const")) {
        const json values = s.contains("const") ? json::array({s["const"]}) : s["enum"];
        if (!values.is_array() || values.empty()) return "'enum' must be a non-empty array";
        if (values.size() > json_schema::kMaxLiterals) return "'enum' with more than 64 values";
        node().k = schema_node::kind::literals;
        for (const json& v : values) node().literals.push_back(v.dump());
        allowed.insert({"enum", "const", "type"});
    } else {
        if (!s.contains("type") || !s["type"].is_string())
            return "a schema needs 'type' (one of object, array, string, number, integer, boolean, null), "
                   "'enum' or 'const'";
        const std::string type = s["type"].get<std::string>();
        allowed.insert("type");
        if (type == "object") {
            node().k = schema_node::kind::object;
            allowed.insert({"properties", "required", "additionalProperties"});
            if (s.contains("additionalProperties") && !s["additionalProperties"].is_boolean())
                return "'additionalProperties' as a schema";
            const json props = s.value("properties", json::object());
            if (!props.is_object()) return "'properties' must be an object";
            for (auto it = props.begin(); it != props.end(); ++it) {
                const int child = int(out.nodes.size());
                out.nodes.emplace_back();
                node().properties.emplace_back(json(it.key()).dump(), child);
                if (auto why = compile(it.value(), out, child, depth + 1); !why.empty()) return why;
            }
            if (s.contains("required")) {
                if (!s["required"].is_array()) return "'required' must be an array";
                for (const json& r : s["required"])
                    if (!r.is_string() || !props.contains(r.get<std::string>()))
                        return "'required' names " + r.dump() + ", which is not in 'properties'";
            }
        } else if (type == "array") {
            node().k = schema_node::kind::array;
            allowed.insert("items");
            if (!s.contains("items")) return "an array schema needs 'items'";
            const int child = int(out.nodes.size());
            out.nodes.emplace_back();
            node().items = child;
            if (auto why = compile(s["items"], out, child, depth + 1); !why.empty()) return why;
        } else if (type == "string") {
            node().k = schema_node::kind::string;
        } else if (type == "number" || type == "integer") {
            node().k = type == "number" ? schema_node::kind::number : schema_node::kind::integer;
        } else if (type == "boolean" || type == "null") {
            node().k = schema_node::kind::literals;
            node().literals = type == "null" ? std::vector<std::string>{"null"} : std::vector<std::string>{"true", "false"};
        } else {
            return "type '" + type + "'";
        }
    }
    for (auto it = s.begin(); it != s.end(); ++it)
        if (!allowed.count(it.key())) return "'" + it.key() + "'";
    return {};
}

} // namespace

std::string compile_json_schema(const json& schema, json_schema& out) {
    out.nodes.assign(1, schema_node{});
    return compile(schema, out, 0, 0);
}

std::string parse_response_format(const json& o, response_format& out) {
    out = response_format{};
    if (!o.contains("response_format") || o["response_format"].is_null()) return {};
    const json& v = o["response_format"];
    if (!v.is_object() || !v.contains("type") || !v["type"].is_string())
        return "'response_format' must be an object with a string 'type'";
    const std::string type = v["type"].get<std::string>();
    if (type == "text" || type == "json_object") {
        if (v.size() != 1) return "'response_format' of type '" + type + "' takes no other field";
        out.json_object = type == "json_object";
        return {};
    }
    if (type != "json_schema") return "'response_format' type must be 'text', 'json_object' or 'json_schema', got '" + type + "'";
    for (auto it = v.begin(); it != v.end(); ++it)
        if (it.key() != "type" && it.key() != "json_schema") return "'response_format': unknown field '" + it.key() + "'";
    if (!v.contains("json_schema") || !v["json_schema"].is_object())
        return "'response_format' of type 'json_schema' needs a 'json_schema' object";
    const json& js = v["json_schema"];
    for (auto it = js.begin(); it != js.end(); ++it)
        if (it.key() != "name" && it.key() != "schema" && it.key() != "strict" && it.key() != "description")
            return "'response_format.json_schema': unknown field '" + it.key() + "'";
    if (!js.contains("schema")) return "'response_format.json_schema' needs a 'schema'";
    auto schema = std::make_shared<json_schema>();
    if (auto why = compile_json_schema(js["schema"], *schema); !why.empty())
        return "'response_format' json_schema: " + why + " is not supported (supported: object with properties "
               "and required, array with items, string, number, integer, boolean, null, enum, const)";
    out.schema = std::move(schema);
    return {};
}

} // namespace rl
