// jinja_value.cpp: see jinja_value.h.
#include "tokenizer/jinja_value.h"

#include "common/engine_error.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

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
thread_local int64_t* t_steps = nullptr;
thread_local int64_t t_limit = 0;
constexpr int kMaxDepth = 100;                       // nesting printed, dumped or compared
constexpr size_t kMaxText = size_t(16) << 20;        // bytes str() / to_json() may produce
} // namespace

void charge(int64_t units) {
    if (!t_steps) return;
    *t_steps += units;
    if (*t_steps > t_limit) RL_THROW("chat template: the template runs too long");
}

budget_scope::budget_scope(int64_t* steps, int64_t limit) : prev_steps(t_steps), prev_limit(t_limit) {
    t_steps = steps;
    t_limit = limit;
}
budget_scope::~budget_scope() {
    t_steps = prev_steps;
    t_limit = prev_limit;
}

std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[40];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    const std::string e = buf;   // [-]D[.DDD]e[+-]XX
    const size_t epos = e.find('e');
    const int exp = std::atoi(e.c_str() + epos + 1);
    const bool neg = e[0] == '-';
    std::string digits;
    for (size_t i = neg ? 1 : 0; i < epos; ++i)
        if (e[i] != '.') digits += e[i];
    std::string out = neg ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            std::string whole = digits.substr(0, std::min(digits.size(), size_t(exp + 1)));
            whole.resize(size_t(exp + 1), '0');
            const std::string frac = digits.size() > size_t(exp + 1) ? digits.substr(size_t(exp + 1)) : "0";
            out += whole + "." + frac;
        } else {
            out += "0." + std::string(size_t(-exp - 1), '0') + digits;
        }
    } else {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char ex[8];
        std::snprintf(ex, sizeof ex, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += ex;
    }
    return out;
}

namespace {
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

namespace {
std::string repr_at(const value& v, int depth);
std::string json_at(const value& v, const std::string& item_sep, const std::string& key_sep, int indent, int depth);
void check_text(const std::string& s) {
    if (s.size() > kMaxText) RL_THROW("chat template: a printed value passed 16 MiB");
}
} // namespace

std::string value::repr() const { return repr_at(*this, 0); }

std::string value::to_json(const std::string& item_sep, const std::string& key_sep, int indent) const {
    return json_at(*this, item_sep, key_sep, indent, 0);
}

namespace {
std::string repr_at(const value& v, int depth) {
    charge(1);
    if (depth > kMaxDepth) RL_THROW("chat template: a value nested more than 100 deep");
    using kind = value::kind;
    const auto& a = v.a;
    const auto& o = v.o;
    switch (v.k) {
    case kind::undefined: return "";
    case kind::none: return "None";
    case kind::boolean: return v.b ? "True" : "False";
    case kind::integer: return std::to_string(v.i);
    case kind::number: return float_repr(v.d);
    case kind::string: return py_quote(v.s);
    case kind::function: return "<function>";
    case kind::list: {
        std::string out = v.tuple ? "(" : "[";
        for (size_t j = 0; j < a->size(); ++j) {
            out += (j ? ", " : "") + repr_at((*a)[j], depth + 1);
            check_text(out);
        }
        if (v.tuple && a->size() == 1) out += ",";
        return out + (v.tuple ? ")" : "]");
    }
    case kind::dict: {
        std::string out = v.ns ? "<Namespace {" : "{";
        bool first = true;
        for (const auto& [name, x] : *o) {
            out += (first ? "" : ", ") + py_quote(name) + ": " + repr_at(x, depth + 1);
            check_text(out);
            first = false;
        }
        return out + (v.ns ? "}>" : "}");
    }
    }
    return "";
}

std::string json_at(const value& v, const std::string& item_sep, const std::string& key_sep, int indent, int depth) {
    charge(1);
    if (depth > kMaxDepth) RL_THROW("chat template: a value nested more than 100 deep");
    using kind = value::kind;
    const auto& a = v.a;
    const auto& o = v.o;
    const std::string nl = indent >= 0 ? "\n" + std::string(size_t(indent * (depth + 1)), ' ') : "";
    const std::string close = indent >= 0 ? "\n" + std::string(size_t(indent * depth), ' ') : "";
    // With an indent Python uses "," (not ", ") between items unless told otherwise.
    const std::string sep = indent >= 0 && item_sep == ", " ? "," : item_sep;
    switch (v.k) {
    case kind::undefined: case kind::none: return "null";
    case kind::boolean: return v.b ? "true" : "false";
    case kind::integer: return std::to_string(v.i);
    case kind::number: return std::isfinite(v.d) ? float_repr(v.d) : (std::isnan(v.d) ? "NaN" : v.d > 0 ? "Infinity" : "-Infinity");
    case kind::string: return json_quote(v.s);
    case kind::function: return "null";
    case kind::list: {
        if (a->empty()) return "[]";
        std::string out = "[";
        for (size_t j = 0; j < a->size(); ++j) {
            out += (j ? sep : "") + nl + json_at((*a)[j], item_sep, key_sep, indent, depth + 1);
            check_text(out);
        }
        return out + close + "]";
    }
    case kind::dict: {
        if (o->empty()) return "{}";
        std::string out = "{";
        bool first = true;
        for (const auto& [name, x] : *o) {
            out += (first ? "" : sep) + nl + json_quote(name) + key_sep + json_at(x, item_sep, key_sep, indent, depth + 1);
            check_text(out);
            first = false;
        }
        return out + close + "}";
    }
    }
    return "null";
}
} // namespace

namespace {
bool equal_at(const value& x, const value& y, int depth) {
    charge(1);
    if (depth > kMaxDepth) RL_THROW("chat template: a value nested more than 100 deep");
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
            if (!equal_at((*x.a)[j], (*y.a)[j], depth + 1)) return false;
        return true;
    }
    case K::dict: {
        if (x.o == y.o) return true;
        if (x.ns || y.ns || x.o->size() != y.o->size()) return false;
        for (const auto& [name, v] : *x.o) {
            const value other = y.get(name);
            if (!other.is_defined() || !equal_at(other, v, depth + 1)) return false;
        }
        return true;
    }
    case K::function: return x.fn == y.fn;
    default: return false;
    }
}
} // namespace

bool operator==(const value& x, const value& y) { return equal_at(x, y, 0); }

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
