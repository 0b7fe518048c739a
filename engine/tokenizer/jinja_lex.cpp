// jinja_lex.cpp: template source -> text and tags (with Jinja's whitespace rules as Hugging Face
// configures them: trim_blocks drops the newline after a block tag, lstrip_blocks the spaces
// before a block tag at the start of its line, "-" strips all whitespace on its side, "+" keeps
// it), and a tag's expression -> tokens. See jinja_lex.h.
#include "tokenizer/jinja_lex.h"

#include "common/engine_error.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace rl::jinja {

[[noreturn]] void fail(int line, const std::string& what) {
    RL_THROW("chat template, line " + std::to_string(line) + ": " + what);
}

namespace {
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

} // namespace

std::vector<piece> split(const std::string& source) {
    // As jinja2 reads a template: newlines normalised to "\n", one trailing newline dropped
    // (keep_trailing_newline is off).
    std::string src;
    src.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            src += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            src += source[i];
        }
    }
    if (!src.empty() && src.back() == '\n') src.pop_back();
    std::vector<piece> out;
    size_t pos = 0;
    int line = 1;
    bool strip_next = false;   // the previous tag ended with "-"
    auto count_lines = [&](size_t a, size_t b) {
        for (size_t i = a; i < b; ++i) line += src[i] == '\n';
    };
    while (pos <= src.size()) {
        size_t p = pos;
        for (;; ++p) {   // the next "{{", "{%" or "{#"
            p = src.find('{', p);
            if (p == std::string::npos || p + 1 >= src.size()) {
                p = std::string::npos;
                break;
            }
            if (src[p + 1] == '{' || src[p + 1] == '%' || src[p + 1] == '#') break;
        }
        std::string text = src.substr(pos, p == std::string::npos ? std::string::npos : p - pos);
        if (strip_next) {
            size_t i = 0;
            while (i < text.size() && is_ws(text[i])) ++i;
            text.erase(0, i);
            strip_next = false;
        }
        const int text_line = line;
        if (p == std::string::npos) {
            if (!text.empty()) out.push_back({piece::text, text, text_line});
            break;
        }
        count_lines(pos, p);
        const char t = src[p + 1];
        size_t q = p + 2;
        const bool strip_left = q < src.size() && src[q] == '-';
        const bool keep_left = q < src.size() && src[q] == '+';
        if (strip_left || keep_left) ++q;
        // The tag's end, outside string literals.
        const std::string close = t == '{' ? "}}" : t == '%' ? "%}" : "#}";
        size_t e = q;
        char quote = 0;
        int braces = 0;   // "{{ {'a': {'b': 1}} }}": a "}}" inside a dict literal does not end the tag
        for (; e + 1 < src.size(); ++e) {
            const char c = src[e];
            if (t != '#' && quote) {
                if (c == '\\') ++e;
                else if (c == quote) quote = 0;
            } else if (t != '#' && (c == '"' || c == '\'')) {
                quote = c;
            } else if (t != '#' && c == '{') {
                ++braces;
            } else if (braces > 0 && c == '}') {
                --braces;
            } else if (c == close[0] && src[e + 1] == close[1]) {
                break;
            }
        }
        if (e + 1 >= src.size()) fail(line, std::string("unclosed ") + (t == '{' ? "{{" : t == '%' ? "{%" : "{#"));
        const bool strip_right = e > q && src[e - 1] == '-';
        std::string body = src.substr(q, (strip_right ? e - 1 : e) - q);
        if (strip_left) {
            while (!text.empty() && is_ws(text.back())) text.pop_back();
        } else if (t != '{' && !keep_left) {   // lstrip_blocks: only a tag that starts its line
            size_t j = p;
            while (j > 0 && (src[j - 1] == ' ' || src[j - 1] == '\t')) --j;
            if (j == 0 || src[j - 1] == '\n')
                while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
        }
        if (!text.empty()) out.push_back({piece::text, text, text_line});
        if (t != '#') out.push_back({t == '{' ? piece::output : piece::block, body, line});
        count_lines(p, e + 2);
        pos = e + 2;
        if (strip_right) strip_next = true;
        else if (t != '{' && pos < src.size() && src[pos] == '\n') ++pos, ++line;   // trim_blocks
        else if (t != '{' && pos + 1 < src.size() && src[pos] == '\r' && src[pos + 1] == '\n') pos += 2, ++line;
    }
    return out;
}

// ---- expression tokens ----

std::vector<token> lex(const std::string& s, int line) {
    std::vector<token> out;
    size_t p = 0;
    while (p < s.size()) {
        const char c = s[p];
        if (is_ws(c)) {
            ++p;
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t q = p;
            while (q < s.size() && (std::isalnum(static_cast<unsigned char>(s[q])) || s[q] == '_')) ++q;
            out.push_back({token::name, s.substr(p, q - p)});
            p = q;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            size_t q = p;
            while (q < s.size() && (std::isdigit(static_cast<unsigned char>(s[q])) || s[q] == '_')) ++q;
            bool real = false;
            if (q + 1 < s.size() && s[q] == '.' && std::isdigit(static_cast<unsigned char>(s[q + 1]))) {
                real = true;
                for (++q; q < s.size() && std::isdigit(static_cast<unsigned char>(s[q])); ++q) {}
            }
            if (q < s.size() && (s[q] == 'e' || s[q] == 'E')) {   // 1e3, 1.5e-3
                size_t r = q + 1;
                if (r < s.size() && (s[r] == '+' || s[r] == '-')) ++r;
                if (r < s.size() && std::isdigit(static_cast<unsigned char>(s[r]))) {
                    real = true;
                    for (q = r; q < s.size() && std::isdigit(static_cast<unsigned char>(s[q])); ++q) {}
                }
            }
            std::string digits;
            for (size_t j = p; j < q; ++j)
                if (s[j] != '_') digits += s[j];
            token t{real ? token::number : token::integer, digits};
            errno = 0;
            if (real) t.d = std::strtod(digits.c_str(), nullptr);
            else t.i = std::strtoll(digits.c_str(), nullptr, 10);
            if (!real && errno == ERANGE) fail(line, "integer literal " + digits + " is too large");
            out.push_back(t);
            p = q;
        } else if (c == '"' || c == '\'') {
            std::string v;
            size_t q = p + 1;
            for (; q < s.size() && s[q] != c; ++q) {
                if (s[q] != '\\' || q + 1 >= s.size()) {
                    v += s[q];
                    continue;
                }
                const char n = s[++q];
                auto hex_escape = [&](size_t digits_n) {   // \xNN, \uNNNN, \UNNNNNNNN -> UTF-8
                    uint32_t cp = 0;
                    for (size_t j = 0; j < digits_n; ++j) {
                        const char h = q + 1 < s.size() ? s[++q] : '\0';
                        if (!std::isxdigit(static_cast<unsigned char>(h))) fail(line, "bad escape in a string");
                        cp = cp * 16 + uint32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 32) - 'a' + 10);
                    }
                    if (cp > 0x10FFFF) fail(line, "bad escape in a string");
                    if (cp < 0x80) v += char(cp);
                    else if (cp < 0x800) v += char(0xC0 | (cp >> 6)), v += char(0x80 | (cp & 63));
                    else if (cp < 0x10000) v += char(0xE0 | (cp >> 12)), v += char(0x80 | ((cp >> 6) & 63)), v += char(0x80 | (cp & 63));
                    else v += char(0xF0 | (cp >> 18)), v += char(0x80 | ((cp >> 12) & 63)), v += char(0x80 | ((cp >> 6) & 63)), v += char(0x80 | (cp & 63));
                };
                switch (n) {
                case 'x': hex_escape(2); break;
                case 'u': hex_escape(4); break;
                case 'U': hex_escape(8); break;
                case 'n': v += '\n'; break;
                case 't': v += '\t'; break;
                case 'r': v += '\r'; break;
                case '0': v += '\0'; break;
                case '\\': case '\'': case '"': v += n; break;
                default: v += '\\', v += n;
                }
            }
            if (q >= s.size()) fail(line, "unterminated string");
            out.push_back({token::string, v});
            p = q + 1;
        } else {
            static const char* const ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                              "=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|"};
            bool found = false;
            for (const char* o : ops) {
                const size_t n = std::char_traits<char>::length(o);
                if (s.compare(p, n, o) == 0) {
                    out.push_back({token::op, o});
                    p += n;
                    found = true;
                    break;
                }
            }
            if (!found) fail(line, std::string("unexpected character '") + c + "'");
        }
    }
    out.push_back({token::end, ""});
    return out;
}

} // namespace rl::jinja
