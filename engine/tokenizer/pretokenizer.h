// pretokenizer: splits text into the words byte-level BPE merges within, following the
// regexes llama.cpp uses for each tokenizer.ggml.pre value, written out by hand (std::regex
// has no \p{L}). Also the lenient UTF-8 helpers the tokenizers share.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rl {

enum class pretokenizer_kind {
    fallback,  // llama.cpp's fallback chain (punctuation runs, gpt2, digit triples)
    gpt2,     // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    llama3,   // (?i:'s|..)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    qwen2,    // llama3 with \p{N} (one digit per word)
    qwen35,   // qwen2 with \p{M} counted with the letters
    smollm,   // every \p{N} isolated, then gpt2
};

/// Maps tokenizer.ggml.pre to a splitter. Also reports whether llama.cpp sets ignore_merges
/// (whole-word vocabulary hits skip merging) and clean_spaces (decode tidies " ," etc.).
struct pretokenizer_info {
    pretokenizer_kind kind = pretokenizer_kind::fallback;
    bool ignore_merges = false;
    bool clean_spaces = true;
    bool add_bos = false;  // llama.cpp's default for tokenizer.ggml.add_bos_token
};
/// Throws engine_error "unsupported tokenizer pre-tokenizer 'name'" for names it doesn't know.
pretokenizer_info pretokenizer_from_name(const std::string& name);

/// Splits UTF-8 text into words (UTF-8). Invalid bytes become U+FFFD first, as in llama.cpp.
std::vector<std::string> pretokenize(std::string_view text, pretokenizer_kind kind);

// --- UTF-8 helpers ---
/// Length of the sequence a lead byte announces (1 for stray continuation bytes), as llama.cpp.
inline size_t utf8_len(uint8_t lead) {
    static constexpr uint8_t k_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return k_len[lead >> 4];
}
/// Decodes leniently: each byte that doesn't start a well-formed sequence becomes U+FFFD.
std::vector<uint32_t> utf8_to_cpts(std::string_view s);
void append_utf8(std::string& out, uint32_t cpt);

} // namespace rl
