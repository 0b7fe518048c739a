// jinja_eval.cpp: renders a node tree (jinja_ast.h). Scopes: the variables given, then one scope
// per for-loop iteration and per macro call, as in Jinja, so a {% set %} inside a loop does not
// leak out of it (templates use namespace() for that) while one inside an if does. The built-in
// filters, tests and methods are in jinja_builtins.cpp.
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_helpers.h"

#include "common/engine_error.h"

#include <algorithm>
#include <cmath>

namespace rl::jinja {

[[noreturn]] void raise(int line, const std::string& what) {
    RL_THROW("chat template, line " + std::to_string(line) + ": " + what);
}

namespace {

// A template is untrusted input (it comes with the model file): its work and output are bounded.
constexpr size_t kMaxOutput = size_t(16) << 20;   // bytes
constexpr int64_t kMaxSteps = 2'000'000;          // nodes run and expressions evaluated (~1 s)
constexpr size_t kMaxScopes = 256;                // loop and macro nesting, recursion included

class renderer {
public:
    explicit renderer(const value& vars) : budget_(&steps_, kMaxSteps) {
        scopes_.emplace_back();
        if (vars.is_dict())
            for (const auto& [k, v] : *vars.o) scopes_.back().emplace_back(k, v);
    }

    void run(const node& n, std::string& out) {
        if (++steps_ > kMaxSteps) raise(n.line, "the template runs too long");
        if (out.size() > kMaxOutput) raise(n.line, "the template's output passed 16 MiB");
        switch (n.k) {
        case node::sequence:
            for (const auto& c : n.children) {
                run(*c, out);
                if (loop_control_) break;   // a break or continue below: leave the rest of the body
            }
            break;
        case node::break_: loop_control_ = 1; break;
        case node::continue_: loop_control_ = 2; break;
        case node::raw: out += n.text; break;
        case node::output: out += eval(*n.e).str(); break;
        case node::if_:
            for (const auto& [cond, body] : n.branches)
                if (!cond || eval(*cond).truthy()) {
                    run(*body, out);
                    break;
                }
            break;
        case node::for_: loop(n, out); break;
        case node::set: assign(n, eval(*n.e)); break;
        case node::set_block: {
            std::string s;
            run(*n.body, s);
            assign(n, value(s));
            break;
        }
        case node::macro: define_macro(n); break;
        }
    }

private:
    using scope = std::vector<std::pair<std::string, value>>;

    value lookup(const std::string& name) const {
        for (auto s = scopes_.rbegin(); s != scopes_.rend(); ++s)
            for (const auto& [k, v] : *s)
                if (k == name) return v;
        return global(name);
    }
    void bind(const std::string& name, value v) {
        for (auto& [k, x] : scopes_.back())
            if (k == name) {
                x = std::move(v);
                return;
            }
        scopes_.back().emplace_back(name, std::move(v));
    }
    void assign(const node& n, value v) {
        if (n.targets.size() == 1) {
            bind(n.targets[0], std::move(v));
            return;
        }
        value ns = lookup(n.targets[0]);
        if (!ns.is_dict() || !ns.ns) raise(n.line, "cannot set an attribute of " + std::string(type_name(ns)) + " '" + n.targets[0] + "' (only of a namespace)");
        // A namespace is the only value a template can change after making it, so the only way
        // to a cycle (which shared ownership would never free): refuse one that holds itself.
        if (reaches(v, ns.o.get(), 0)) raise(n.line, "a namespace cannot contain itself");
        ns.set(n.targets[1], std::move(v));
    }

    static bool reaches(const value& v, const object* target, int depth) {
        charge(1);
        if (depth > 100) raise(0, "a value nested more than 100 deep");
        if (v.is_dict()) {
            if (v.o.get() == target) return true;
            for (const auto& [k, x] : *v.o)
                if (reaches(x, target, depth + 1)) return true;
        } else if (v.is_list()) {
            for (const value& x : *v.a)
                if (reaches(x, target, depth + 1)) return true;
        }
        return false;
    }

    void loop(const node& n, std::string& out) {
        const value seq = eval(*n.e);
        std::vector<value> items;
        if (seq.is_list()) items = *seq.a;
        else if (seq.is_dict()) for (const auto& [k, v] : *seq.o) items.emplace_back(k);
        else if (seq.is_string()) for (std::string& c : utf8_chars(seq.s)) items.emplace_back(std::move(c));
        else if (seq.is_defined() && !seq.is_none()) raise(n.line, std::string("'") + type_name(seq) + "' object is not iterable");
        else if (seq.is_none()) raise(n.line, "'NoneType' object is not iterable");
        auto bind_targets = [&](const value& item) {
            if (n.targets.size() == 1) {
                bind(n.targets[0], item);
                return;
            }
            if (!item.is_list() || item.a->size() != n.targets.size())
                raise(n.line, "cannot unpack " + std::string(type_name(item)) + " into " + std::to_string(n.targets.size()) + " names");
            for (size_t j = 0; j < n.targets.size(); ++j) bind(n.targets[j], (*item.a)[j]);
        };
        if (n.filter) {   // Jinja filters first: loop.* counts the items that pass
            std::vector<value> kept;
            for (const value& item : items) {
                push_scope(n.line);
                bind_targets(item);
                const bool keep = eval(*n.filter).truthy();
                scopes_.pop_back();
                if (keep) kept.push_back(item);
            }
            items = std::move(kept);
        }
        if (items.empty()) {
            if (n.else_body) run(*n.else_body, out);
            return;
        }
        const int64_t len = int64_t(items.size());
        for (int64_t j = 0; j < len; ++j) {
            push_scope(n.line);
            bind_targets(items[size_t(j)]);
            object info = {{"index", value(j + 1)},         {"index0", value(j)},
                           {"revindex", value(len - j)},    {"revindex0", value(len - j - 1)},
                           {"first", value(j == 0)},        {"last", value(j == len - 1)},
                           {"length", value(len)},
                           {"previtem", j > 0 ? items[size_t(j - 1)] : value()},
                           {"nextitem", j + 1 < len ? items[size_t(j + 1)] : value()}};
            bind("loop", value(std::move(info)));
            run(*n.body, out);
            scopes_.pop_back();
            const int control = loop_control_;
            loop_control_ = 0;
            if (control == 1) break;
        }
    }

    void define_macro(const node& n) {
        const node* m = &n;
        bind(n.targets[0], value::make_function([this, m](call_args& args) {
            push_scope(m->line);
            for (size_t j = 0; j < m->params.size(); ++j) {
                value v;
                if (j < args.positional.size()) v = args.positional[j];
                else if (m->defaults[j]) v = eval(*m->defaults[j]);
                for (const auto& [k, x] : args.named)
                    if (k == m->params[j]) v = x;
                bind(m->params[j], v);
            }
            std::string out;
            run(*m->body, out);
            scopes_.pop_back();
            return value(out);
        }));
    }

    call_args arguments(const expr& e, size_t first) {
        call_args a;
        for (size_t j = first; j < e.kids.size(); ++j) {
            value v = eval(*e.kids[j]);
            if (e.arg_names[j].empty()) a.positional.push_back(std::move(v));
            else a.named.emplace_back(e.arg_names[j], std::move(v));
        }
        return a;
    }

    value eval(const expr& e) {
        if (++steps_ > kMaxSteps) raise(e.line, "the template runs too long");
        switch (e.k) {
        case expr::literal: return e.lit;
        case expr::variable: return lookup(e.name);
        case expr::attr: {
            const value o = eval(*e.kids[0]);
            if (!o.is_defined()) raise(e.line, "'" + describe(*e.kids[0]) + "' is undefined (reading ." + e.name + ")");
            return attribute(o, e.name, e.line);
        }
        case expr::index: {
            const value o = eval(*e.kids[0]);
            if (!o.is_defined()) raise(e.line, "'" + describe(*e.kids[0]) + "' is undefined (subscripted)");
            return subscript(o, eval(*e.kids[1]), e.line);
        }
        case expr::slice: {
            const value o = eval(*e.kids[0]);
            value parts[3];
            for (int j = 0; j < 3; ++j)
                if (e.kids[size_t(j + 1)]) parts[j] = eval(*e.kids[size_t(j + 1)]);
            return slice(o, parts[0], parts[1], parts[2], e.line);
        }
        case expr::call: {
            const expr& callee = *e.kids[0];
            call_args args = arguments(e, 1);
            if (callee.k == expr::attr) {   // a method of a string, list or dict
                const value self = eval(*callee.kids[0]);
                if (self.is_dict() && self.get(callee.name).k == value::kind::function)
                    return (*self.get(callee.name).fn)(args);
                return call_method(self, callee.name, args, e.line);
            }
            const value f = eval(callee);
            if (f.k != value::kind::function) raise(e.line, "'" + describe(callee) + "' is not callable");
            return (*f.fn)(args);
        }
        case expr::filter: {
            call_args args = arguments(e, 1);
            return apply_filter(e.name, eval(*e.kids[0]), args, e.line);
        }
        case expr::test: {
            call_args args = arguments(e, 1);
            const bool r = apply_test(e.name, eval(*e.kids[0]), args, e.line);
            return value(e.negate ? !r : r);
        }
        case expr::unary: {
            const value v = eval(*e.kids[0]);
            if (e.name == "not") return value(!v.truthy());
            if (!v.is_number()) raise(e.line, "bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
            if (e.name == "+") return v;
            if (v.k == value::kind::integer && v.i == INT64_MIN) raise(e.line, "integer overflow in unary -");
            return v.k == value::kind::integer ? value(-v.i) : value(-v.d);
        }
        case expr::compare: {   // a < b < c: each pair in turn, the first false one ends it
            value left = eval(*e.kids[0]);
            for (size_t j = 1; j < e.kids.size(); ++j) {
                value right = eval(*e.kids[j]);
                if (!binary_op(e.arg_names[j - 1], left, right, e.line).truthy()) return value(false);
                left = std::move(right);
            }
            return value(true);
        }
        case expr::binary: {
            if (e.name == "and") {
                value a = eval(*e.kids[0]);
                return a.truthy() ? eval(*e.kids[1]) : a;
            }
            if (e.name == "or") {
                value a = eval(*e.kids[0]);
                return a.truthy() ? a : eval(*e.kids[1]);
            }
            return binary_op(e.name, eval(*e.kids[0]), eval(*e.kids[1]), e.line);
        }
        case expr::cond:
            if (eval(*e.kids[1]).truthy()) return eval(*e.kids[0]);
            return e.kids[2] ? eval(*e.kids[2]) : value();
        // Literals record how deep they nest: a loop that wraps a value in itself ({% set ns.x =
        // [ns.x] %}) must stop before printing, comparing or freeing it runs off the stack.
        case expr::list: {
            array a;
            int depth = 0;
            for (const auto& k : e.kids) {
                a.push_back(eval(*k));
                depth = std::max(depth, a.back().depth + 1);
            }
            value l(std::move(a));
            l.tuple = e.negate;
            l.depth = nested(depth, e.line);
            return l;
        }
        case expr::dict: {
            value d(object{});
            int depth = 0;
            for (size_t j = 0; j + 1 < e.kids.size(); j += 2) {
                value v = eval(*e.kids[j + 1]);
                depth = std::max(depth, v.depth + 1);
                d.set(eval(*e.kids[j]).str(), std::move(v));
            }
            d.depth = nested(depth, e.line);
            return d;
        }
        }
        return {};
    }

    static int nested(int depth, int line) {
        if (depth > 100) raise(line, "a value nested more than 100 deep");
        return depth;
    }

    static std::string describe(const expr& e) {
        if (e.k == expr::variable) return e.name;
        if (e.k == expr::attr) return describe(*e.kids[0]) + "." + e.name;
        if (e.k == expr::index) return describe(*e.kids[0]) + "[...]";
        return "expression";
    }

    void push_scope(int line) {
        if (scopes_.size() >= kMaxScopes) raise(line, "loops or macro calls nested too deeply");
        scopes_.emplace_back();
    }

    std::vector<scope> scopes_;
    int64_t steps_ = 0;
    budget_scope budget_;     // the builtins charge their work to steps_ too
    int loop_control_ = 0;    // 1: a {% break %} is unwinding to its loop, 2: a {% continue %}
};

} // namespace

program::program() = default;
program::~program() = default;
program::program(program&&) noexcept = default;
program& program::operator=(program&&) noexcept = default;

program program::parse(const std::string& source) {
    program p;
    try {
        p.root_ = parse_template(source);
    } catch (const engine_error&) {
        throw;
    } catch (const std::exception& e) {   // bad_alloc and the like: still one clear error
        RL_THROW(std::string("chat template: ") + e.what());
    }
    return p;
}

std::string program::render(const value& variables) const {
    RL_CHECK(root_ != nullptr, "chat template: nothing parsed");
    try {
        renderer r(variables);
        std::string out;
        r.run(*root_, out);
        return out;
    } catch (const engine_error&) {
        throw;
    } catch (const std::exception& e) {
        RL_THROW(std::string("chat template: ") + e.what());
    }
}

} // namespace rl::jinja
