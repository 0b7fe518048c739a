// jinja_ast: the parsed form of a template (jinja_parse.cpp makes it, jinja_eval.cpp walks it).
#pragma once
#include "tokenizer/jinja_value.h"

#include <memory>
#include <string>
#include <vector>

namespace rl::jinja {

struct expr {
    enum kind { literal, variable, attr, index, slice, call, filter, test, unary, binary, compare, cond, list, dict };
    kind k = literal;
    int line = 0;
    int depth = 1;                            // levels below and including this node
    value lit;                                // literal
    std::string name;                         // name, attr, filter, test, unary/binary operator
                                              // (compare: kids are operands, arg_names the operators)
    std::vector<std::unique_ptr<expr>> kids;  // see parse: operand first, then arguments
    std::vector<std::string> arg_names;       // call/filter/test: per kid, "" when positional
    bool negate = false;                      // test: "is not"; list: a tuple literal
};
using expr_ptr = std::unique_ptr<expr>;

struct node {
    enum kind { sequence, raw, output, if_, for_, set, set_block, macro, break_, continue_ };
    kind k = sequence;
    int line = 0;
    std::string text;
    std::vector<std::unique_ptr<node>> children;                       // sequence
    std::vector<std::pair<expr_ptr, std::unique_ptr<node>>> branches;  // if: (condition or null for else, body)
    expr_ptr e;                                                        // output, set, for: the iterable
    std::vector<std::string> targets;  // for: loop variables; set: name [, attribute]; macro: name
    expr_ptr filter;                   // for ... if filter
    std::unique_ptr<node> body, else_body;
    std::vector<std::string> params;   // macro parameters
    std::vector<expr_ptr> defaults;    // macro defaults, null where none
};
using node_ptr = std::unique_ptr<node>;

node_ptr parse_template(const std::string& source);

} // namespace rl::jinja
