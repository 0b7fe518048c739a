// jinja_filters.cpp: Jinja's filters and tests (jinja_builtins.h: apply_filter, apply_test).
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_helpers.h"

#include <algorithm>
#include <cmath>

namespace rl::jinja {

value apply_filter(const std::string& name, const value& v, call_args& a, int line) {
    const value* a0 = arg(a, 0, "");
    if (name == "trim") return value(strip_chars(v.str(), a0, true, true));
    if (name == "length" || name == "count") return value(length(v, line));
    if (name == "string") return value(v.str());
    if (name == "upper") return value(upper(v.str()));
    if (name == "lower") return value(lower(v.str()));
    if (name == "safe") return v;
    if (name == "e" || name == "escape") {   // markupsafe's escape
        std::string out;
        for (char c : v.str()) {
            switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
            }
        }
        check_size(out.size(), line);
        return value(out);
    }
    if (name == "list") return value(as_list(v, line));
    if (name == "items") return value(items_of(v));
    if (name == "first" || name == "last") {
        const array l = as_list(v, line);
        if (l.empty()) return {};
        return name == "first" ? l.front() : l.back();
    }
    if (name == "reverse") {
        if (v.is_string()) {
            std::vector<std::string> chars = utf8_chars(v.s);
            std::string out;
            for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
            return value(out);
        }
        array l = as_list(v, line);
        std::reverse(l.begin(), l.end());
        return value(std::move(l));
    }
    if (name == "join") {
        std::string out;
        const std::string sep = a0 ? a0->str() : "";
        const value* attr = arg(a, 1, "attribute");
        bool first = true;
        for (const value& x : as_list(v, line)) {
            charge(1);
            out += (first ? "" : sep) + (attr ? attribute(x, attr->str(), line).str() : x.str());
            first = false;
            check_size(out.size(), line);
        }
        return value(out);
    }
    if (name == "default" || name == "d") {
        const value* b = arg(a, 1, "boolean");
        const bool use = b && b->truthy() ? !v.truthy() : !v.is_defined();
        return use ? (a0 ? *a0 : value(std::string())) : v;
    }
    if (name == "int") return v.is_number() ? value(int64_t(v.as_double())) : v.is_string() ? value(int64_t(std::atoll(v.s.c_str()))) : value(int64_t(0));
    if (name == "float") return v.is_number() ? value(v.as_double()) : v.is_string() ? value(std::atof(v.s.c_str())) : value(0.0);
    if (name == "abs" && v.is_number()) return v.k == value::kind::integer ? value(v.i < 0 ? -v.i : v.i) : value(std::fabs(v.d));
    if (name == "capitalize") return call_method(value(v.str()), name, a, line);
    if (name == "title") {   // Jinja's: words begin after whitespace, "-", "(", "{", "[" or "<" (not "'")
        std::string out = v.str();
        bool start = true;
        for (char& c : out) {
            const unsigned char u = static_cast<unsigned char>(c);
            c = char(start ? std::toupper(u) : std::tolower(u));
            start = std::isspace(u) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        }
        return value(out);
    }
    if (name == "indent") {   // indent(width=4, first=False, blank=False)
        const value* w = arg(a, 0, "width");
        const value* first = arg(a, 1, "first");
        const value* blank = arg(a, 2, "blank");
        const std::string pad = w && w->is_string() ? w->s : std::string(size_t(std::clamp<int64_t>(w ? to_int(*w, line, "indent") : 4, 0, 1000)), ' ');
        const std::string s = v.str();
        std::string out;
        size_t p = 0;
        bool first_line = true;
        while (p <= s.size()) {
            size_t q = s.find('\n', p);
            const std::string ln = s.substr(p, q == std::string::npos ? std::string::npos : q - p);
            const bool empty = ln.find_first_not_of(" \t\r\f\v") == std::string::npos;
            if ((first_line ? first && first->truthy() : true) && (!empty || (blank && blank->truthy()))) out += pad;
            out += ln;
            check_size(out.size(), line);
            if (q == std::string::npos) break;
            out += '\n';
            p = q + 1;
            first_line = false;
        }
        return value(out);
    }
    if (name == "sum" || name == "max" || name == "min") {
        const value* attr = arg(a, 99, "attribute");
        array l = as_list(v, line);
        if (attr) for (value& x : l) x = attribute(x, attr->str(), line);
        charge(int64_t(l.size()));
        if (name == "sum") {
            const value* start = arg(a, name == "sum" && !attr ? 1 : 1, "start");
            value total = start ? *start : value(int64_t(0));
            for (const value& x : l) total = binary_op("+", total, x, line);
            return total;
        }
        if (l.empty()) return {};
        value best = l[0];
        for (const value& x : l)
            if (name == "max" ? less(best, x, line) : less(x, best, line)) best = x;
        return best;
    }
    if (name == "dictsort") {   // dictsort(case_sensitive=False, by='key', reverse=False)
        const value* by = arg(a, 1, "by");
        const value* rev = arg(a, 2, "reverse");
        array l = items_of(v);
        const size_t k = by && by->str() == "value" ? 1 : 0;
        charge(int64_t(l.size()) * 8);
        const bool down = rev && rev->truthy();
        std::stable_sort(l.begin(), l.end(), [&](const value& x, const value& y) {
            return down ? less((*y.a)[k], (*x.a)[k], line) : less((*x.a)[k], (*y.a)[k], line);
        });
        return value(std::move(l));
    }
    if (name == "replace" && a.positional.size() >= 2) return call_method(value(v.str()), "replace", a, line);
    if (name == "tojson") {
        const value* ind = arg(a, 0, "indent");
        const int64_t indent = ind && ind->is_number() ? to_int(*ind, line, "tojson indent") : -1;
        if (indent > 100) raise(line, "tojson: an indent past 100");
        return value(v.to_json(", ", ": ", int(indent)));
    }
    if (name == "selectattr" || name == "rejectattr") {
        if (!a0) raise(line, name + " needs an attribute");
        const bool select = name == "selectattr";
        array out;
        for (const value& x : as_list(v, line)) {
            const value field = attribute(x, a0->str(), line);
            bool pass = field.truthy();
            if (a.positional.size() >= 2) {
                call_args rest;
                rest.positional.assign(a.positional.begin() + 2, a.positional.end());
                pass = apply_test(a.positional[1].str(), field, rest, line);
            }
            if (pass == select) out.push_back(x);
        }
        return value(std::move(out));
    }
    if (name == "select" || name == "reject") {
        const bool select = name == "select";
        array out;
        for (const value& x : as_list(v, line)) {
            bool pass = x.truthy();
            if (a0) {
                call_args rest;
                rest.positional.assign(a.positional.begin() + 1, a.positional.end());
                pass = apply_test(a0->str(), x, rest, line);
            }
            if (pass == select) out.push_back(x);
        }
        return value(std::move(out));
    }
    if (name == "map") {
        const value* attr = arg(a, 99, "attribute");
        array out;
        for (const value& x : as_list(v, line)) {
            if (attr) out.push_back(attribute(x, attr->str(), line));
            else if (a0) {
                call_args rest;
                rest.positional.assign(a.positional.begin() + 1, a.positional.end());
                out.push_back(apply_filter(a0->str(), x, rest, line));
            } else out.push_back(x);
        }
        return value(std::move(out));
    }
    if (name == "unique") {
        array out;
        for (const value& x : as_list(v, line)) {
            charge(int64_t(out.size()) + 1);   // quadratic: charged as it goes
            if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
        }
        return value(std::move(out));
    }
    if (name == "sort") {   // sort(reverse=False, case_sensitive=False, attribute=None)
        const value* rev = arg(a, 0, "reverse");
        const value* attr = arg(a, 2, "attribute");
        array l = as_list(v, line);
        charge(int64_t(l.size()) * 8);
        auto key = [&](const value& x) { return attr ? attribute(x, attr->str(), line) : x; };
        auto fold = [](value x) {   // case-insensitive by default, as Jinja
            if (x.is_string()) x.s = lower(x.s);
            return x;
        };
        const bool down = rev && rev->truthy();   // stable either way, as Python's sorted(reverse=True)
        std::stable_sort(l.begin(), l.end(), [&](const value& x, const value& y) {
            return down ? less(fold(key(y)), fold(key(x)), line) : less(fold(key(x)), fold(key(y)), line);
        });
        return value(std::move(l));
    }
    raise(line, "unknown filter '" + name + "'");
}

bool apply_test(const std::string& name, const value& v, call_args& a, int line) {
    const value* a0 = arg(a, 0, "");
    if (name == "defined") return v.is_defined();
    if (name == "undefined") return !v.is_defined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.k == value::kind::integer;
    if (name == "float") return v.k == value::kind::number;
    if (name == "boolean") return v.k == value::kind::boolean;
    if (name == "true") return v.k == value::kind::boolean && v.b;
    if (name == "false") return v.k == value::kind::boolean && !v.b;
    if (name == "mapping") return v.is_dict();
    if (name == "sequence") return v.is_list() || v.is_string() || v.is_dict();
    if (name == "iterable") return v.is_list() || v.is_string() || v.is_dict();
    if (name == "callable") return v.k == value::kind::function;
    if (name == "lower") return v.is_string() && lower(v.s) == v.s;
    if (name == "upper") return v.is_string() && upper(v.s) == v.s;
    if (name == "odd" || name == "even") {
        if (v.k != value::kind::integer) raise(line, "'" + name + "' needs an integer");
        return (v.i % 2 != 0) == (name == "odd");
    }
    if (name == "divisibleby") return a0 && a0->is_number() && v.is_number() && int64_t(a0->as_double()) != 0 &&
                                      int64_t(v.as_double()) % int64_t(a0->as_double()) == 0;
    if (!a0) raise(line, "the test '" + name + "' needs a value to compare with");
    if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return v == *a0;
    if (name == "ne" || name == "!=") return v != *a0;
    if (name == "lt" || name == "<") return less(v, *a0, line);
    if (name == "gt" || name == ">") return less(*a0, v, line);
    if (name == "le" || name == "<=") return !less(*a0, v, line);
    if (name == "ge" || name == ">=") return !less(v, *a0, line);
    if (name == "in") return contains(*a0, v, line);
    raise(line, "unknown test '" + name + "'");
}

} // namespace rl::jinja
