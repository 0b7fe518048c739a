// bpe_tokenizer: byte-level BPE. Text is split around special tokens, then into words by the
// pre-tokenizer; each word's bytes are spelled in GPT-2's printable byte alphabet and merged
// pair by pair, lowest merge rank first (ties: leftmost), exactly as llama.cpp's
// llm_tokenizer_bpe does. encode() keeps all state on the stack, so it is const and safe to
// call from several threads at once.
#include "tokenizer/bpe_tokenizer.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"

#include <array>
#include <queue>

namespace rl {

namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the rest are
// shifted to U+0100 and up, so every byte has a visible, whitespace-free character.
struct byte_alphabet {
    std::array<std::string, 256> spell;  // byte -> UTF-8 of its character
    std::array<int16_t, 512> byte_of;    // codepoint -> byte, -1 if not in the alphabet

    byte_alphabet() {
        byte_of.fill(-1);
        int shifted = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            const uint32_t cpt = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + shifted++);
            append_utf8(spell[static_cast<size_t>(b)], cpt);
            byte_of[cpt] = static_cast<int16_t>(b);
        }
    }
};

const byte_alphabet& alphabet() {
    static const byte_alphabet a;
    return a;
}

struct symbol {
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
    int prev;
    int next;
};

struct bigram {
    int rank;
    int left, right;
    uint32_t left_len, right_len;  // the symbols' lengths when queued; a change means stale
};

struct bigram_after {  // priority_queue puts the "largest" first: lowest rank, then leftmost
    bool operator()(const bigram& a, const bigram& b) const {
        return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
    }
};

} // namespace

bpe_tokenizer::bpe_tokenizer(const gguf_file& f) {
    pre_name_ = f.get_string_or("tokenizer.ggml.pre", "default");
    pre_ = pretokenizer_from_name(pre_name_);

    const gguf_value* merges = f.find("tokenizer.ggml.merges");
    RL_CHECK(merges != nullptr, "gpt2 tokenizer without tokenizer.ggml.merges");
    RL_CHECK(merges->type == gguf_value_type::array &&
                 (merges->as_array().empty() || merges->elem_type == gguf_value_type::string),
             "tokenizer.ggml.merges must be an array of strings");
    const gguf_array& m = merges->as_array();
    ranks_.reserve(m.size());
    std::string key;
    for (size_t i = 0; i < m.size(); ++i) {
        const std::string& line = m[i].as_string();
        // "left right"; searching from 1 lets a merge's left side be a lone space.
        const size_t sp = line.find(' ', 1);
        if (sp == std::string::npos) continue;
        key.assign(line, 0, sp);
        key += '\xFF';
        key.append(line, sp + 1);
        ranks_.emplace(key, static_cast<int>(i));  // a repeated pair keeps its first rank
    }

    special_defaults d;
    d.bos = 11;  // llama.cpp's defaults for BPE vocabularies without the keys
    d.eos = 11;
    d.add_bos = pre_.add_bos;
    load_vocab(f, d);
}

int bpe_tokenizer::merge_rank(std::string_view left, std::string_view right, std::string& key) const {
    key.assign(left);
    key += '\xFF';
    key.append(right);
    const auto it = ranks_.find(std::string_view(key));
    return it == ranks_.end() ? -1 : it->second;
}

void bpe_tokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
    if (pre_.ignore_merges) {  // llama3: a word that is itself a token is never split
        const int32_t id = find_token(word);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    std::vector<symbol> syms;
    syms.reserve(word.size());
    for (size_t at = 0; at < word.size();) {
        const size_t n = std::min(utf8_len(static_cast<uint8_t>(word[at])), word.size() - at);
        const int idx = static_cast<int>(syms.size());
        syms.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(n), idx - 1, -1});
        if (idx > 0) syms[static_cast<size_t>(idx - 1)].next = idx;
        at += n;
    }
    const auto text = [&](int i) {
        const symbol& s = syms[static_cast<size_t>(i)];
        return std::string_view(word).substr(s.start, s.len);
    };

    std::string key;
    std::priority_queue<bigram, std::vector<bigram>, bigram_after> queue;
    const auto try_pair = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const int rank = merge_rank(text(l), text(r), key);
        if (rank >= 0) queue.push({rank, l, r, syms[static_cast<size_t>(l)].len, syms[static_cast<size_t>(r)].len});
    };
    for (int i = 1; i < static_cast<int>(syms.size()); ++i) try_pair(i - 1, i);

    while (!queue.empty()) {
        const bigram b = queue.top();
        queue.pop();
        symbol& l = syms[static_cast<size_t>(b.left)];
        symbol& r = syms[static_cast<size_t>(b.right)];
        // Stale: one side has merged with something else since this pair was queued.
        if (l.len != b.left_len || r.len != b.right_len || r.len == 0) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = b.left;
        try_pair(l.prev, b.left);
        try_pair(b.left, l.next);
    }

    for (int i = 0; i >= 0 && !syms.empty(); i = syms[static_cast<size_t>(i)].next) {
        const std::string_view t = text(i);
        const int32_t id = find_token(t);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        // No token for the merged text: fall back to single bytes, skipping any the vocabulary
        // lacks (llama.cpp does the same).
        for (const char c : t) {
            const int32_t bid = find_token(std::string_view(&c, 1));
            if (bid >= 0) out.push_back(bid);
        }
    }
}

std::vector<int32_t> bpe_tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && bos_ >= 0) out.push_back(bos_);
    const byte_alphabet& abc = alphabet();
    std::string spelled;
    for (const fragment& fr : split_special(text, parse_special)) {
        if (fr.token >= 0) {
            out.push_back(fr.token);
            continue;
        }
        for (const std::string& word : pretokenize(fr.text, pre_.kind)) {
            spelled.clear();
            for (const char c : word) spelled += abc.spell[static_cast<uint8_t>(c)];
            encode_word(spelled, out);
        }
    }
    return out;
}

std::string bpe_tokenizer::token_to_piece(int32_t id) const {
    if (!valid(id)) return {};
    const std::string& t = texts_[static_cast<size_t>(id)];
    switch (attrs_[static_cast<size_t>(id)]) {
    case token_attr::control:
    case token_attr::unknown:
    case token_attr::user_defined:
        return t;
    case token_attr::normal: {
        const byte_alphabet& abc = alphabet();
        std::string bytes;
        for (const uint32_t cpt : utf8_to_cpts(t)) {
            const int b = cpt < abc.byte_of.size() ? abc.byte_of[cpt] : -1;
            if (b >= 0) {
                bytes += static_cast<char>(b);
            } else {
                // Not a byte-alphabet character: llama.cpp marks it rather than guessing.
                std::string utf8;
                append_utf8(utf8, cpt);
                bytes += "[UNK_BYTE_0x";
                for (const char c : utf8) {
                    static constexpr char hex[] = "0123456789abcdef";
                    bytes += hex[static_cast<uint8_t>(c) >> 4];
                    bytes += hex[static_cast<uint8_t>(c) & 15];
                }
                bytes += t + "]";
            }
        }
        return bytes;
    }
    case token_attr::byte: {  // "<0xAB>" byte tokens (rare in byte-level vocabularies)
        const int b = byte_token_value(t);
        return b < 0 ? std::string() : std::string(1, static_cast<char>(b));
    }
    case token_attr::unused:
        break;
    }
    return {};
}

} // namespace rl
