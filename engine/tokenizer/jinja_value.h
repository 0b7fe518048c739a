// jinja_value: the values a chat template computes with (engine/tokenizer/jinja.h): Jinja's and
// Python's undefined, none, booleans, integers, floats, strings, lists, dicts (insertion-ordered,
// as Python's) and namespaces (a dict that `set ns.x = ...` may change, shared by reference), plus
// built-in functions. Printing, truthiness, equality and JSON follow Python and Hugging Face's
// template environment (tojson as json.dumps with ensure_ascii=False), since those render the
// templates the models were trained with. Pure C++; exercise: tests/test_jinja.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rl::jinja {

struct value;
using array = std::vector<value>;
using object = std::vector<std::pair<std::string, value>>;
struct call_args {
    std::vector<value> positional;
    std::vector<std::pair<std::string, value>> named;
};
using function = std::function<value(call_args&)>;

struct value {
    enum class kind { undefined, none, boolean, integer, number, string, list, dict, function };
    kind k = kind::undefined;
    bool b = false;
    int64_t i = 0;
    double d = 0;
    std::string s;
    std::shared_ptr<array> a;      // list
    std::shared_ptr<object> o;     // dict (a namespace is a dict with ns set)
    std::shared_ptr<function> fn;
    bool ns = false;
    bool tuple = false;            // a list Python would print as a tuple: (a, b)
    int depth = 0;                 // lists and dicts built by the template: levels of nesting below

    value() = default;
    static value none() { value v; v.k = kind::none; return v; }
    value(bool x) : k(kind::boolean), b(x) {}
    value(int x) : k(kind::integer), i(x) {}
    value(int64_t x) : k(kind::integer), i(x) {}
    value(double x) : k(kind::number), d(x) {}
    value(const char* x) : k(kind::string), s(x) {}
    value(std::string x) : k(kind::string), s(std::move(x)) {}
    value(array x) : k(kind::list), a(std::make_shared<array>(std::move(x))) {}
    value(object x) : k(kind::dict), o(std::make_shared<object>(std::move(x))) {}
    static value make_function(function f) {
        value v;
        v.k = kind::function;
        v.fn = std::make_shared<function>(std::move(f));
        return v;
    }

    bool is_defined() const { return k != kind::undefined; }
    bool is_none() const { return k == kind::none; }
    bool is_string() const { return k == kind::string; }
    bool is_number() const { return k == kind::integer || k == kind::number; }
    bool is_list() const { return k == kind::list; }
    bool is_dict() const { return k == kind::dict; }
    double as_double() const { return k == kind::integer ? double(i) : k == kind::boolean ? double(b) : d; }

    bool truthy() const;
    /// The dict's entry for key, undefined when absent (or when this is not a dict).
    value get(const std::string& key) const;
    /// Sets (or adds) a dict entry.
    void set(const std::string& key, value v);
    /// What `{{ v }}` prints: Python's str() (None, True, 1.5, ['a', 1], {'k': 'v'}).
    std::string str() const;
    /// Python's repr() (strings quoted), used inside printed lists and dicts.
    std::string repr() const;
    /// json.dumps(v, ensure_ascii=False) with the separators given (indent < 0: none).
    std::string to_json(const std::string& item_sep = ", ", const std::string& key_sep = ": ", int indent = -1) const;
};

/// Work accounting for an untrusted template: the renderer points this at its step counter for
/// the length of a render; printing, comparing and the builtins charge what they do, so one
/// call on a huge or deeply shared value cannot run unbounded. Throws engine_error past the
/// budget. A no-op when no render is running.
void charge(int64_t units);
struct budget_scope {
    budget_scope(int64_t* steps, int64_t limit);
    ~budget_scope();
    int64_t* prev_steps;
    int64_t prev_limit;
};
/// Python's repr of a float: shortest round-trip digits, positional when -4 <= exponent < 16.
std::string float_repr(double d);

bool operator==(const value& x, const value& y);
inline bool operator!=(const value& x, const value& y) { return !(x == y); }
/// The name Python gives the value's type ("str", "int", "list", ...), for error messages.
const char* type_name(const value& v);

} // namespace rl::jinja
