// jinja_parse.cpp: the pieces and tokens of jinja_lex.h -> node tree. Each tag's expression is
// parsed with Jinja's precedence: conditional < or < and < not < comparison < + - < ~ < * / // % < ** <
// unary < filters and tests < postfix (attribute, subscript, call).
#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_lex.h"

#include "common/engine_error.h"

#include <cctype>
#include <algorithm>
#include <set>

namespace rl::jinja {
namespace {

class expr_parser {
public:
    expr_parser(const std::string& s, int line) : t_(lex(s, line)), line_(line) {}

    // The token `off` ahead, the end token past the end: no read runs off the token list.
    const token& peek(size_t off) const { return t_[std::min(p_ + off, t_.size() - 1)]; }
    // The current token, then one on (never past the end token).
    const token& advance() {
        const token& t = peek(0);
        if (p_ + 1 < t_.size()) ++p_;
        return t;
    }

    bool at_end() const { return peek(0).k == token::end; }
    bool is_op(const char* o) const { return peek(0).k == token::op && peek(0).s == o; }
    bool is_name(const char* n) const { return peek(0).k == token::name && peek(0).s == n; }
    bool eat_op(const char* o) { return is_op(o) ? (++p_, true) : false; }
    bool eat_name(const char* n) { return is_name(n) ? (++p_, true) : false; }
    void expect_op(const char* o) {
        if (!eat_op(o)) fail(line_, std::string("expected '") + o + "', found '" + peek(0).s + "'");
    }
    std::string take_name() {
        if (peek(0).k != token::name) fail(line_, "expected a name, found '" + peek(0).s + "'");
        return advance().s;
    }
    void expect_end() {
        if (!at_end()) fail(line_, "unexpected '" + peek(0).s + "'");
    }

    expr_ptr expression() {   // a if b else c
        // A template is untrusted input (it comes with the model file): bound the recursion.
        struct depth_guard {
            int& d;
            depth_guard(int& d, int line) : d(d) {
                if (++d > 100) fail(line, "expression nested too deeply");
            }
            ~depth_guard() { --d; }
        } guard(depth_, line_);
        expr_ptr x = or_expr();
        while (is_name("if")) {
            ++p_;
            expr_ptr c = or_expr();
            expr_ptr e = eat_name("else") ? expression() : nullptr;
            auto n = make(expr::cond);
            adopt(*n, std::move(x));
            adopt(*n, std::move(c));
            adopt(*n, std::move(e));
            x = std::move(n);
        }
        return x;
    }
    /// An expression without the trailing "if": a for loop's iterable, before its filter.
    expr_ptr or_expr() {
        expr_ptr x = and_expr();
        while (eat_name("or")) x = binary("or", std::move(x), and_expr());
        return x;
    }

private:
    // Adds a kid (null allowed: an absent slice part), keeping the node's depth: a long chain
    // (1 + 1 + ... or x | f | f | ...) is as deep as its length, and evaluating or freeing a tree
    // deeper than the stack allows would crash.
    void adopt(expr& parent, expr_ptr kid) {
        if (kid) {
            parent.depth = std::max(parent.depth, kid->depth + 1);
            if (parent.depth > 200) fail(line_, "expression nested too deeply");
        }
        parent.kids.push_back(std::move(kid));
    }
    expr_ptr make(expr::kind k) {
        auto e = std::make_unique<expr>();
        e->k = k;
        e->line = line_;
        return e;
    }
    expr_ptr binary(const std::string& op, expr_ptr a, expr_ptr b) {
        auto n = make(expr::binary);
        n->name = op;
        adopt(*n, std::move(a));
        adopt(*n, std::move(b));
        return n;
    }
    expr_ptr and_expr() {
        expr_ptr x = not_expr();
        while (eat_name("and")) x = binary("and", std::move(x), not_expr());
        return x;
    }
    expr_ptr not_expr() {
        if (eat_name("not")) {
            if (++depth_ > 100) fail(line_, "expression nested too deeply");
            auto n = make(expr::unary);
            n->name = "not";
            adopt(*n, not_expr());
            --depth_;
            return n;
        }
        return compare();
    }
    expr_ptr compare() {   // a < b < c is a < b and b < c, as in Python
        expr_ptr x = math1();
        expr_ptr chain;
        for (;;) {
            std::string op;
            if (peek(0).k == token::op && (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") || is_op(">=")))
                op = advance().s;
            else if (eat_name("in")) op = "in";
            else if (is_name("not") && peek(1).k == token::name && peek(1).s == "in") p_ += 2, op = "not in";
            else break;
            if (!chain) {
                chain = make(expr::compare);
                adopt(*chain, std::move(x));
            }
            chain->arg_names.push_back(op);
            adopt(*chain, math1());
        }
        return chain ? std::move(chain) : std::move(x);
    }
    expr_ptr math1() {
        expr_ptr x = concat();
        while (is_op("+") || is_op("-")) {
            const std::string op = advance().s;
            x = binary(op, std::move(x), concat());
        }
        return x;
    }
    expr_ptr concat() {
        expr_ptr x = math2();
        while (eat_op("~")) x = binary("~", std::move(x), math2());
        return x;
    }
    expr_ptr math2() {
        expr_ptr x = power();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const std::string op = advance().s;
            x = binary(op, std::move(x), power());
        }
        return x;
    }
    expr_ptr power() {
        expr_ptr x = unary();
        while (eat_op("**")) x = binary("**", std::move(x), unary());
        return x;
    }
    expr_ptr unary(bool with_filters = true) {   // as Jinja: -3 | abs is (-3) | abs
        expr_ptr x;
        if (is_op("-") || is_op("+")) {
            if (++depth_ > 100) fail(line_, "expression nested too deeply");
            x = make(expr::unary);
            x->name = advance().s;
            adopt(*x, unary(false));
            --depth_;
        } else {
            x = postfix(primary());
        }
        return with_filters ? filters(std::move(x)) : std::move(x);
    }
    void arguments(expr& call) {   // after "(": a, b, name=c )
        while (!eat_op(")")) {
            if (peek(0).k == token::name && peek(1).k == token::op && peek(1).s == "=") {
                call.arg_names.push_back(peek(0).s);
                p_ += 2;
            } else {
                call.arg_names.emplace_back();
            }
            adopt(call, expression());
            if (!is_op(")")) expect_op(",");
        }
    }
    expr_ptr filters(expr_ptr x) {
        for (;;) {
            if (eat_op("|")) {
                auto f = make(expr::filter);
                f->name = take_name();
                adopt(*f, std::move(x));
                f->arg_names.emplace_back();   // the operand's slot: arguments line up with kids
                if (eat_op("(")) arguments(*f);
                x = std::move(f);
            } else if (eat_name("is")) {
                auto t = make(expr::test);
                t->negate = eat_name("not");
                if (at_end()) fail(line_, "expected a test name after 'is'");
                t->name = peek(0).k == token::name ? take_name() : advance().s;   // "==" etc. too
                adopt(*t, std::move(x));
                t->arg_names.emplace_back();
                if (eat_op("(")) {
                    arguments(*t);
                } else if (peek(0).k == token::string || peek(0).k == token::integer || peek(0).k == token::number ||
                           (peek(0).k == token::name && !is_name("and") && !is_name("or") && !is_name("if") &&
                            !is_name("else") && !is_name("is") && !is_name("in") && !is_name("not"))) {
                    t->arg_names.emplace_back();   // "is divisibleby 3", "is equalto x"
                    adopt(*t, primary());
                }
                x = std::move(t);
            } else {
                return x;
            }
        }
    }
    expr_ptr postfix(expr_ptr x) {
        for (;;) {
            if (eat_op(".")) {
                auto a = make(expr::attr);
                a->name = peek(0).k == token::integer ? advance().s : take_name();
                adopt(*a, std::move(x));
                x = std::move(a);
            } else if (eat_op("[")) {
                expr_ptr parts[3];
                int colons = 0;
                while (!is_op("]")) {
                    if (eat_op(":")) {
                        if (++colons > 2) fail(line_, "too many ':' in a subscript");
                    } else {
                        if (parts[colons]) fail(line_, "expected ':' or ']' in a subscript");
                        parts[colons] = expression();
                    }
                }
                expect_op("]");
                auto n = make(colons ? expr::slice : expr::index);
                adopt(*n, std::move(x));
                if (!colons && !parts[0]) fail(line_, "empty subscript");
                for (int j = 0; j < (colons ? 3 : 1); ++j) adopt(*n, std::move(parts[j]));
                x = std::move(n);
            } else if (eat_op("(")) {
                auto c = make(expr::call);
                adopt(*c, std::move(x));
                c->arg_names.emplace_back();   // the callee's slot
                arguments(*c);
                x = std::move(c);
            } else {
                return x;
            }
        }
    }
    expr_ptr primary() {
        const token& t = peek(0);
        if (t.k == token::string) {
            std::string s = advance().s;
            while (peek(0).k == token::string) s += advance().s;   // "a" "b": implicit concatenation
            auto n = make(expr::literal);
            n->lit = value(s);
            return n;
        }
        if (t.k == token::integer || t.k == token::number) {
            auto n = make(expr::literal);
            n->lit = t.k == token::integer ? value(t.i) : value(t.d);
            ++p_;
            return n;
        }
        if (t.k == token::name) {
            const std::string s = advance().s;
            auto n = make(expr::literal);
            if (s == "true" || s == "True") n->lit = value(true);
            else if (s == "false" || s == "False") n->lit = value(false);
            else if (s == "none" || s == "None") n->lit = value::none();
            else n->k = expr::variable, n->name = s;
            return n;
        }
        if (eat_op("(")) {
            expr_ptr x = expression();
            if (is_op(",")) {   // a tuple: a list for our purposes
                auto l = make(expr::list);
                adopt(*l, std::move(x));
                while (eat_op(",") && !is_op(")")) adopt(*l, expression());
                l->negate = true;   // a tuple literal (printed with parentheses)
                x = std::move(l);
            }
            expect_op(")");
            return x;
        }
        if (eat_op("[")) {
            auto l = make(expr::list);
            while (!eat_op("]")) {
                adopt(*l, expression());
                if (!is_op("]")) expect_op(",");
            }
            return l;
        }
        if (eat_op("{")) {
            auto d = make(expr::dict);
            while (!eat_op("}")) {
                adopt(*d, expression());
                expect_op(":");
                adopt(*d, expression());
                if (!is_op("}")) expect_op(",");
            }
            return d;
        }
        fail(line_, t.k == token::end ? "expression expected" : "unexpected '" + t.s + "'");
    }

    std::vector<token> t_;
    size_t p_ = 0;
    int line_;
    int depth_ = 0;
};

// ---- statements ----

class block_parser {
public:
    explicit block_parser(std::vector<piece> p) : p_(std::move(p)) {}

    // Parses until one of `ends` (a block tag's first word) or the end; *stop gets that tag's
    // parser positioned after the word, or is left empty at the end of the source.
    node_ptr body(const std::set<std::string>& ends, std::string* stop, std::unique_ptr<expr_parser>* rest) {
        auto seq = std::make_unique<node>();
        seq->k = node::sequence;
        while (i_ < p_.size()) {
            const piece& pc = p_[i_++];
            if (pc.k == piece::text) {
                auto t = std::make_unique<node>();
                t->k = node::raw;
                t->text = pc.s;
                seq->children.push_back(std::move(t));
                continue;
            }
            auto ep = std::make_unique<expr_parser>(pc.s, pc.line);
            if (pc.k == piece::output) {
                auto o = std::make_unique<node>();
                o->k = node::output;
                o->line = pc.line;
                o->e = ep->expression();
                ep->expect_end();
                seq->children.push_back(std::move(o));
                continue;
            }
            const std::string word = ep->take_name();
            if (ends.count(word)) {
                if (stop) *stop = word;
                if (rest) *rest = std::move(ep);
                return seq;
            }
            seq->children.push_back(statement(word, *ep, pc.line));
        }
        if (!ends.empty()) fail(p_.empty() ? 1 : p_.back().line, "missing {% " + *ends.begin() + " %}");
        return seq;
    }

private:
    node_ptr statement(const std::string& word, expr_parser& ep, int line) {
        if (++depth_ > 100) fail(line, "blocks nested too deeply");
        struct leave {
            int& d;
            ~leave() { --d; }
        } guard{depth_};
        auto n = std::make_unique<node>();
        n->line = line;
        std::string stop;
        std::unique_ptr<expr_parser> rest;
        if (word == "if") {
            n->k = node::if_;
            expr_ptr cond = ep.expression();
            ep.expect_end();
            for (;;) {
                node_ptr b = body({"elif", "else", "endif"}, &stop, &rest);
                n->branches.emplace_back(std::move(cond), std::move(b));
                if (stop == "endif") break;
                if (stop == "else") {
                    rest->expect_end();
                    n->branches.emplace_back(nullptr, body({"endif"}, &stop, &rest));
                    break;
                }
                cond = rest->expression();
                rest->expect_end();
            }
        } else if (word == "for") {
            n->k = node::for_;
            do n->targets.push_back(ep.take_name());
            while (ep.eat_op(","));
            if (!ep.eat_name("in")) fail(line, "expected 'in' in a for loop");
            n->e = ep.or_expr();
            if (ep.eat_name("if")) n->filter = ep.or_expr();
            ep.eat_name("recursive");
            ep.expect_end();
            ++loops_;
            n->body = body({"else", "endfor"}, &stop, &rest);
            --loops_;
            if (stop == "else") n->else_body = body({"endfor"}, &stop, &rest);
        } else if (word == "set") {
            n->targets.push_back(ep.take_name());
            if (ep.eat_op(".")) n->targets.push_back(ep.take_name());
            if (ep.eat_op("=")) {
                n->k = node::set;
                n->e = ep.expression();
                ep.expect_end();
            } else {
                ep.expect_end();
                n->k = node::set_block;
                n->body = body({"endset"}, &stop, &rest);
            }
        } else if (word == "macro") {
            n->k = node::macro;
            n->targets.push_back(ep.take_name());
            ep.expect_op("(");
            while (!ep.eat_op(")")) {
                n->params.push_back(ep.take_name());
                n->defaults.push_back(ep.eat_op("=") ? ep.expression() : nullptr);
                if (!ep.is_op(")")) ep.expect_op(",");
            }
            ep.expect_end();
            const int outer_loops = loops_;   // a macro's body is not inside the caller's loop
            loops_ = 0;
            n->body = body({"endmacro"}, &stop, &rest);
            loops_ = outer_loops;
        } else if (word == "break" || word == "continue") {   // jinja2.ext.loopcontrols, which HF enables
            if (loops_ == 0) fail(line, "'" + word + "' outside a loop");
            n->k = word == "break" ? node::break_ : node::continue_;
        } else if (word == "generation") {   // a training-time marker some templates carry: its body renders
            n->k = node::sequence;
            n->children.push_back(body({"endgeneration"}, &stop, &rest));
        } else {
            fail(line, "unsupported tag {% " + word + " %}");
        }
        if (rest) rest->expect_end();
        return n;
    }

    std::vector<piece> p_;
    size_t i_ = 0;
    int depth_ = 0;
    int loops_ = 0;   // for bodies being parsed: where break and continue may stand
};

} // namespace

node_ptr parse_template(const std::string& source) {
    block_parser bp(split(source));
    return bp.body({}, nullptr, nullptr);
}

} // namespace rl::jinja
