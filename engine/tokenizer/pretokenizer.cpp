// pretokenizer: hand-written equivalents of llama.cpp's pre-tokenizer regexes. Each splitter
// walks codepoints with their unicode flags and cuts the text into words; llama.cpp chains
// several regexes for some models, so splitters run as passes over the previous pass's words.
// Boundaries must match llama.cpp exactly, including its quirks (e.g. `\s+(?!\S)` keeps all
// of a whitespace run when it ends the text), or the BPE ids drift.
#include "tokenizer/pretokenizer.h"

#include "common/engine_error.h"
#include "tokenizer/unicode_data.h"

namespace rl {

namespace {

using namespace rl::unicode;

constexpr uint32_t k_replacement = 0xFFFD;
constexpr uint32_t k_outside = 0xFFFFFFFF;  // "codepoint" past the end of a word
constexpr uint16_t k_lnw = flag_letter | flag_number | flag_whitespace;

// Codepoints with their flags, and the current split as word lengths (in codepoints).
struct split_state {
    std::vector<uint32_t> cpts;
    std::vector<uint16_t> flags;
    std::vector<size_t> lengths;
};

// One word [b, e) being cut into pieces; lookups past the word read as "nothing there".
class cutter {
public:
    cutter(const split_state& s, size_t b, size_t e, std::vector<size_t>& out)
        : s_(s), e_(e), start_(b), out_(out) {}
    uint32_t cpt(size_t i) const { return i < e_ ? s_.cpts[i] : k_outside; }
    uint16_t flags(size_t i) const { return i < e_ ? s_.flags[i] : 0; }
    bool inside(size_t i) const { return i < e_; }
    // Ends the current piece at `end` (empty pieces are dropped).
    void cut(size_t end) {
        if (end > start_) out_.push_back(end - start_);
        start_ = end;
    }

private:
    const split_state& s_;
    size_t e_;
    size_t start_;
    std::vector<size_t>& out_;
};

uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// 's 't 're 've 'm 'll 'd at pos; returns the length matched (0 if none).
size_t contraction_len(const cutter& w, size_t pos, bool any_case) {
    if (w.cpt(pos) != '\'' || !w.inside(pos + 1)) return 0;
    const auto low = [&](size_t i) { return any_case ? ascii_lower(w.cpt(i)) : w.cpt(i); };
    const uint32_t a = low(pos + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (!w.inside(pos + 2)) return 0;
    const uint32_t b = low(pos + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// gpt2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const split_state& s, size_t b, size_t e, std::vector<size_t>& out) {
    cutter w(s, b, e, out);
    size_t pos = b;
    while (pos < e) {
        if (const size_t n = contraction_len(w, pos, false)) {
            pos += n;
            w.cut(pos);
            continue;
        }
        const bool space = w.cpt(pos) == ' ';
        const uint16_t f = space ? w.flags(pos + 1) : w.flags(pos);
        // An optional space, then a run of one class: letters, numbers, or "other" (anything
        // inside the word that is neither letter, number nor whitespace).
        uint16_t run_class = 0;
        if (f & flag_letter) run_class = flag_letter;
        else if (f & flag_number) run_class = flag_number;
        else if (!(f & k_lnw) && f) run_class = 0xFFFF;
        if (run_class) {
            pos += space;
            const auto in_run = [&](uint16_t g) {
                return run_class == 0xFFFF ? (!(g & k_lnw) && g) : (g & run_class) != 0;
            };
            while (in_run(w.flags(pos))) ++pos;
            w.cut(pos);
            continue;
        }
        size_t n_ws = 0;
        while (w.flags(pos + n_ws) & flag_whitespace) ++n_ws;
        if (n_ws > 1 && w.inside(pos + n_ws)) {
            pos += n_ws - 1;  // \s+(?!\S): leave the last space to prefix the next word
        } else if (n_ws > 0) {
            pos += n_ws;
        } else {
            ++pos;
        }
        w.cut(pos);
    }
}

// llama3 / qwen2 (max_digits 3 / 1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// qwen35 is qwen2 with marks counted as letters: [\p{L}\p{M}]+ and [^\s\p{L}\p{M}\p{N}]+ (letters =
// flag_letter | flag_accent_mark); the optional prefix still excludes only \p{L} and \p{N}.
void split_llama3(const split_state& s, size_t b, size_t e, size_t max_digits, std::vector<size_t>& out,
                  uint16_t letters = flag_letter) {
    const uint16_t lnw = letters | flag_number | flag_whitespace;
    cutter w(s, b, e, out);
    size_t pos = b;
    const auto is_crlf = [](uint32_t c) { return c == '\r' || c == '\n'; };
    while (pos < e) {
        if (const size_t n = contraction_len(w, pos, true)) {
            pos += n;
            w.cut(pos);
            continue;
        }
        const uint32_t c = w.cpt(pos);
        const uint16_t f = w.flags(pos);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (!is_crlf(c) && !(f & flag_number) && ((f & letters) || (w.flags(pos + 1) & letters))) {
            ++pos;
            while (w.flags(pos) & letters) ++pos;
            w.cut(pos);
            continue;
        }
        // \p{N}{1,max}: a long digit run becomes several words
        if (f & flag_number) {
            size_t run = 0;
            while (w.flags(pos) & flag_number) {
                ++pos;
                if (++run == max_digits) {
                    w.cut(pos);
                    run = 0;
                }
            }
            w.cut(pos);
            continue;
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        const uint16_t f2 = c == ' ' ? w.flags(pos + 1) : f;
        if (!(f2 & lnw) && f) {
            pos += (c == ' ');
            while (!(w.flags(pos) & lnw) && w.flags(pos)) ++pos;
            while (is_crlf(w.cpt(pos))) ++pos;
            w.cut(pos);
            continue;
        }
        size_t n_ws = 0;
        size_t after_last_crlf = 0;  // 0: the run has no \r or \n
        while (w.flags(pos + n_ws) & flag_whitespace) {
            if (is_crlf(w.cpt(pos + n_ws))) after_last_crlf = pos + n_ws + 1;
            ++n_ws;
        }
        if (after_last_crlf) {
            pos = after_last_crlf;  // \s*[\r\n]+
        } else if (n_ws > 1 && w.inside(pos + n_ws)) {
            pos += n_ws - 1;        // \s+(?!\S)
        } else if (n_ws > 0) {
            pos += n_ws;            // \s+
        } else {
            ++pos;
        }
        w.cut(pos);
    }
}

// Isolates maximal runs of codepoints matching `pred` (with `single`, each match on its own),
// the way a std::regex split keeps both the matches and the text between them.
template <typename Pred>
void isolate_runs(const split_state& s, size_t b, size_t e, bool single, Pred pred, std::vector<size_t>& out) {
    cutter w(s, b, e, out);
    size_t pos = b;
    while (pos < e) {
        if (!pred(s.cpts[pos], s.flags[pos])) {
            ++pos;
            continue;
        }
        w.cut(pos);
        do ++pos; while (!single && pos < e && pred(s.cpts[pos], s.flags[pos]));
        w.cut(pos);
    }
    w.cut(e);
}

// [0-9][0-9][0-9]: isolates each leftmost group of exactly three ASCII digits; shorter
// leftovers stay attached to the text around them, as with a regex split.
void isolate_digit_triples(const split_state& s, size_t b, size_t e, std::vector<size_t>& out) {
    cutter w(s, b, e, out);
    const auto digit = [&](size_t i) { return i < e && s.cpts[i] >= '0' && s.cpts[i] <= '9'; };
    size_t pos = b;
    while (pos < e) {
        if (digit(pos) && digit(pos + 1) && digit(pos + 2)) {
            w.cut(pos);
            pos += 3;
            w.cut(pos);
        } else {
            ++pos;
        }
    }
    w.cut(e);
}

// Runs one pass over every current word, replacing the split.
template <typename Fn>
void pass(split_state& s, Fn&& fn) {
    std::vector<size_t> next;
    next.reserve(s.lengths.size() * 2);
    size_t b = 0;
    for (const size_t len : s.lengths) {
        fn(b, b + len, next);
        b += len;
    }
    s.lengths = std::move(next);
}

bool is_number(uint32_t, uint16_t f) { return (f & flag_number) != 0; }
// [\p{P}\$\+<=>\^~\|]
bool is_default_punct(uint32_t c, uint16_t f) {
    return (f & flag_punctuation) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' ||
           c == '~' || c == '|';
}

} // namespace

std::vector<uint32_t> utf8_to_cpts(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    const auto cont = [&](size_t i) { return i < s.size() && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80; };
    size_t i = 0;
    while (i < s.size()) {
        const uint8_t c = static_cast<uint8_t>(s[i]);
        // Like llama.cpp: structure only (lead byte and continuation bytes), no overlong checks.
        if (c < 0x80) {
            out.push_back(c);
            i += 1;
        } else if ((c & 0xE0) == 0xC0 && cont(i + 1)) {
            out.push_back((uint32_t(c & 0x1F) << 6) | (s[i + 1] & 0x3F));
            i += 2;
        } else if ((c & 0xF0) == 0xE0 && cont(i + 1) && cont(i + 2)) {
            out.push_back((uint32_t(c & 0x0F) << 12) | (uint32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F));
            i += 3;
        } else if ((c & 0xF8) == 0xF0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
            out.push_back((uint32_t(c & 0x07) << 18) | (uint32_t(s[i + 1] & 0x3F) << 12) |
                          (uint32_t(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F));
            i += 4;
        } else {
            out.push_back(k_replacement);
            i += 1;
        }
    }
    return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
    if (cpt < 0x80) {
        out += static_cast<char>(cpt);
    } else if (cpt < 0x800) {
        out += static_cast<char>(0xC0 | (cpt >> 6));
        out += static_cast<char>(0x80 | (cpt & 0x3F));
    } else if (cpt < 0x10000) {
        out += static_cast<char>(0xE0 | (cpt >> 12));
        out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cpt & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | ((cpt >> 18) & 0x07));
        out += static_cast<char>(0x80 | ((cpt >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cpt & 0x3F));
    }
}

pretokenizer_info pretokenizer_from_name(const std::string& name) {
    using k = pretokenizer_kind;
    pretokenizer_info info;
    if (name.empty() || name == "default") {
        info.kind = k::fallback;
    } else if (name == "gpt-2" || name == "gpt2") {
        info.kind = k::gpt2;
    } else if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") {
        info.kind = k::llama3;
        info.ignore_merges = true;
        info.add_bos = true;
    } else if (name == "qwen2") {
        info.kind = k::qwen2;
        info.clean_spaces = false;
    } else if (name == "qwen35") {
        info.kind = k::qwen35;
        info.clean_spaces = false;
    } else if (name == "smollm") {
        info.kind = k::smollm;
        info.clean_spaces = false;
    } else {
        RL_THROW("unsupported tokenizer pre-tokenizer '" + name + "'");
    }
    return info;
}

std::vector<std::string> pretokenize(std::string_view text, pretokenizer_kind kind) {
    split_state s;
    s.cpts = utf8_to_cpts(text);
    if (s.cpts.empty()) return {};
    s.flags.resize(s.cpts.size());
    for (size_t i = 0; i < s.cpts.size(); ++i) s.flags[i] = flags_of(s.cpts[i]);
    s.lengths = {s.cpts.size()};

    const auto gpt2 = [&](size_t b, size_t e, std::vector<size_t>& o) { split_gpt2(s, b, e, o); };
    switch (kind) {
    case pretokenizer_kind::gpt2:
        pass(s, gpt2);
        break;
    case pretokenizer_kind::smollm:
        pass(s, [&](size_t b, size_t e, std::vector<size_t>& o) { isolate_runs(s, b, e, true, is_number, o); });
        pass(s, gpt2);
        break;
    case pretokenizer_kind::llama3:
        pass(s, [&](size_t b, size_t e, std::vector<size_t>& o) { split_llama3(s, b, e, 3, o); });
        break;
    case pretokenizer_kind::qwen2:
        pass(s, [&](size_t b, size_t e, std::vector<size_t>& o) { split_llama3(s, b, e, 1, o); });
        break;
    case pretokenizer_kind::qwen35:
        pass(s, [&](size_t b, size_t e, std::vector<size_t>& o) {
            split_llama3(s, b, e, 1, o, flag_letter | flag_accent_mark);
        });
        break;
    case pretokenizer_kind::fallback:
        pass(s, [&](size_t b, size_t e, std::vector<size_t>& o) { isolate_runs(s, b, e, false, is_default_punct, o); });
        pass(s, gpt2);
        pass(s, [&](size_t b, size_t e, std::vector<size_t>& o) { isolate_runs(s, b, e, false, is_number, o); });
        pass(s, [&](size_t b, size_t e, std::vector<size_t>& o) { isolate_digit_triples(s, b, e, o); });
        break;
    }

    std::vector<std::string> words;
    words.reserve(s.lengths.size());
    size_t b = 0;
    for (const size_t len : s.lengths) {
        std::string word;
        for (size_t i = b; i < b + len; ++i) append_utf8(word, s.cpts[i]);
        words.push_back(std::move(word));
        b += len;
    }
    return words;
}

} // namespace rl
