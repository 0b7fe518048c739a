// spm_tokenizer: SentencePiece BPE over UTF-8 characters. Adjacent pairs whose concatenation
// is a vocabulary token merge, highest token score first (ties: leftmost); characters that
// never form a token fall back to <0xXX> byte tokens. Matches llama.cpp's llm_tokenizer_spm,
// including where it puts the prefix space (at the start and after every special token).
#include "tokenizer/spm_tokenizer.h"

#include "gguf/gguf_file.h"
#include "tokenizer/pretokenizer.h"

#include <queue>

namespace rl {

namespace {

constexpr std::string_view k_space_mark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

struct symbol {
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
    int prev;
    int next;
};

struct bigram {
    float score;
    int left, right;
    uint32_t size;  // bytes of the merged text; a different sum now means the pair is stale
};

struct bigram_after {  // highest score first, then leftmost
    bool operator()(const bigram& a, const bigram& b) const {
        return a.score != b.score ? a.score < b.score : a.left > b.left;
    }
};

std::string escape_spaces(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    for (const char c : text) {
        if (c == ' ') out += k_space_mark;
        else out += c;
    }
    return out;
}

} // namespace

spm_tokenizer::spm_tokenizer(const gguf_file& f) {
    special_defaults d;  // llama.cpp's defaults for "llama" vocabularies
    d.bos = 1;
    d.eos = 2;
    d.unk = 0;
    d.add_bos = true;
    load_vocab(f, d);
    add_space_prefix_ = f.get_bool_or("tokenizer.ggml.add_space_prefix", true);

    static constexpr char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const char name[] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        int32_t id = find_token(std::string_view(name, sizeof(name)));
        if (id < 0) {
            const char raw = static_cast<char>(b);
            id = find_token(std::string_view(&raw, 1));
        }
        byte_ids_[static_cast<size_t>(b)] = id;
    }
}

void spm_tokenizer::encode_text(const std::string& text, std::vector<int32_t>& out) const {
    std::vector<symbol> syms;
    syms.reserve(text.size());
    for (size_t at = 0; at < text.size();) {
        const size_t n = std::min(utf8_len(static_cast<uint8_t>(text[at])), text.size() - at);
        const int idx = static_cast<int>(syms.size());
        syms.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(n), idx - 1, -1});
        if (idx > 0) syms[static_cast<size_t>(idx - 1)].next = idx;
        at += n;
    }

    std::priority_queue<bigram, std::vector<bigram>, bigram_after> queue;
    const auto try_pair = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const symbol& a = syms[static_cast<size_t>(l)];
        const symbol& b = syms[static_cast<size_t>(r)];
        const int32_t id = find_token(std::string_view(text).substr(a.start, a.len + b.len));
        if (id >= 0) queue.push({scores_[static_cast<size_t>(id)], l, r, a.len + b.len});
    };
    for (int i = 1; i < static_cast<int>(syms.size()); ++i) try_pair(i - 1, i);

    while (!queue.empty()) {
        const bigram b = queue.top();
        queue.pop();
        symbol& l = syms[static_cast<size_t>(b.left)];
        symbol& r = syms[static_cast<size_t>(b.right)];
        if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;  // stale
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = b.left;
        try_pair(l.prev, b.left);
        try_pair(b.left, l.next);
    }

    // Merged symbols are tokens by construction; single characters may not be.
    for (int i = 0; i >= 0 && !syms.empty(); i = syms[static_cast<size_t>(i)].next) {
        const symbol& s = syms[static_cast<size_t>(i)];
        const std::string_view t = std::string_view(text).substr(s.start, s.len);
        const int32_t id = find_token(t);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        for (const char c : t) {
            const int32_t bid = byte_ids_[static_cast<uint8_t>(c)];
            if (bid >= 0) out.push_back(bid);
            else if (unk_ >= 0) out.push_back(unk_);
        }
    }
}

std::vector<int32_t> spm_tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && bos_ >= 0) out.push_back(bos_);
    // SentencePiece sees each stretch of text on its own, so like llama.cpp we give a prefix
    // space to the first stretch and to every one that follows a special token.
    bool after_special = true;
    for (const fragment& fr : split_special(text, parse_special)) {
        if (fr.token >= 0) {
            out.push_back(fr.token);
            after_special = true;
            continue;
        }
        std::string escaped = add_space_prefix_ && after_special ? std::string(k_space_mark) : std::string();
        escaped += escape_spaces(fr.text);
        encode_text(escaped, out);
        after_special = false;
    }
    return out;
}

std::string spm_tokenizer::token_to_piece(int32_t id) const {
    if (!valid(id)) return {};
    const std::string& t = texts_[static_cast<size_t>(id)];
    switch (attrs_[static_cast<size_t>(id)]) {
    case token_attr::control:
    case token_attr::unknown:
    case token_attr::user_defined:
        return t;
    case token_attr::normal: {
        std::string out;
        out.reserve(t.size());
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, k_space_mark.size(), k_space_mark) == 0) {
                out += ' ';
                i += k_space_mark.size();
            } else {
                out += t[i++];
            }
        }
        return out;
    }
    case token_attr::byte: {
        const int b = byte_token_value(t);
        return b < 0 ? std::string() : std::string(1, static_cast<char>(b));
    }
    case token_attr::unused:
        break;
    }
    return {};
}

} // namespace rl
