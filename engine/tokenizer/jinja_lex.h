// jinja_lex: the first two stages of reading a template (jinja_lex.cpp): the source cut into text
// and tags, and a tag's expression cut into tokens. jinja_parse.cpp builds the tree from them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rl::jinja {

[[noreturn]] void fail(int line, const std::string& what);   // engine_error "chat template, line N: ..."

struct piece {
    enum kind { text, output, block } k;
    std::string s;
    int line;
};
/// The source as text, {{ output }} and {% block %} pieces (comments dropped), whitespace rules applied.
std::vector<piece> split(const std::string& src);

struct token {
    enum kind { name, string, integer, number, op, end } k;
    std::string s;
    int64_t i = 0;
    double d = 0;
};
/// A tag's expression as tokens, ending with an `end` token.
std::vector<token> lex(const std::string& s, int line);

} // namespace rl::jinja
