// jinja_builtins.cpp: the globals, attributes, subscripts and slices, methods and operators of
// jinja_builtins.h, and the helpers of jinja_helpers.h. Filters and tests: jinja_filters.cpp.
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_helpers.h"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace rl::jinja {

const value* arg(const call_args& a, size_t pos, const char* name) {
    for (const auto& [k, v] : a.named)
        if (k == name) return &v;
    return pos < a.positional.size() ? &a.positional[pos] : nullptr;
}

std::string strip_chars(const std::string& s, const value* chars, bool left, bool right) {
    const std::string set = chars && chars->is_string() ? chars->s : std::string(" \t\n\r\f\v");
    size_t b = 0, e = s.size();
    if (left) while (b < e && set.find(s[b]) != std::string::npos) ++b;
    if (right) while (e > b && set.find(s[e - 1]) != std::string::npos) --e;
    return s.substr(b, e - b);
}

value split_str(const std::string& s, const value* sep, const value* maxsplit) {
    array out;
    int64_t left = maxsplit && maxsplit->is_number() ? to_int(*maxsplit, 0, "split()") : -1;
    if (!sep || !sep->is_string()) {   // runs of whitespace, none empty
        size_t p = 0;
        while (p < s.size()) {
            while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
            if (p >= s.size()) break;
            size_t q = p;
            if (left == 0) q = s.size();
            else while (q < s.size() && !std::isspace(static_cast<unsigned char>(s[q]))) ++q;
            if (out.size() >= kMaxList) raise(0, "split() past 1,000,000 items");
            out.emplace_back(s.substr(p, q - p));
            --left;
            p = q;
        }
        return value(std::move(out));
    }
    if (sep->s.empty()) raise(0, "split(): empty separator");
    charge(int64_t(s.size() / 16));
    size_t p = 0, q;
    while (left-- != 0 && (q = s.find(sep->s, p)) != std::string::npos) {
        if (out.size() >= kMaxList) raise(0, "split() past 1,000,000 items");
        out.emplace_back(s.substr(p, q - p));
        p = q + sep->s.size();
    }
    out.emplace_back(s.substr(p));
    return value(std::move(out));
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    charge(int64_t(s.size() / 16));
    std::string out;
    size_t p = 0;
    for (size_t q; (q = s.find(from, p)) != std::string::npos; p = q + from.size()) {
        out.append(s, p, q - p);
        out += to;
        if (out.size() > kMaxString) raise(0, "a string grew past 16 MiB");
    }
    out.append(s, p, std::string::npos);
    return out;
}

std::string upper(std::string s) {
    for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

int64_t length(const value& v, int line) {
    if (v.is_string()) return int64_t(utf8_chars(v.s).size());
    if (v.is_list()) return int64_t(v.a->size());
    if (v.is_dict()) return int64_t(v.o->size());
    if (!v.is_defined()) return 0;
    raise(line, std::string("object of type '") + type_name(v) + "' has no len()");
}

array items_of(const value& v) {
    array out;
    if (v.is_dict())
        for (const auto& [k, x] : *v.o) {
            value pair(array{value(k), x});
            pair.tuple = true;
            out.push_back(std::move(pair));
        }
    return out;
}

array as_list(const value& v, int line) {
    if (v.is_list()) return *v.a;
    array out;
    if (v.is_dict()) for (const auto& [k, x] : *v.o) out.emplace_back(k);
    else if (v.is_string()) for (std::string& c : utf8_chars(v.s)) out.emplace_back(std::move(c));
    else if (v.is_defined()) raise(line, std::string("'") + type_name(v) + "' object is not iterable");
    return out;
}

bool less(const value& a, const value& b, int line) {
    if (a.is_number() && b.is_number()) return a.as_double() < b.as_double();
    if (a.is_string() && b.is_string()) return a.s < b.s;
    raise(line, std::string("'<' not supported between '") + type_name(a) + "' and '" + type_name(b) + "'");
}

bool contains(const value& hay, const value& needle, int line) {
    if (hay.is_string()) {
        if (!needle.is_string()) raise(line, "'in <string>' requires a string on the left");
        return hay.s.find(needle.s) != std::string::npos;
    }
    if (hay.is_list()) {
        charge(int64_t(hay.a->size()));
        return std::find(hay.a->begin(), hay.a->end(), needle) != hay.a->end();
    }
    if (hay.is_dict()) return needle.is_string() && hay.get(needle.s).is_defined();
    if (!hay.is_defined()) return false;
    raise(line, std::string("argument of type '") + type_name(hay) + "' is not iterable");
}

int64_t index_of(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

std::vector<std::string> utf8_chars(const std::string& s) {
    std::vector<std::string> out;
    charge(int64_t(s.size() / 16));
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (i + n > s.size()) n = 1;
        for (size_t j = 1; j < n; ++j)
            if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) n = 1;
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

int64_t to_int(const value& v, int line, const char* what) {
    if (v.k == value::kind::integer) return v.i;
    if (v.k == value::kind::boolean) return v.b;
    const double d = v.as_double();
    if (!v.is_number() || !(d > -9.2e18 && d < 9.2e18)) raise(line, std::string(what) + ": not an integer in range");
    return int64_t(d);
}

// A template is untrusted: a value that doubles in a loop must stop long before memory does.
void check_size(size_t bytes, int line) {
    if (bytes > kMaxString) raise(line, "a string grew past 16 MiB");
}

value global(const std::string& name) {
    if (name == "namespace" || name == "dict") {
        const bool ns = name == "namespace";
        return value::make_function([ns](call_args& a) {
            value d(object{});
            d.ns = ns;
            for (const value& p : a.positional)
                if (p.is_dict()) for (const auto& [k, v] : *p.o) d.set(k, v);
            for (const auto& [k, v] : a.named) d.set(k, v);
            for (const auto& [k, v] : *d.o) d.depth = std::max(d.depth, v.depth + 1);
            if (d.depth > 100) raise(0, "a value nested more than 100 deep");
            return d;
        });
    }
    if (name == "raise_exception")
        return value::make_function([](call_args& a) -> value {
            raise(0, "the template refused the conversation: " + (a.positional.empty() ? std::string() : a.positional[0].str()));
        });
    if (name == "range")
        return value::make_function([](call_args& a) {
            int64_t start = 0, stop = 0, step = 1;
            const size_t n = a.positional.size();
            if (n == 1) stop = to_int(a.positional[0], 0, "range()");
            if (n >= 2) start = to_int(a.positional[0], 0, "range()"), stop = to_int(a.positional[1], 0, "range()");
            if (n >= 3) step = to_int(a.positional[2], 0, "range()");
            array out;
            if (step == 0) return value(std::move(out));
            for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
                if (out.size() >= 100000) raise(0, "range() of more than 100,000 items");
                out.emplace_back(i);
                if (__builtin_add_overflow(i, step, &i)) break;
            }
            return value(std::move(out));
        });
    if (name == "strftime_now")
        return value::make_function([](call_args& a) {
            const std::time_t t = std::time(nullptr);
            std::tm tm{};
            localtime_r(&t, &tm);
            char buf[128];
            const std::string fmt = a.positional.empty() ? "%Y-%m-%d" : a.positional[0].str();
            const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
            return value(std::string(buf, n));
        });
    return {};
}

value attribute(const value& o, const std::string& name, int line) {
    if (o.is_dict()) return o.get(name);   // a missing key is undefined, as in Jinja
    if (o.is_list() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))   // x.0
        return subscript(o, value(int64_t(std::strtoll(name.c_str(), nullptr, 10))), line);
    return {};   // methods are looked up when called (call_method)
}

value subscript(const value& o, const value& key, int line) {
    if (o.is_dict()) return o.get(key.str());
    if (o.is_list() || o.is_string()) {
        if (!key.is_number()) raise(line, std::string(type_name(o)) + " indices must be integers, not " + type_name(key));
        std::vector<std::string> chars;
        if (o.is_string()) chars = utf8_chars(o.s);
        const int64_t n = o.is_list() ? int64_t(o.a->size()) : int64_t(chars.size());
        const int64_t k = to_int(key, line, "index");
        const int64_t i = k < -n || k >= n ? -1 : index_of(k, n);
        if (i < 0) raise(line, std::string(type_name(o)) + " index out of range");
        return o.is_list() ? (*o.a)[size_t(i)] : value(chars[size_t(i)]);
    }
    if (!o.is_defined()) return {};
    raise(line, std::string("'") + type_name(o) + "' object is not subscriptable");
}

value slice(const value& o, const value& start, const value& stop, const value& step, int line) {
    if (!o.is_list() && !o.is_string()) raise(line, std::string("cannot slice '") + type_name(o) + "'");
    std::vector<std::string> chars;
    if (o.is_string()) chars = utf8_chars(o.s);
    const int64_t n = o.is_list() ? int64_t(o.a->size()) : int64_t(chars.size());
    const int64_t st = step.is_number() ? to_int(step, line, "slice step") : 1;
    if (st == 0) raise(line, "slice step cannot be zero");
    // Python's slice.indices(), then the count of items, so no index is ever stepped past.
    auto clamp = [&](const value& v, int64_t dflt) {
        if (!v.is_number()) return dflt;
        int64_t i = to_int(v, line, "slice bound");
        if (i < 0) i = i < -n ? (st > 0 ? 0 : -1) : i + n;
        return st > 0 ? std::min(i, n) : std::min(i, n - 1);
    };
    const int64_t b = clamp(start, st > 0 ? 0 : n - 1), e = clamp(stop, st > 0 ? n : -1);
    const int64_t count = st > 0 ? (e > b ? (e - b - 1) / st + 1 : 0) : (b > e ? (b - e - 1) / -st + 1 : 0);
    charge(count);
    array out;
    std::string s;
    for (int64_t k = 0; k < count; ++k) {
        const int64_t i = b + k * st;
        if (o.is_list()) out.push_back((*o.a)[size_t(i)]);
        else s += chars[size_t(i)];
    }
    return o.is_list() ? value(std::move(out)) : value(s);
}

value call_method(const value& self, const std::string& name, call_args& a, int line) {
    if (self.is_string()) {
        const std::string& s = self.s;
        const value* a0 = arg(a, 0, "");
        if (name == "startswith" || name == "endswith") {
            if (!a0) raise(line, name + "() takes a prefix");
            auto test = [&](const std::string& p) {
                return p.size() <= s.size() && (name == "startswith" ? s.compare(0, p.size(), p) == 0
                                                                     : s.compare(s.size() - p.size(), p.size(), p) == 0);
            };
            if (a0->is_list()) return value(std::any_of(a0->a->begin(), a0->a->end(), [&](const value& p) { return test(p.str()); }));
            return value(test(a0->str()));
        }
        if (name == "strip") return value(strip_chars(s, a0, true, true));
        if (name == "lstrip") return value(strip_chars(s, a0, true, false));
        if (name == "rstrip") return value(strip_chars(s, a0, false, true));
        if (name == "split") return split_str(s, a0 && a0->is_none() ? nullptr : a0, arg(a, 1, "maxsplit"));
        if (name == "upper") return value(upper(s));
        if (name == "lower") return value(lower(s));
        if (name == "replace" && a.positional.size() >= 2) {
            value r(replace_all(s, a.positional[0].str(), a.positional[1].str()));
            check_size(r.s.size(), line);
            return r;
        }
        if (name == "title" || name == "capitalize") {
            std::string r = lower(s);
            bool start = true;
            for (char& c : r) {
                if (start && std::isalpha(static_cast<unsigned char>(c))) c = char(std::toupper(static_cast<unsigned char>(c)));
                start = name == "title" ? !std::isalpha(static_cast<unsigned char>(c)) : false;
            }
            return value(r);
        }
        if (name == "find" && a0) {
            const size_t p = s.find(a0->str());
            return value(p == std::string::npos ? int64_t(-1) : int64_t(p));
        }
        if (name == "count" && a0) {
            int64_t n = 0;
            const std::string& t = a0->s;
            if (!t.empty()) for (size_t p = 0; (p = s.find(t, p)) != std::string::npos; p += t.size()) ++n;
            return value(n);
        }
    } else if (self.is_dict()) {
        if (name == "items") return value(items_of(self));
        if (name == "keys") return value(as_list(self, line));
        if (name == "values") {
            array out;
            for (const auto& [k, v] : *self.o) out.push_back(v);
            return value(std::move(out));
        }
        if (name == "get") {
            const value* k = arg(a, 0, "key");
            const value v = k ? self.get(k->str()) : value();
            if (v.is_defined()) return v;
            const value* d = arg(a, 1, "default");
            return d ? *d : value::none();
        }
    } else if (self.is_list()) {
        if (name == "index" && !a.positional.empty()) {
            const auto it = std::find(self.a->begin(), self.a->end(), a.positional[0]);
            if (it == self.a->end()) raise(line, "value not in list");
            return value(int64_t(it - self.a->begin()));
        }
        if (name == "count" && !a.positional.empty())
            return value(int64_t(std::count(self.a->begin(), self.a->end(), a.positional[0])));
    } else if (!self.is_defined()) {
        raise(line, "cannot call ." + name + "() on an undefined value");
    }
    raise(line, std::string("'") + type_name(self) + "' object has no method '" + name + "'");
}

value binary_op(const std::string& op, const value& a, const value& b, int line) {
    if (op == "==") return value(a == b);
    if (op == "!=") return value(a != b);
    if (op == "<") return value(less(a, b, line));
    if (op == ">") return value(less(b, a, line));
    if (op == "<=") return value(!less(b, a, line));
    if (op == ">=") return value(!less(a, b, line));
    if (op == "in") return value(contains(b, a, line));
    if (op == "not in") return value(!contains(b, a, line));
    // Copies are charged by size (a unit per 64 bytes), so a render copies at most a few hundred MB.
    if (op == "~") {
        std::string x = a.str(), y = b.str();
        check_size(x.size() + y.size(), line);
        charge(int64_t((x.size() + y.size()) / 64));
        return value(x + y);
    }
    if (op == "+") {
        if (a.is_string() && b.is_string()) {
            check_size(a.s.size() + b.s.size(), line);
            charge(int64_t((a.s.size() + b.s.size()) / 64));
            return value(a.s + b.s);
        }
        if (a.is_list() && b.is_list()) {
            if (a.a->size() + b.a->size() > kMaxList) raise(line, "a list grew past 1,000,000 items");
            array out = *a.a;
            out.insert(out.end(), b.a->begin(), b.a->end());
            for (const value& x : out) charge(1 + int64_t(x.is_string() ? x.s.size() / 64 : 0));
            value l(std::move(out));
            l.depth = std::max(a.depth, b.depth);
            return l;
        }
    }
    if (op == "*" && ((a.is_string() && b.k == value::kind::integer) || (b.is_string() && a.k == value::kind::integer))) {
        const std::string& s = a.is_string() ? a.s : b.s;
        const int64_t times = a.is_string() ? b.i : a.i;
        if (s.empty() || times <= 0) return value(std::string());
        if (double(s.size()) * double(times) > double(kMaxString)) raise(line, "a string repeated past 16 MiB");
        charge(int64_t(s.size()) * times / 64);
        std::string out;
        for (int64_t j = 0; j < times; ++j) out += s;
        return value(out);
    }
    if (!a.is_number() || !b.is_number())
        raise(line, "unsupported operand types for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'" +
                        (!a.is_defined() || !b.is_defined() ? " (a name is undefined)" : ""));
    const bool ints = a.k == value::kind::integer && b.k == value::kind::integer;
    const double x = a.as_double(), y = b.as_double();
    // Integers as Python's, within int64: past it, an error (Python would go on with big integers).
    int64_t r = 0;
    const auto overflow = [&]() -> value { raise(line, "integer overflow in " + op); };
    if (op == "+") return ints ? (__builtin_add_overflow(a.i, b.i, &r) ? overflow() : value(r)) : value(x + y);
    if (op == "-") return ints ? (__builtin_sub_overflow(a.i, b.i, &r) ? overflow() : value(r)) : value(x - y);
    if (op == "*") return ints ? (__builtin_mul_overflow(a.i, b.i, &r) ? overflow() : value(r)) : value(x * y);
    if (op == "**") {
        if (!ints || b.i < 0) return value(std::pow(x, y));
        int64_t base = a.i, e = b.i;
        r = 1;
        while (e > 0) {
            if ((e & 1) && __builtin_mul_overflow(r, base, &r)) return overflow();
            e >>= 1;
            if (e > 0 && __builtin_mul_overflow(base, base, &base)) return overflow();
        }
        return value(r);
    }
    if (y == 0 && (op == "/" || op == "//" || op == "%")) raise(line, "division by zero");
    if (op == "/") return value(x / y);
    if (op == "//") {
        if (!ints) return value(std::floor(x / y));
        if (b.i == -1) return __builtin_sub_overflow(int64_t(0), a.i, &r) ? overflow() : value(r);
        int64_t q = a.i / b.i;
        if (a.i % b.i != 0 && ((a.i < 0) != (b.i < 0))) --q;
        return value(q);
    }
    if (op == "%") {
        if (!ints) return value(x - y * std::floor(x / y));
        if (b.i == -1) return value(int64_t(0));
        int64_t m = a.i % b.i;
        if (m != 0 && ((m < 0) != (b.i < 0))) m += b.i;
        return value(m);
    }
    raise(line, "unknown operator " + op);
}

} // namespace rl::jinja

