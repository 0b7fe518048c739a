// jinja_builtins: what a chat template can call without defining it: the globals (namespace,
// raise_exception, range, dict, strftime_now), Python's string, list and dict methods that
// templates use, Jinja's filters and tests, and the operators on values. Semantics follow Python
// and Jinja (e.g. "abc"[-1], [1, 2][::-1], "a,b".split(","), x | tojson as json.dumps).
#pragma once
#include "tokenizer/jinja_value.h"

#include <string>

namespace rl::jinja {

[[noreturn]] void raise(int line, const std::string& what);

value global(const std::string& name);
value attribute(const value& o, const std::string& name, int line);
value subscript(const value& o, const value& key, int line);
value slice(const value& o, const value& start, const value& stop, const value& step, int line);
value call_method(const value& self, const std::string& name, call_args& args, int line);
value apply_filter(const std::string& name, const value& v, call_args& args, int line);
bool apply_test(const std::string& name, const value& v, call_args& args, int line);
value binary_op(const std::string& op, const value& a, const value& b, int line);

} // namespace rl::jinja
