// vocab_base: what the BPE and SentencePiece tokenizers share: the token table read from GGUF
// metadata (texts, types, scores), the special ids, end-of-generation detection, and the split
// of input text around special tokens before the model-specific encoder runs.
#pragma once
#include "tokenizer/tokenizer.h"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rl {

/// Hash for string-keyed maps that can be probed with a string_view without allocating.
struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

/// The byte a "<0xAB>" byte-fallback token stands for, or -1 if the text isn't one.
inline int byte_token_value(std::string_view t) {
    if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
    const auto hex = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    const int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class vocab_tokenizer : public tokenizer {
public:
    int vocab_size() const override { return static_cast<int>(texts_.size()); }
    int32_t bos_id() const override { return bos_; }
    int32_t eos_id() const override { return eos_; }
    bool add_bos_default() const override { return add_bos_; }
    bool is_end_of_generation(int32_t id) const override;
    token_attr attr(int32_t id) const override;
    int32_t find_token(std::string_view text) const override;

protected:
    /// A piece of input: either a special token (token >= 0) or text to encode normally.
    struct fragment {
        int32_t token = -1;
        std::string_view text;
    };

    struct special_defaults {
        int32_t bos = -1, eos = -1, unk = -1;
        bool add_bos = false;  // when tokenizer.ggml.add_bos_token is absent
    };
    /// Reads tokenizer.ggml.{tokens,token_type,scores,*_token_id,add_bos_token}.
    void load_vocab(const gguf_file& f, const special_defaults& d);
    /// Splits text around special tokens, longest token text first, as llama.cpp does.
    /// Control and unknown tokens only count with parse_special; user-defined ones always do.
    std::vector<fragment> split_special(std::string_view text, bool parse_special) const;
    bool valid(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < texts_.size(); }

    std::vector<std::string> texts_;
    std::vector<token_attr> attrs_;
    std::vector<float> scores_;
    string_map<int32_t> ids_;        // text -> id; a duplicated text maps to its last id
    std::vector<int32_t> specials_;  // control / user-defined / unknown ids, longest text first
    std::vector<bool> eog_;
    std::vector<bool> rstrip_;       // whitespace after the token is dropped (llama.cpp's RSTRIP)
    int32_t bos_ = -1, eos_ = -1, unk_ = -1;
    bool add_bos_ = false;
};

} // namespace rl
