// jinja_value.cpp: see jinja_value.h.
#include "tokenizer/jinja_value.h"

#include <cmath>
#include <cstdio>

namespace rl::jinja {

bool value::truthy() const {
    switch (k) {
    case kind::undefined: case kind::none: return false;
    case kind::boolean: return b;
    case kind::integer: return i != 0;
    case kind::number: return d != 0;
    case kind::string: return !s.empty();
    case kind::list: return !a->empty();
    case kind::dict: return ns || !o->empty();
    case kind::function: return true;
    }
    return false;
}

value value::get(const std::string& key) const {
    if (k != kind::dict) return {};
    for (const auto& [name, v] : *o)
        if (name == key) return v;
    return {};
}

void value::set(const std::string& key, value v) {
    for (auto& [name, x] : *o)
        if (name == key) {
            x = std::move(v);
            return;
        }
    o->emplace_back(key, std::move(v));
}

namespace {
std::string number_str(double d) {
    // Python's repr of a float: the shortest text that reads back the same, with ".0" when whole.
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    char buf[32];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::string s = buf;
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

std::string py_quote(const std::string& s) {
    // repr(str): single quotes unless the text has one and no double quote.
    const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = dq ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
        if (c == q || c == '\\') out += '\\', out += c;
        else if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else out += c;
    }
    return out + q;
}

std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += char(c);
            }
        }
    }
    return out + "\"";
}
} // namespace

std::string value::str() const {
    switch (k) {
    case kind::undefined: return "";
    case kind::string: return s;
    default: return repr();
    }
}

std::string value::repr() const {
    switch (k) {
    case kind::undefined: return "";
    case kind::none: return "None";
    case kind::boolean: return b ? "True" : "False";
    case kind::integer: return std::to_string(i);
    case kind::number: return number_str(d);
    case kind::string: return py_quote(s);
    case kind::function: return "<function>";
    case kind::list: {
        std::string out = tuple ? "(" : "[";
        for (size_t j = 0; j < a->size(); ++j) out += (j ? ", " : "") + (*a)[j].repr();
        if (tuple && a->size() == 1) out += ",";
        return out + (tuple ? ")" : "]");
    }
    case kind::dict: {
        std::string out = ns ? "<Namespace {" : "{";
        bool first = true;
        for (const auto& [name, v] : *o) {
            out += (first ? "" : ", ") + py_quote(name) + ": " + v.repr();
            first = false;
        }
        return out + (ns ? "}>" : "}");
    }
    }
    return "";
}

std::string value::to_json(const std::string& item_sep, const std::string& key_sep, int indent, int depth) const {
    const std::string nl = indent >= 0 ? "\n" + std::string(size_t(indent * (depth + 1)), ' ') : "";
    const std::string close = indent >= 0 ? "\n" + std::string(size_t(indent * depth), ' ') : "";
    // With an indent Python uses "," (not ", ") between items unless told otherwise.
    const std::string sep = indent >= 0 && item_sep == ", " ? "," : item_sep;
    switch (k) {
    case kind::undefined: case kind::none: return "null";
    case kind::boolean: return b ? "true" : "false";
    case kind::integer: return std::to_string(i);
    case kind::number: return std::isfinite(d) ? number_str(d) : (std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
    case kind::string: return json_quote(s);
    case kind::function: return "null";
    case kind::list: {
        if (a->empty()) return "[]";
        std::string out = "[";
        for (size_t j = 0; j < a->size(); ++j) out += (j ? sep : "") + nl + (*a)[j].to_json(item_sep, key_sep, indent, depth + 1);
        return out + close + "]";
    }
    case kind::dict: {
        if (o->empty()) return "{}";
        std::string out = "{";
        bool first = true;
        for (const auto& [name, v] : *o) {
            out += (first ? "" : sep) + nl + json_quote(name) + key_sep + v.to_json(item_sep, key_sep, indent, depth + 1);
            first = false;
        }
        return out + close + "}";
    }
    }
    return "null";
}

bool operator==(const value& x, const value& y) {
    using K = value::kind;
    if (x.is_number() && y.is_number()) return x.as_double() == y.as_double();
    if ((x.k == K::boolean && y.is_number()) || (y.k == K::boolean && x.is_number())) return x.as_double() == y.as_double();
    if (x.k != y.k) return false;
    switch (x.k) {
    case K::undefined: case K::none: return true;
    case K::boolean: return x.b == y.b;
    case K::string: return x.s == y.s;
    case K::list: {
        if (x.a->size() != y.a->size()) return false;
        for (size_t j = 0; j < x.a->size(); ++j)
            if ((*x.a)[j] != (*y.a)[j]) return false;
        return true;
    }
    case K::dict: {
        if (x.o == y.o) return true;
        if (x.ns || y.ns || x.o->size() != y.o->size()) return false;
        for (const auto& [name, v] : *x.o)
            if (y.get(name) != v || !y.get(name).is_defined()) return false;
        return true;
    }
    case K::function: return x.fn == y.fn;
    default: return false;
    }
}

const char* type_name(const value& v) {
    switch (v.k) {
    case value::kind::undefined: return "Undefined";
    case value::kind::none: return "NoneType";
    case value::kind::boolean: return "bool";
    case value::kind::integer: return "int";
    case value::kind::number: return "float";
    case value::kind::string: return "str";
    case value::kind::list: return "list";
    case value::kind::dict: return v.ns ? "Namespace" : "dict";
    case value::kind::function: return "function";
    }
    return "?";
}

} // namespace rl::jinja
